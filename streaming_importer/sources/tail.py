"""Read complete lines of a growing file from a byte offset.

A file that is one document rewritten in place is read whole instead
(:func:`read_document`), up to a size limit.

Only bytes after the offset are read, in blocks. A last line without its
newline is held back: Claude Code may be writing it, and it is read again,
whole, once its newline arrives. A line longer than ``max_line_bytes`` is
skipped as it streams past (never held whole) and reported as overlong, so one
huge line neither exhausts memory nor stalls the lines after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

__all__ = ["Line", "read_document", "read_line_blocks"]


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    """One complete line. Offsets are bytes from the start of the file."""

    #: The line without its newline; empty for an overlong line.
    data: bytes
    start: int
    #: Offset just after the newline: where the next line starts.
    end: int
    overlong: bool = False
    #: The whole file (read whole, not a line of it): no newline ends it.
    whole: bool = False


async def read_line_blocks(
    path: Path, offset: int, *, block_bytes: int, max_line_bytes: int
) -> AsyncIterator[list[Line]]:
    """Yield the complete lines after ``offset``, a list per block read.

    Stops at end of file. The caller resumes later from the ``end`` of the
    last line it handled.
    """
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(offset)
        pending = bytearray()  # bytes of the line being assembled
        line_start = offset
        pos = offset  # file offset of the next byte to read
        skipping = False  # inside an overlong line: drop bytes until its newline
        while True:
            block = await f.read(block_bytes)
            if not block:
                return
            lines: list[Line] = []
            cut = 0
            while True:
                nl = block.find(b"\n", cut)
                if nl < 0:
                    break
                end = pos + nl + 1
                if skipping:
                    lines.append(Line(b"", line_start, end, overlong=True))
                    skipping = False
                else:
                    pending += block[cut:nl]
                    if len(pending) > max_line_bytes:
                        lines.append(Line(b"", line_start, end, overlong=True))
                    else:
                        lines.append(Line(bytes(pending), line_start, end))
                pending.clear()
                line_start = end
                cut = nl + 1
            if not skipping:
                pending += block[cut:]
                if len(pending) > max_line_bytes:
                    skipping = True
                    pending.clear()
            pos += len(block)
            if lines:
                yield lines


async def read_document(path: Path, offset: int, *, max_bytes: int) -> AsyncIterator[list[Line]]:
    """Yield the whole file as one :class:`Line` (``whole``), if there is more than ``offset``.

    A file larger than ``max_bytes`` is not read: its line is ``overlong``.
    """
    async with await anyio.open_file(path, "rb") as f:
        data = await f.read(max_bytes + 1)
        if len(data) > max_bytes:
            size = (await anyio.Path(path).stat()).st_size
            yield [Line(b"", 0, max(size, len(data)), overlong=True, whole=True)]
        elif len(data) > offset:
            yield [Line(data, 0, len(data), whole=True)]
