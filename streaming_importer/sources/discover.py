"""What a transcript's surroundings say before it is parsed. Blocking I/O, bounded.

Two things cannot be read from a file's own lines:

- a Gemini CLI chat's project: its folder under ``tmp/`` is the SHA-256 of the
  project's path, or (newer versions) a readable slug; ``projects.json`` beside
  ``tmp/`` maps paths to slugs. Without a match the folder name stands for it;
- where a forked Codex session stops replaying its parent. A rollout whose
  ``session_meta`` has ``forked_from_id`` begins with copies of its parent's
  records, with no marker where the copies end. The lines at the start of the
  child whose payload is also in the parent's file are that replay: they are
  already stored with the parent, so :func:`start_context` returns the offset
  where they end (``FileContext.replay_end``) and those lines are read for
  their context but not stored again. A parent that is not on disk when the
  child is first read leaves the replay in (it is then the only copy).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from streaming_importer.sources.files import Source, SourceFile
from streaming_importer.sources.messages import FileContext, file_context_for

__all__ = ["start_context"]

logger = logging.getLogger(__name__)

#: Lines of a parent rollout remembered when finding a fork's replay.
_PARENT_MAX_LINES = 200_000
#: Bytes of ``projects.json`` read at most.
_PROJECTS_MAX_BYTES = 1 << 20


def start_context(f: SourceFile, sources: Sequence[Source], max_line_bytes: int) -> FileContext:
    """The context of ``f`` before its first line is parsed."""
    source = next((s for s in sources if s.agent == f.agent), None)
    if source is None or f.agent == "claude-code":
        return file_context_for(f.rel_path)
    if f.agent == "gemini-cli":
        folder = PurePosixPath(f.rel_path.removeprefix(source.prefix)).parts[0]
        return file_context_for(f.rel_path, project=_gemini_project(source.root, folder))
    context = file_context_for(f.rel_path)
    if f.whole:
        return context
    try:
        return dataclasses.replace(
            context, replay_end=_replay_end(f.path, source.root, max_line_bytes)
        )
    except OSError as e:
        logger.debug("cannot look for the parent of %s: %s", f.rel_path, e)
        return context


def _gemini_project(tmp: Path, folder: str) -> str:
    try:
        with (tmp.parent / "projects.json").open("rb") as file:
            data = orjson.loads(file.read(_PROJECTS_MAX_BYTES))
    except (OSError, orjson.JSONDecodeError):
        data = None
    projects = data.get("projects") if isinstance(data, dict) else None
    for path, slug in projects.items() if isinstance(projects, dict) else ():
        if slug == folder or hashlib.sha256(path.encode()).hexdigest() == folder:
            return str(path)
    return folder


def _replay_end(child: Path, root: Path, max_line_bytes: int) -> int:
    lines = _lines(child, max_line_bytes)
    first = next(lines, None)
    meta = _payload(first[1]) if first else None
    parent_id = meta.get("forked_from_id") if isinstance(meta, dict) else None
    if not isinstance(parent_id, str) or not parent_id:
        return 0
    parent = next(iter(sorted(root.rglob(f"rollout-*{parent_id}.jsonl"))), None)
    if parent is None:
        logger.info(
            "%s is forked from %s, which is not on disk: its replay is kept", child.name, parent_id
        )
        return 0
    seen: set[bytes] = set()
    for _, line in _lines(parent, max_line_bytes):
        if len(seen) >= _PARENT_MAX_LINES:
            break
        seen.add(_digest(line))
    end = 0
    for line_end, line in lines:
        if _digest(line) not in seen:
            break
        end = line_end
    return end


def _lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(offset after the line, line) for the complete lines of ``path``, overlong ones skipped."""
    offset = 0
    with path.open("rb") as file:
        for line in file:
            offset += len(line)
            if line.endswith(b"\n") and len(line) <= max_line_bytes:
                yield offset, line


def _payload(line: bytes) -> Any:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record.get("payload", record) if isinstance(record, dict) else None


def _digest(line: bytes) -> bytes:
    """A record's payload, whatever the line's own timestamp: what a replay copies."""
    payload = _payload(line)
    data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS) if payload is not None else line
    return hashlib.sha256(data).digest()[:16]
