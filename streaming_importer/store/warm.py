"""Read a shard's files and map them into this process, so searches do not wait on faults.

The store keeps everything memory-mapped and "cold" (:mod:`.layout`): the
engine marks its mappings for random access (no read-ahead), and drops its
files from the page cache when it closes a shard (measured: closing the
400,000-point store of ``benchmarks/scale.py`` freed 2 GB of page cache), so
every open starts cold. A search then takes a page fault for each page it
first touches (a disk read if not cached), and in a virtual machine even a
fault on a cached page is costly: at 400,000 points the first hybrid searches
after opening took p50 200 / p95 400 ms against 100 / 125 ms once the files
were mapped (docs/scale.md).

So at open, what of the files is already cached is mapped at once
(:func:`~.mapped.populate_resident`, no disk read); then a daemon thread reads
each kind of file once, sequentially, in 1 MiB reads (releasing the GIL), and
maps it (:func:`~.mapped.populate`), in the order a search needs them: the
BM25 postings, the dense graph and vectors, the id map, the payload indexes,
the payload. The sparse vectors' own storage is left out: searches read the
postings, not it. :attr:`Warmer.ready` is set when the first pass is done (or
at open if everything was cached): the store's first search waits for it, a
little (``WARM_WAIT_S``). After each index build the new segments are read
and mapped too. Pages read are page cache, which the kernel takes back under
pressure: no anonymous memory, no bound on anything, only a head start.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from streaming_importer.store.base import SPARSE
from streaming_importer.store.mapped import data_ranges, populate, populate_resident

__all__ = ["Warmer"]

logger = logging.getLogger(__name__)

#: Bytes read at a time (one buffer, reused).
_READ_BYTES = 1 << 20
#: The segments' files in the order a fresh hybrid search needs them: the
#: BM25 postings, the dense graph and vectors (a dense search touches some
#: 18 MB of vectors at 400,000 points), the id map, the payload indexes
#: (filters, each hit's context), the payload.
_ORDER = (
    f"vector_index-{SPARSE}",
    "vector_index-",
    "vector_storage-",
    "id_tracker",
    "payload_index",
    "payload_storage",
)
#: Not read: what no search touches.
_SKIP = (f"vector_storage-{SPARSE}",)


class Warmer:
    """Reads the segments of the shard at ``shard_path`` into the page cache, each once."""

    def __init__(self, shard_path: Path) -> None:
        self._segments = shard_path / "segments"
        self._warmed: set[str] = set()
        self._lock = threading.Lock()
        self._again = False
        self._running = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: Bytes read so far, and mapped into this process (tests, benchmarks).
        self.read_bytes = 0
        self.mapped_bytes = 0
        #: Set once the files a search needs are mapped (or will not be): after the
        #: first pass, or at once if they were all cached already.
        self.ready = threading.Event()

    def map_resident(self) -> None:
        """Map what of the segments' files is already cached (blocking, no disk read).

        If that is all of them, searches need not wait (:attr:`ready` is set).
        """
        kinds = _kinds(self._segments_now())
        mapped, missing = populate_resident({str(p.resolve()) for _, kind in kinds for p in kind})
        self.mapped_bytes += mapped
        logger.debug(
            "store files mapped at open: %d MiB, %d MiB not cached", mapped >> 20, missing >> 20
        )
        if not missing:
            self.ready.set()

    def start(self) -> None:
        """Read segments not read yet, in a daemon thread (one at a time; returns at once)."""
        with self._lock:
            if self._running:
                self._again = True  # the running pass looks again when done
                return
            self._running = True
            self._thread = threading.Thread(target=self._run, name="store-warm", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop reading (at the next buffer) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def wait(self) -> None:
        """Wait until every segment seen so far was read (tests, benchmarks)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        buffer = memoryview(bytearray(_READ_BYTES))
        done = False
        while not done:
            segments = self._unread()
            if self._warm(segments, buffer):
                self._warmed.update(s.name for s in segments)
            with self._lock:
                done = not self._again or self._stop.is_set()
                self._again = False
                self._running = not done

    def _warm(self, segments: list[Path], buffer: memoryview) -> bool:
        """Read, then map, each kind of the segments' files in turn; False if stopped or failed."""
        try:
            for _, files in _kinds(segments):
                if not self._read_files(files, buffer):
                    return False
                self.mapped_bytes += populate({str(p.resolve()) for p in files}, self._stop.is_set)
            return not self._stop.is_set()
        finally:
            self.ready.set()  # done, stopped or failed: nobody waits for more

    def _segments_now(self) -> list[Path]:
        try:
            return list(self._segments.iterdir())
        except FileNotFoundError:
            return []

    def _unread(self) -> list[Path]:
        return [s for s in self._segments_now() if s.name not in self._warmed]

    def _read_files(self, files: list[Path], buffer: memoryview) -> bool:
        """Read ``files`` through ``buffer``; False if stopped or reading failed."""
        for path in files:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # a build merged the segment away meanwhile
            except OSError as e:
                return self._failed(path, e)
            try:
                for start, end in data_ranges(fd):
                    while start < end:
                        if self._stop.is_set():
                            return False
                        n = os.preadv(fd, [buffer[: end - start]], start)
                        if not n:
                            break
                        start += n
                        self.read_bytes += n
            except OSError as e:
                return self._failed(path, e)
            finally:
                os.close(fd)
        return True

    def _failed(self, path: Path, e: OSError) -> bool:
        # Only a head start: the engine reads the file itself and reports a
        # real failure as the store's error.
        logger.warning("not warming the store's files: cannot read %s: %s", path, e)
        return False


def _kinds(segments: list[Path]) -> list[tuple[int, list[Path]]]:
    """The files of ``segments`` worth reading, grouped by kind: (rank in :data:`_ORDER`, files)."""
    tops: list[Path] = []
    for segment in segments:
        try:
            tops.extend(t for t in segment.iterdir() if t.name not in _SKIP)
        except FileNotFoundError:
            continue  # a build merged the segment away meanwhile
    kinds: dict[int, list[Path]] = {}
    for top in tops:
        kinds.setdefault(_rank(top), []).extend(_under(top))
    return [(rank, kinds[rank]) for rank in sorted(kinds)]


def _rank(top: Path) -> int:
    return next((i for i, prefix in enumerate(_ORDER) if top.name.startswith(prefix)), len(_ORDER))


def _under(top: Path) -> list[Path]:
    return [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
