"""The archive's file format: gzip members that say where their bytes belong. Blocking I/O.

A frame is one gzip member (RFC 1952) holding at most
:data:`FRAME_BYTES` of a transcript. Its header's extra field (id ``SI``)
holds where those bytes start in the transcript, how many there are and the
member's own length, so frames are found without inflating them; its comment
holds the transcript's context after them, as ASCII JSON. Any gzip reader
(``zcat``) ignores both and gives the transcript's bytes.
"""

from __future__ import annotations

import bisect
import dataclasses
import io
import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from streaming_importer.sources.files import read_span

__all__ = [
    "FRAME_BYTES",
    "HEADER_READ",
    "ArchiveError",
    "Frame",
    "Reader",
    "frame",
    "frames_of",
    "inflate",
    "parse_header",
    "write",
]

#: Transcript bytes per frame at most (what a write or a read holds in memory).
FRAME_BYTES = 4 << 20
#: Bytes of a frame's header read to parse it (the comment is a context: small).
HEADER_READ = 64 << 10
_EXTRA_ID = b"SI"
#: Transcript offset, transcript bytes, the frame's own length in bytes.
_EXTRA = struct.Struct("<QQI")
_FEXTRA, _FCOMMENT = 0x04, 0x10


class ArchiveError(Exception):
    """An archive that cannot be read as written: a frame damaged or missing."""


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """One gzip member: transcript bytes ``start`` to ``start + length``."""

    start: int
    length: int
    #: Where the member starts in the archive file, and its length, in bytes.
    at: int
    size: int
    context: dict[str, Any]

    @property
    def end(self) -> int:
        return self.start + self.length


def frames_of(source: Path, start: int, end: int, context: dict[str, Any]) -> Iterator[bytes]:
    for at in range(start, end, FRAME_BYTES):
        data = read_span(source, at, min(FRAME_BYTES, end - at))
        if not data:
            return
        yield frame(at, data, context)


def write(path: Path, frames: Iterable[bytes], flags: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    try:
        for member in frames:
            view = memoryview(member)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def frame(start: int, data: bytes, context: dict[str, Any]) -> bytes:
    """One gzip member holding ``data`` (transcript bytes from ``start``)."""
    comment = json.dumps(context, separators=(",", ":"), ensure_ascii=True).encode() + b"\0"
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    extra_len = 4 + _EXTRA.size
    size = 12 + extra_len + len(comment) + len(body) + 8
    header = b"\x1f\x8b\x08" + bytes([_FEXTRA | _FCOMMENT]) + b"\0\0\0\0\0\xff"
    extra = _EXTRA_ID + struct.pack("<H", _EXTRA.size) + _EXTRA.pack(start, len(data), size)
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + struct.pack("<H", extra_len) + extra + comment + body + trailer


def parse_header(head: bytes, at: int) -> Frame | None:
    """A frame's header at archive offset ``at``; None if it is not one of ours, or cut."""
    if len(head) < 12 or head[:3] != b"\x1f\x8b\x08" or head[3] != _FEXTRA | _FCOMMENT:
        return None
    (extra_len,) = struct.unpack_from("<H", head, 10)
    extra = head[12 : 12 + extra_len]
    if len(extra) < 4 + _EXTRA.size or extra[:2] != _EXTRA_ID:
        return None
    start, length, size = _EXTRA.unpack_from(extra, 4)
    comment_end = head.find(b"\0", 12 + extra_len)
    if comment_end < 0:
        return None
    try:
        context = json.loads(head[12 + extra_len : comment_end])
    except ValueError:
        return None
    return Frame(start, length, at, size, context if isinstance(context, dict) else {})


def inflate(f: BinaryIO, frame: Frame, name: str) -> bytes:
    f.seek(frame.at)
    member = f.read(frame.size)
    try:
        data = zlib.decompress(member, 16 + zlib.MAX_WBITS)
    except zlib.error as e:
        raise ArchiveError(f"{name}: the frame at byte {frame.at} is damaged ({e})") from e
    if len(data) != frame.length:
        raise ArchiveError(f"{name}: the frame at byte {frame.at} holds {len(data)} bytes")
    return data


class Reader(io.RawIOBase):
    """The kept transcript's bytes, by transcript offset: one frame inflated at a time."""

    def __init__(self, path: Path, frames: list[Frame]) -> None:
        self._file = path.open("rb")
        self._frames = frames
        self._starts = [f.start for f in frames]
        self._size = frames[-1].end
        self._pos = 0
        self._frame: Frame | None = None
        self._data = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(base + offset, 0)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        i = bisect.bisect_right(self._starts, self._pos) - 1
        frame = self._frames[i]
        if frame is not self._frame:
            self._data = inflate(self._file, frame, self._file.name)
            self._frame = frame
        piece = self._data[self._pos - frame.start : self._pos - frame.start + len(buffer)]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)

    def close(self) -> None:
        self._file.close()
        super().close()
