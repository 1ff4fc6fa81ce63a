"""Which transcripts need reading, and which changed identity since last time.

The intake keeps a :class:`Cursor` per transcript: how far it has read, and
what the file looked like there. A file's identity is its device and inode
plus two content hashes: of its first bytes (up to
:data:`~streaming_importer.sources.files.HEAD_BYTES`, growing with the file while
it is shorter) and of the bytes just before the cursor's offset. From one
scan, :func:`plan` derives what happened to each file:

- grown: read from the offset;
- renamed or moved inside the tree (same inode and head, old path gone): the
  cursor follows it, nothing is re-read;
- truncated (size below the offset) or replaced (another inode, or other
  bytes where the old ones were): read from byte 0 after the old content's
  points are deleted;
- deleted: the cursor is dropped (its points stay unless configured).

A file read whole (a Gemini CLI chat, rewritten in place) is never read from
an offset: any change to it is a replacement, and its points are replaced.

Reading a few KB per changed file is the only I/O (run in a worker thread).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

from streaming_importer.sources.files import FileIdentity, SourceFile, digest, read_span
from streaming_importer.sources.messages import FileContext, file_context_for
from streaming_importer.state.checkpoint import FileState

__all__ = ["Control", "Cursor", "Plan", "plan"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Cursor:
    """The intake's view of one transcript."""

    offset: int
    context: FileContext
    #: The file and its content as of ``offset``.
    identity: FileIdentity
    #: Size and mtime when last looked at; a change triggers an identity check.
    size: int = -1
    mtime_ns: int = -1
    #: Size at which a read last reached the end: bytes beyond the offset up
    #: to it are an incomplete last line, not worth reading again.
    eof_size: int = -1

    @classmethod
    def new(cls, f: SourceFile, context: FileContext | None = None) -> Cursor:
        """A cursor at the start of ``f``, whose context is ``context`` (default: from its path)."""
        return cls(
            offset=0,
            context=context or file_context_for(f.rel_path),
            identity=FileIdentity(f.device, f.inode),
        )

    @classmethod
    def from_state(cls, state: FileState) -> Cursor:
        return cls(
            offset=state.offset,
            context=FileContext.from_json(state.context),
            identity=state.identity,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Control:
    """A change to a transcript's identity, applied by the store stage in order."""

    action: Literal["reset", "move", "forget"]
    rel_path: str
    #: For ``move``: where the transcript is now.
    new_path: str | None = None
    #: For ``forget``: delete its points too.
    delete_points: bool = False


@dataclasses.dataclass(slots=True)
class Plan:
    """What one scan asks for: identity changes first, then files to read."""

    controls: list[Control]
    to_read: list[SourceFile]
    #: Files that could not be examined now (vanished or unreadable).
    unreadable: list[tuple[str, OSError]]


def plan(files: list[SourceFile], cursors: dict[str, Cursor], delete_removed: bool) -> Plan:
    """Compare a scan with the cursors; updates ``cursors`` to match."""
    result = Plan([], [], [])
    present = {f.rel_path: f for f in files}
    vanished = {rel: c for rel, c in cursors.items() if rel not in present}
    for f in files:
        if f.rel_path in cursors or not vanished:
            continue
        for old, c in vanished.items():
            if (c.identity.device, c.identity.inode) == (f.device, f.inode) and _head_matches(f, c):
                logger.info("%s moved to %s", old, f.rel_path)
                result.controls.append(Control("move", old, new_path=f.rel_path))
                c.context = dataclasses.replace(c.context, rel_path=f.rel_path)
                cursors[f.rel_path] = cursors.pop(old)
                del vanished[old]
                break
    for old in vanished:
        logger.info("%s was deleted", old)
        result.controls.append(Control("forget", old, delete_points=delete_removed))
        del cursors[old]

    for f in files:
        cur = cursors.get(f.rel_path)
        if cur is None:
            result.to_read.append(f)
            continue
        if (cur.size, cur.mtime_ns) != (f.size, f.mtime_ns):
            try:
                same, why = _still_same(f, cur)
            except OSError as e:
                result.unreadable.append((f.rel_path, e))
                continue
            if f.whole and same and (cur.size != -1 or f.size != cur.offset):
                # A document rewritten in place: any change since it was read
                # (seen live, or a new size after a restart) means reading it whole.
                same, why = False, "changed"
            if not same:
                log = logger.info if f.whole else logger.warning
                log("%s %s: importing it again from the start", f.rel_path, why)
                result.controls.append(Control("reset", f.rel_path))
                del cursors[f.rel_path]
                result.to_read.append(f)
                continue
            cur.size, cur.mtime_ns = f.size, f.mtime_ns
        if f.size > cur.offset and f.size != cur.eof_size:
            result.to_read.append(f)
    return result


def _head_matches(f: SourceFile, c: Cursor) -> bool:
    ident = c.identity
    if ident.head_len == 0:
        return f.size == 0
    try:
        return digest(read_span(f.path, 0, ident.head_len)) == ident.head_hash
    except OSError:
        return False


def _still_same(f: SourceFile, c: Cursor) -> tuple[bool, str]:
    ident = c.identity
    if (ident.device, ident.inode) != (f.device, f.inode):
        return False, "was replaced by another file"
    if f.size < c.offset:
        return False, f"was truncated (size {f.size} below offset {c.offset})"
    if ident.head_len and digest(read_span(f.path, 0, ident.head_len)) != ident.head_hash:
        return False, "was rewritten (its first bytes changed)"
    if ident.tail_len:
        tail = read_span(f.path, c.offset - ident.tail_len, ident.tail_len)
        if digest(tail) != ident.tail_hash:
            return False, "was rewritten (the bytes before the saved offset changed)"
    return True, ""
