"""Every transcript imported, kept compressed in the state folder. Blocking I/O.

Claude Code deletes transcripts older than ``cleanupPeriodDays``; the views
(``expand``, the page, export) and ``reindex`` read the transcript itself. So
as the intake reads a file, its bytes are kept as ``$STATE_DIR/archive/<rel
path>.gz`` (0600): gzip members ("frames"), one per slice read, at most
:data:`FRAME_BYTES` of the transcript each, so ``zcat`` gives the transcript
back. Each frame's gzip header carries, in an extra field, where its bytes
start in the transcript, how many there are and the frame's own length, and
in its comment the transcript's context after them (session, project,
agent): the archive lists its sessions after the source and its checkpoint
entry are gone.

A write is idempotent by offset: bytes already kept are skipped (a restart
reads again from the checkpoint, which trails the archive); a gap is filled
from the source first; a read from byte 0 starts the file's archive anew (a
new or replaced transcript). A frame a crash cut short is dropped at the
next write and never read. A document read whole (a Gemini chat) is one
frame, replaced atomically.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from streaming_importer.sources.files import Source, SourceFile, locate, read_span, scan_all
from streaming_importer.sources.messages import FileContext
from streaming_importer.state.frames import (
    FRAME_BYTES,
    HEADER_READ,
    ArchiveError,
    Frame,
    Reader,
    frame,
    frames_of,
    inflate,
    parse_header,
    write,
)
from streaming_importer.state.privacy import Tombstones

__all__ = ["Archive", "ArchiveError", "Kept"]

_SUFFIX = ".gz"


@dataclasses.dataclass(frozen=True, slots=True)
class Kept:
    """What the archive holds of one transcript."""

    rel_path: str
    #: Transcript bytes kept (from byte 0).
    end: int
    #: Bytes the archive file takes on disk.
    stored: int
    #: Last write, Unix seconds.
    mtime: float
    #: The transcript's context after its last kept byte (``FileContext`` JSON).
    context: dict[str, Any]


class Archive:
    """The archive folder, or nothing at all when ``root`` is None (``ARCHIVE=off``)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        #: rel_path -> (size, mtime_ns, frames, end of the last whole frame).
        self._index: dict[str, tuple[int, int, list[Frame], int]] = {}

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def path_for(self, rel_path: str) -> Path:
        """The archive file of the transcript ``rel_path``; ValueError outside the folder."""
        if self.root is None:
            raise ValueError("the archive is off (ARCHIVE=off)")
        path = self.root / (rel_path + _SUFFIX)
        if ".." in Path(rel_path).parts or Path(rel_path).is_absolute():
            raise ValueError(f"{rel_path!r} is not a transcript's relative path")
        return path

    def end(self, rel_path: str) -> int:
        """Transcript bytes kept of ``rel_path`` (0 for none, or with the archive off)."""
        if self.root is None:
            return 0
        frames = self._frames(rel_path)[0]
        return frames[-1].end if frames else 0

    def keep(
        self,
        rel_path: str,
        source: Path,
        start: int,
        end: int,
        context: dict[str, Any],
        *,
        whole: bool = False,
    ) -> None:
        """Keep bytes ``start`` to ``end`` of ``source``, read from it (see the module)."""
        if self.root is None:
            return
        path = self.path_for(rel_path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if whole:
            member = frame(0, read_span(source, 0, end), context)
            tmp = path.with_name(f".{path.name}.tmp")
            write(tmp, [member], os.O_TRUNC)
            os.replace(tmp, path)
            self._index.pop(rel_path, None)
            return
        if start == 0:  # a new or replaced transcript: kept anew
            begin, flags = 0, os.O_TRUNC
        else:  # from what is kept: bytes already there skipped, a gap filled
            frames, valid = self._frames(rel_path)
            begin, flags = (frames[-1].end if frames else 0), os.O_APPEND
            if path.exists() and valid < path.stat().st_size:
                os.truncate(path, valid)  # a frame a crash cut short
        if begin < end or flags == os.O_TRUNC:
            write(path, frames_of(source, begin, end, context), flags)
        if flags == os.O_TRUNC:
            self._index.pop(rel_path, None)  # appended, the index is read on from where it was

    def open(self, rel_path: str) -> io.BufferedReader:
        """The kept transcript as a seekable binary file; FileNotFoundError if none is kept."""
        frames = self._frames(rel_path)[0] if self.root is not None else []
        if not frames:
            raise FileNotFoundError(f"{rel_path!r} is not in the archive")
        return io.BufferedReader(Reader(self.path_for(rel_path), frames), FRAME_BYTES)

    def names(self) -> Iterator[str]:
        """The relative paths of the transcripts kept (nothing read but the folder)."""
        if self.root is None or not self.root.is_dir():
            return
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if name.endswith(_SUFFIX) and not name.startswith("."):
                    yield Path(folder, name).relative_to(self.root).as_posix()[: -len(_SUFFIX)]

    def kept(self, besides: Collection[str] = ()) -> Iterator[Kept]:
        """Every transcript kept, in no particular order (each one's frames read).

        ``besides``: leave these out unread (those the checkpoint still knows, say).
        """
        for rel_path in [name for name in self.names() if name not in besides]:
            try:
                kept = self.get(rel_path)
            except OSError:
                continue  # removed meanwhile
            if kept is not None:
                yield kept

    def get(self, rel_path: str) -> Kept | None:
        """What is kept of ``rel_path``, or None."""
        if self.root is None:
            return None
        try:
            st = self.path_for(rel_path).stat()
        except OSError:
            return None
        frames = self._frames(rel_path)[0]
        if not frames:
            return None
        return Kept(rel_path, frames[-1].end, st.st_size, st.st_mtime, frames[-1].context)

    def remove(self, rel_path: str) -> bool:
        """Delete what is kept of ``rel_path``; whether there was anything."""
        self._index.pop(rel_path, None)
        try:
            self.path_for(rel_path).unlink()
        except (FileNotFoundError, ValueError):
            return False
        return True

    def move(self, rel_path: str, new_path: str) -> None:
        """What is kept of ``rel_path`` now belongs to ``new_path`` (the transcript moved)."""
        if self.root is None:
            return
        target = self.path_for(new_path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._index.pop(rel_path, None)
        self._index.pop(new_path, None)
        source = self.path_for(rel_path)
        if target.exists():
            # The intake read the moved file before the move reached the ledger,
            # and kept it there already, whole: the old name's copy is the stale one.
            source.unlink(missing_ok=True)
            return
        try:
            os.replace(source, target)
        except FileNotFoundError:
            pass  # nothing kept of it

    def remove_forgotten(self, tombstones: Tombstones) -> int:
        """Delete every transcript of a forgotten session or project; how many."""
        return sum(
            self.remove(k.rel_path)
            for k in list(self.kept())
            if tombstones.cover(str(k.context.get("session_id")), k.context.get("project"))
        )

    def restore(self, rel_path: str, dest: Path) -> None:
        """Write the kept transcript to ``dest`` (0600), a frame at a time."""
        dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        frames = self._frames(rel_path)[0]
        with self.path_for(rel_path).open("rb") as f:
            write(dest, (inflate(f, kept, rel_path) for kept in frames), os.O_TRUNC)

    def restore_missing(self, sources: Sequence[Source], folder: Path) -> list[SourceFile]:
        """The kept transcripts no source folder has any more, written below ``folder``.

        For ``reindex``: they are read like the agent's own files, under the
        same relative paths (so the same point ids), and never kept again.
        """
        present = {f.rel_path for f in scan_all(sources)}
        restored = []
        for kept in self.kept():
            found = locate(sources, kept.rel_path)
            if kept.rel_path in present or found is None:
                continue
            dest = folder / kept.rel_path
            self.restore(kept.rel_path, dest)
            st = dest.stat()
            context = FileContext.from_json(kept.context)
            restored.append(
                SourceFile(
                    kept.rel_path,
                    dest,
                    st.st_size,
                    st.st_dev,
                    st.st_ino,
                    st.st_mtime_ns,
                    context.agent,
                    whole=found[1],
                    archived=True,
                )
            )
        return restored

    def sizes(self) -> dict[str, int]:
        """Bytes on disk of each transcript kept, from the folder alone."""
        sizes = {}
        for rel_path in self.names():
            try:
                sizes[rel_path] = self.path_for(rel_path).stat().st_size
            except OSError:
                continue  # removed meanwhile
        return sizes

    def verify(self, rel_path: str) -> None:
        """Read every frame back: ArchiveError if one is damaged or bytes are missing."""
        frames, valid = self._frames(rel_path)
        path = self.path_for(rel_path)
        if valid < path.stat().st_size:
            raise ArchiveError(f"{rel_path}: a frame at byte {valid} is cut short")
        expected = 0
        with path.open("rb") as f:
            for kept in frames:
                if kept.start != expected:
                    raise ArchiveError(f"{rel_path}: bytes {expected} to {kept.start} missing")
                inflate(f, kept, rel_path)
                expected = kept.end

    def _frames(self, rel_path: str) -> tuple[list[Frame], int]:
        """The whole frames of ``rel_path``'s archive and where they end (cached by stat)."""
        path = self.path_for(rel_path)
        try:
            st = path.stat()
        except FileNotFoundError:
            return [], 0
        cached = self._index.get(rel_path)
        if cached is not None and cached[:2] == (st.st_size, st.st_mtime_ns):
            return cached[2], cached[3]
        frames: list[Frame] = []
        at = 0
        with path.open("rb") as f:
            if cached is not None and cached[2] and st.st_size > cached[0]:
                # Grown since: frames were appended after those read (if the last one
                # read is still where it was), so only the new ones are read.
                last = cached[2][-1]
                f.seek(last.at)
                again = parse_header(f.read(HEADER_READ), last.at)
                if again is not None and (again.start, again.size) == (last.start, last.size):
                    frames, at = list(cached[2]), cached[3]
            while at < st.st_size:
                f.seek(at)
                found = parse_header(f.read(HEADER_READ), at)
                if found is None or at + found.size > st.st_size:
                    break  # cut short by a crash: the next write drops it
                frames.append(found)
                at += found.size
        self._index[rel_path] = (st.st_size, st.st_mtime_ns, frames, at)
        return frames, at
