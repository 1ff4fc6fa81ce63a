"""Find the transcripts under the conversations folder.

Every ``*.jsonl`` below the folder counts, at any depth: session files,
root-level ``agent-*.jsonl`` (Claude Code 2.0.x) and
``<session>/subagents/agent-*.jsonl`` (2.1.x).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from pathlib import Path

__all__ = ["HEAD_BYTES", "TAIL_BYTES", "FileIdentity", "SourceFile", "digest", "read_span", "scan"]

#: Bytes at the start of a file whose hash identifies it (fewer while it is shorter).
HEAD_BYTES = 4096
#: Bytes just before a saved offset whose hash proves the offset still holds.
TAIL_BYTES = 1024

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class SourceFile:
    """A transcript as seen by one scan."""

    #: Path relative to the conversations folder, ``/``-separated.
    rel_path: str
    path: Path
    #: Size in bytes.
    size: int
    device: int
    inode: int
    mtime_ns: int


@dataclasses.dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a transcript is, and proof of its content up to an offset.

    Device and inode name the file (the OS reuses them, so they are not
    enough); the hash of its first ``head_len`` bytes (up to
    :data:`HEAD_BYTES`) tells a rewritten file apart; the hash of the
    ``tail_len`` bytes just before the offset proves that what the offset
    counts is still there. One value, carried by the intake's cursor, the
    marks, and the checkpoint alike.
    """

    device: int
    inode: int
    head_len: int = 0
    head_hash: str = ""
    tail_len: int = 0
    tail_hash: str = ""


def scan(root: Path) -> list[SourceFile]:
    """All transcripts below ``root``, sorted by relative path.

    A file that vanishes or cannot be stat'ed during the scan is left out
    (logged at DEBUG); the next scan sees it again if it is back.
    """
    found: list[SourceFile] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            logger.debug("cannot list %s: %s", folder, e)
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".jsonl") and entry.is_file():
                    st = entry.stat()
                    path = Path(entry.path)
                    found.append(
                        SourceFile(
                            rel_path=path.relative_to(root).as_posix(),
                            path=path,
                            size=st.st_size,
                            device=st.st_dev,
                            inode=st.st_ino,
                            mtime_ns=st.st_mtime_ns,
                        )
                    )
            except OSError as e:
                logger.debug("cannot stat %s: %s", entry.path, e)
    found.sort(key=lambda f: f.rel_path)
    return found


def digest(data: bytes) -> str:
    """A short content hash (hex) for identity checks."""
    return hashlib.sha256(data).hexdigest()[:32]


def read_span(path: Path, start: int, length: int) -> bytes:
    """Up to ``length`` bytes of ``path`` from ``start``. Raises OSError."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, start)
    finally:
        os.close(fd)
