"""Bring a shard's files into the page cache, in the background, so searches do not wait on disk.

The store keeps everything memory-mapped and "cold" (:mod:`.layout`): the
engine reads a page from disk the first time a search touches it, one page at
a time (no read-ahead), and drops a segment's pages from the cache after an
index build rewrites it. A search at a million points touches a few thousand
pages of payload index, payload, graph and vectors: measured once on this
machine with the page cache emptied first, hybrid search with context had a
p95 of 255 ms, against 54 ms once the files were read (``benchmarks/scale.py``
measures the latter; docs/scale.md).

So after the shard is opened, and after each index build, a daemon thread
reads each segment's files once, sequentially, in large reads (3-5 s for the
3.4 GB of a million points; the read releases the GIL). The pages land in
the page cache, which the kernel reclaims under pressure: this costs no
anonymous memory and is no bound on anything, only a head start. The sparse
vectors' own storage is left out: searches read the BM25 postings, not it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from streaming_importer.store.base import SPARSE

__all__ = ["Warmer"]

logger = logging.getLogger(__name__)

#: Bytes read at a time (one buffer, reused).
_READ_BYTES = 1 << 20
#: A segment's folders in the order searches need them most per byte:
#: filters, then payload, then the dense graph and vectors, then BM25 postings.
_ORDER = ("payload_index", "id_tracker", "payload_storage", "vector_index-", "vector_storage-")
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
        #: Bytes read so far (tests, benchmarks).
        self.read_bytes = 0

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
            for segment in self._unread():
                if not self._read_segment(segment, buffer):
                    break
                self._warmed.add(segment.name)
            with self._lock:
                done = not self._again or self._stop.is_set()
                self._again = False
                self._running = not done

    def _unread(self) -> list[Path]:
        try:
            return [s for s in self._segments.iterdir() if s.name not in self._warmed]
        except FileNotFoundError:
            return []

    def _read_segment(self, segment: Path, buffer: memoryview) -> bool:
        """Read one segment's files through ``buffer``; False if stopped or reading failed."""
        for path in _files(segment):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # a build merged the segment away meanwhile
            except OSError as e:
                return self._failed(path, e)
            try:
                for start, end in _data(fd):
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


def _data(fd: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of the file ``fd`` holding data (files are preallocated: holes skipped)."""
    position = 0
    while True:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # no data past position
                return
            raise
        position = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, position


def _files(segment: Path) -> list[Path]:
    """The files of ``segment`` worth reading, their folders in :data:`_ORDER`."""
    try:
        tops = sorted(segment.iterdir(), key=_rank)
        return [p for top in tops if top.name not in _SKIP for p in _under(top)]
    except FileNotFoundError:
        return []  # a build merged the segment away meanwhile


def _rank(top: Path) -> int:
    return next((i for i, prefix in enumerate(_ORDER) if top.name.startswith(prefix)), len(_ORDER))


def _under(top: Path) -> list[Path]:
    return [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
