"""Claude Code transcript lines -> searchable messages. Pure; never raises.

A transcript is JSON Lines. Each line is one record: ``user`` and
``assistant`` messages, ``summary`` titles, and bookkeeping (``progress``,
``file-history-snapshot``, ``queue-operation``, ``system``) that nobody
searches for. :func:`parse_line` turns one line into zero or more
:class:`Message` objects, one per searchable part of the record:

===============  =====================================================
kind             from
===============  =====================================================
``prompt``       a user's text (and a marker where an image was pasted)
``answer``       an assistant's text
``thinking``     an assistant's thinking block
``tool_call``    one compact line: tool name and its meaningful argument
``tool_result``  a tool's output, cut to a configurable length
``summary``      a compaction summary, or a session's ``summary`` title
``injected``     what Claude Code wrote in the user's turn (see ``injected``)
===============  =====================================================

What a record means can depend on lines before it (a ``summary`` line has no
``cwd``), so the parser threads an immutable :class:`FileContext` through
the lines of one file; the ledger stores it with the file's checkpoint so a
tail that resumes mid-file parses exactly as a clean import would. The types
(:class:`Message`, :class:`FileContext`, ...) are in
:mod:`~streaming_importer.sources.messages`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import PurePosixPath
from typing import Any

from streaming_importer.sources.assemble import Origin, Part, assemble, tool_call_text
from streaming_importer.sources.messages import FileContext, Message, ParseLimits, ParseResult
from streaming_importer.sources.records import parse_records
from streaming_importer.sources.text import IMAGE_MARKER, blocks_text, clean, prompt_kind

__all__ = ["parse_line"]

#: Records that hold nothing a person searches for.
_SKIPPED_TYPES = frozenset(
    {"progress", "file-history-snapshot", "queue-operation", "system", "custom-title"}
)
#: Block types of a tool result's content that are text, and that are images.
_TEXTS, _IMAGES = frozenset({"text"}), frozenset({"image"})


def parse_line(line: bytes, context: FileContext, limits: ParseLimits) -> ParseResult:
    """Parse one line (without its newline), each record glued on it too. Never raises."""
    return parse_records(line, context, limits, _parse_record)


def _parse_record(
    record: dict[str, Any], line: bytes, context: FileContext, limits: ParseLimits
) -> tuple[tuple[Message, ...], FileContext]:
    rtype = _str(record.get("type"))
    context = _learn(record, context)
    if rtype in _SKIPPED_TYPES or rtype is None:
        return (), context

    parts: list[Part] = []
    if rtype == "summary":
        summary = _str(record.get("summary"))
        if summary:
            parts.append(("summary", "system", summary, 0))
    elif rtype in ("user", "assistant"):
        if record.get("isMeta") is True:
            return (), context
        message = record.get("message")
        if isinstance(message, dict):
            if rtype == "user":
                parts = _user_parts(message.get("content"), record, limits)
            else:
                parts = _assistant_parts(message.get("content"), limits)
    if not parts:
        return (), context
    uuid = _str(record.get("uuid"))
    # Records without a uuid (``summary`` lines) are identified by their bytes,
    # which stay the same when the file is renamed or moved.
    key = uuid or _str(record.get("leafUuid")) or hashlib.sha256(line).hexdigest()[:32]
    if uuid is None and rtype == "summary":
        key = f"summary:{key}"
    agent_id = _str(record.get("agentId"))
    if agent_id is None and context.is_subagent:
        agent_id = PurePosixPath(context.rel_path).stem.removeprefix("agent-")
    session_id = _str(record.get("sessionId"))
    origin = Origin(
        key=key,
        timestamp=_str(record.get("timestamp")),
        cwd=_str(record.get("cwd")),
        session_id=session_id,
        parent_session_id=session_id if context.is_subagent else None,
        agent_id=agent_id,
        message_uuid=uuid,
        is_sidechain=record.get("isSidechain") is True,
        is_compact_summary=record.get("isCompactSummary") is True,
    )
    return assemble(parts, origin, context, limits)


def _learn(record: dict[str, Any], context: FileContext) -> FileContext:
    changes: dict[str, Any] = {}
    cwd = _str(record.get("cwd"))
    if cwd and context.project is None:
        changes["project"] = cwd
    branch = _str(record.get("gitBranch"))
    if branch and branch != context.git_branch:
        changes["git_branch"] = branch
    return dataclasses.replace(context, **changes) if changes else context


def _user_parts(content: Any, record: dict[str, Any], limits: ParseLimits) -> list[Part]:
    summary = record.get("isCompactSummary") is True
    if isinstance(content, str):
        text = clean(content)
        return [_typed(text, summary)] if text else []
    if not isinstance(content, list):
        return []
    parts: list[Part] = []
    prompt: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text":
            text = clean(_str(block.get("text")) or "")
            if text:
                prompt.append(text)
        elif btype == "image":
            prompt.append(IMAGE_MARKER)
        elif btype == "tool_result":
            text = _tool_result_text(block.get("content"))
            if text:
                parts.append(("tool_result", "tool", text, limits.tool_result_max_chars))
    if prompt:
        parts.insert(0, _typed("\n".join(prompt), summary))
    return parts


def _typed(text: str, summary: bool) -> Part:
    """The part of a user turn's text: a prompt, a summary, or text Claude Code injected."""
    kind, text = ("summary", text) if summary else prompt_kind(text)
    return (kind, "user", text, 0)


def _assistant_parts(content: Any, limits: ParseLimits) -> list[Part]:
    if isinstance(content, str):
        text = clean(content)
        return [("answer", "assistant", text, 0)] if text else []
    if not isinstance(content, list):
        return []
    parts: list[Part] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text":
            text = clean(_str(block.get("text")) or "")
            if text:
                parts.append(("answer", "assistant", text, 0))
        elif btype == "thinking":
            text = clean(_str(block.get("thinking")) or "")
            if text:
                parts.append(("thinking", "assistant", text, 0))
        elif btype == "tool_use":
            text = _tool_call_text(block)
            if text:
                parts.append(("tool_call", "assistant", text, limits.tool_call_max_chars))
    return parts


def _tool_call_text(block: dict[str, Any]) -> str:
    return tool_call_text(_str(block.get("name")) or "tool", block.get("input"))


def _tool_result_text(content: Any) -> str:
    return blocks_text(content, images=_IMAGES, texts=_TEXTS)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
