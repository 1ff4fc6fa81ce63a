"""Find the transcripts of every agent read: Claude Code, Codex CLI, Gemini CLI.

=========  ===========================  ===========================================
source     folder scanned               files
=========  ===========================  ===========================================
claude     ``CONVERSATIONS_DIR``        every ``*.jsonl``, at any depth: sessions,
                                        ``agent-*.jsonl`` (2.0.x) and
                                        ``<session>/subagents/agent-*.jsonl`` (2.1.x)
codex      ``CODEX_HOME/sessions``      ``rollout-*.jsonl`` (tailed) and the
                                        TypeScript CLI's ``rollout-*.json`` (whole)
gemini     ``GEMINI_DIR/tmp``           ``*.json`` / ``*.jsonl`` in a ``chats``
                                        folder (read whole)
=========  ===========================  ===========================================

A file's ``rel_path`` is its path below its source's folder, ``/``-separated,
after the source's prefix (none for Claude Code, so checkpoints and points of
earlier versions keep their paths; ``codex:`` and ``gemini:`` otherwise). A
file read whole (``whole``) is one document rewritten in place, not a log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from streaming_importer.sources.messages import AGENT_PREFIXES

__all__ = [
    "AGENTS",
    "HEAD_BYTES",
    "TAIL_BYTES",
    "FileIdentity",
    "Source",
    "SourceFile",
    "digest",
    "locate",
    "read_span",
    "scan",
    "scan_all",
]

#: Bytes at the start of a file whose hash identifies it (fewer while it is shorter).
HEAD_BYTES = 4096
#: Bytes just before a saved offset whose hash proves the offset still holds.
TAIL_BYTES = 1024

logger = logging.getLogger(__name__)

#: Source name (as in ``SOURCES``) -> the agent named in payloads.
AGENTS = {"claude": "claude-code", "codex": "codex", "gemini": "gemini-cli"}
_PREFIXES = {agent: prefix for prefix, agent in AGENT_PREFIXES.items()}


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """One agent's folder of transcripts."""

    #: ``claude``, ``codex`` or ``gemini``.
    name: str
    #: The folder scanned.
    root: Path

    @property
    def agent(self) -> str:
        return AGENTS[self.name]

    @property
    def prefix(self) -> str:
        return _PREFIXES.get(self.agent, "")

    def accepts(self, rel: PurePosixPath) -> bool | None:
        """None if ``rel`` is not a transcript of this source, else whether it is read whole."""
        name = rel.name
        if self.name == "claude":
            return False if name.endswith(".jsonl") else None
        if self.name == "codex":
            if name.startswith("rollout-") and name.endswith((".jsonl", ".json")):
                return name.endswith(".json")
            return None
        if "chats" in rel.parts[:-1] and name.endswith((".json", ".jsonl")):
            return True
        return None


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
    #: The agent that wrote it (``claude-code``, ``codex``, ``gemini-cli``).
    agent: str = "claude-code"
    #: One document rewritten in place: read whole, never tailed.
    whole: bool = False
    #: Restored from the state folder's archive (``reindex``), not the agent's folder.
    archived: bool = False


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


def scan_all(sources: Sequence[Source]) -> list[SourceFile]:
    """The transcripts of every source whose folder exists, sorted by relative path."""
    found = [f for source in sources if source.root.is_dir() for f in scan(source.root, source)]
    found.sort(key=lambda f: f.rel_path)
    return found


def scan(root: Path, source: Source | None = None) -> list[SourceFile]:
    """The transcripts below ``root`` (Claude Code's unless ``source`` says), sorted.

    A file that vanishes or cannot be stat'ed during the scan is left out
    (logged at DEBUG); the next scan sees it again if it is back.
    """
    source = source or Source("claude", root)
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
                    continue
                path = Path(entry.path)
                rel = PurePosixPath(path.relative_to(root).as_posix())
                whole = source.accepts(rel)
                if whole is None or not entry.is_file():
                    continue
                st = entry.stat()
                found.append(
                    SourceFile(
                        rel_path=source.prefix + rel.as_posix(),
                        path=path,
                        size=st.st_size,
                        device=st.st_dev,
                        inode=st.st_ino,
                        mtime_ns=st.st_mtime_ns,
                        agent=source.agent,
                        whole=whole,
                    )
                )
            except OSError as e:
                logger.debug("cannot stat %s: %s", entry.path, e)
    found.sort(key=lambda f: f.rel_path)
    return found


def locate(sources: Sequence[Source], rel_path: str) -> tuple[Path, bool] | None:
    """The path of the transcript ``rel_path`` and whether it is read whole.

    None if no source read holds it: the path is resolved and must stay inside
    its source's folder, and be a transcript there.
    """
    for source in sorted(sources, key=lambda s: -len(s.prefix)):
        if source.prefix and not rel_path.startswith(source.prefix):
            continue
        root = source.root.resolve()
        path = (root / rel_path.removeprefix(source.prefix)).resolve()
        if not path.is_relative_to(root):
            return None
        whole = source.accepts(PurePosixPath(path.relative_to(root).as_posix()))
        return None if whole is None else (path, whole)
    return None


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
