"""The searchable parts of one record -> messages: shared by every agent's parser. Pure.

Each parser (:mod:`~streaming_importer.sources.claude` for Claude Code,
:mod:`~streaming_importer.sources.codex`, :mod:`~streaming_importer.sources.gemini`) says what
a record holds as :data:`Part` tuples and what it knows about the record
(:class:`Origin`); :func:`assemble` stores the texts (secrets replaced, then
cut to their cap), numbers the record among the file's records with text, and
builds the :class:`~streaming_importer.sources.messages.Message` objects.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from streaming_importer.sources.messages import FileContext, Message, ParseLimits
from streaming_importer.sources.text import as_stored, clean

__all__ = ["Origin", "Part", "assemble", "tool_call_text"]

#: Tool-call arguments worth embedding, in the order they are shown.
_TOOL_ARG_KEYS = (
    "command",
    "file_path",
    "notebook_path",
    "pattern",
    "path",
    "glob",
    "url",
    "query",
    "skill",
    "description",
    "prompt",
    "subject",
)

#: One searchable part of a record: kind, role, text, and its cap in characters (0: none).
Part = tuple[str, str, str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """What a parser knows about one record besides its parts."""

    #: Stable identity of the record within its session (a uuid, or a hash).
    key: str
    timestamp: str | None = None
    cwd: str | None = None
    #: The record's own session id where it names one (else the file's).
    session_id: str | None = None
    parent_session_id: str | None = None
    agent_id: str | None = None
    message_uuid: str | None = None
    is_sidechain: bool = False
    is_compact_summary: bool = False


def assemble(
    parts: list[Part], origin: Origin, context: FileContext, limits: ParseLimits
) -> tuple[tuple[Message, ...], FileContext]:
    """The messages of one record's ``parts``, and the context after it.

    A record with no parts yields nothing and leaves the context as it was.
    """
    if not parts:
        return (), context
    context = dataclasses.replace(context, turn=context.turn + 1)
    stored = [as_stored(text, cap, limits) for _, _, text, cap in parts]
    messages = tuple(
        Message(
            kind=kind,
            role=role,
            text=stored[i][0],
            record_key=origin.key,
            part=i,
            session_id=origin.session_id or context.session_id,
            parent_session_id=context.parent_session_id or origin.parent_session_id,
            agent_id=origin.agent_id,
            project=context.project or origin.cwd,
            cwd=origin.cwd,
            git_branch=context.git_branch,
            timestamp=origin.timestamp,
            message_uuid=origin.message_uuid,
            is_sidechain=origin.is_sidechain,
            is_compact_summary=origin.is_compact_summary,
            redacted=stored[i][1],
            turn=context.turn,
            agent=context.agent,
        )
        for i, (kind, role, _, _) in enumerate(parts)
    )
    return messages, context


def tool_call_text(name: str, args: Any) -> str:
    """One compact line for a tool call: its name and its meaningful arguments."""
    shown: list[str] = []
    if isinstance(args, dict):
        shown = [v.strip() for k in _TOOL_ARG_KEYS if isinstance(v := args.get(k), str) and v]
        todos = args.get("todos")
        if not shown and isinstance(todos, list):
            shown = [
                c for t in todos if isinstance(t, dict) and isinstance(c := t.get("content"), str)
            ]
        if not shown and args:
            shown = [orjson.dumps(args, default=str).decode()]
    text = f"{name}: {' | '.join(shown)}" if shown else name
    return clean(text)
