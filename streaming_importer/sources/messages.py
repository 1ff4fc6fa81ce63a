"""What a transcript is made of, for every stage: messages and the context of a file.

:class:`Message` is one searchable part of one record; :class:`FileContext`
is what the lines of one transcript so far say about the lines after them
(the parser threads it through a file, the checkpoint keeps it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

__all__ = [
    "AGENT_PREFIXES",
    "FileContext",
    "Message",
    "ParseLimits",
    "ParseResult",
    "file_context_for",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ParseLimits:
    """What parsing does to texts: caps in characters, and secret redaction."""

    tool_result_max_chars: int = 2000
    tool_call_max_chars: int = 500
    #: Replace secrets by ``[REDACTED:kind]`` markers (before any cap, so a
    #: secret cut in two leaves no recognisable prefix).
    redact_secrets: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class FileContext:
    """What the lines of one transcript so far say about the lines after them.

    ``rel_path`` is the file's path relative to the conversations folder, with
    ``/`` separators. The other fields are learned from the records.
    """

    rel_path: str
    #: The session the file belongs to, from its name (``<session>.jsonl`` or
    #: ``<session>/subagents/agent-*.jsonl``) until a record names it.
    session_id: str
    #: Which agent wrote the file: ``claude-code``, ``codex`` or ``gemini-cli``.
    agent: str = "claude-code"
    #: For a subagent transcript: the session that started the agent.
    parent_session_id: str | None = None
    is_subagent: bool = False
    #: The first ``cwd`` seen in the file: the project the session ran in.
    project: str | None = None
    #: The latest git branch seen.
    git_branch: str | None = None
    #: Records with searchable text so far: the last one's place in the file
    #: (its messages' ``turn``), so neighbouring records can be told apart.
    turn: int = 0
    #: A Codex file's own ``session_meta`` was read (later ones are replayed parents').
    named: bool = False
    #: A forked Codex session: bytes at the start of the file that replay its
    #: parent's records, already stored with the parent (0: none).
    replay_end: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileContext:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One searchable part of one record."""

    kind: str
    role: str
    text: str
    #: Stable identity of the record: its ``uuid``, else a hash of the line.
    record_key: str
    #: Position of this part among the record's searchable parts.
    part: int
    session_id: str
    parent_session_id: str | None
    agent_id: str | None
    project: str | None
    cwd: str | None
    git_branch: str | None
    #: The message's own time (ISO 8601), not the import time.
    timestamp: str | None
    message_uuid: str | None
    is_sidechain: bool
    is_compact_summary: bool
    #: Secrets replaced by markers in ``text``.
    redacted: int = 0
    #: The record's place among the file's records with searchable text (from 1).
    turn: int = 0
    #: Which agent wrote it: ``claude-code``, ``codex`` or ``gemini-cli``.
    agent: str = "claude-code"


@dataclasses.dataclass(frozen=True, slots=True)
class ParseResult:
    """The messages of one line, the context for the next line, and any error."""

    messages: tuple[Message, ...]
    context: FileContext
    #: Why the line is bad input (quarantined), or None.
    error: str | None = None


#: ``rel_path`` prefix -> the agent whose file it is (none: Claude Code).
AGENT_PREFIXES = {"codex:": "codex", "gemini:": "gemini-cli"}
_UUID_END = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def file_context_for(rel_path: str, project: str | None = None) -> FileContext:
    """The context of a file before any of its lines is read.

    ``project`` is what the file's place says of its project, where only I/O
    can tell (a Gemini CLI chat's folder; see :mod:`~streaming_importer.sources.discover`).
    """
    path = PurePosixPath(rel_path)
    stem = path.stem
    for prefix, agent in AGENT_PREFIXES.items():
        if rel_path.startswith(prefix):
            # Codex names a rollout after its session (``rollout-<time>-<uuid>``);
            # a record names it again, as Gemini's header does.
            found = _UUID_END.search(stem)
            session = found.group(0) if found else stem
            return FileContext(rel_path=rel_path, session_id=session, agent=agent, project=project)
    is_subagent = stem.startswith("agent-")
    parent: str | None = None
    if is_subagent and len(path.parts) >= 3 and path.parts[-2] == "subagents":
        parent = path.parts[-3]
    return FileContext(
        rel_path=rel_path,
        session_id=parent or stem,
        parent_session_id=parent,
        is_subagent=is_subagent,
        project=project,
    )
