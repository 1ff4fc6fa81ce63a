"""Gemini CLI chat files -> searchable messages. Pure; never raises.

Gemini CLI records a chat under ``~/.gemini/tmp/<project>/chats/`` in one of
two shapes, both read whole (a changed file is parsed again from its start and
its points replaced, see :mod:`~streaming_importer.pipeline.tracking`):

- ``session-*.json``: one JSON document ``{sessionId, projectHash, startTime,
  lastUpdated, messages: [...]}``, rewritten in place as the chat grows;
- ``session-*.jsonl`` (newer versions): a header line, then message records
  (a message id written again replaces the earlier version, in place),
  ``{"$set": {...}}`` lines that patch the header (``messages`` in a patch
  replaces the whole list) and ``{"$rewindTo": id}`` lines that remove that
  message and everything after it (an unknown id removes everything).

A message's ``type`` is ``user``, ``gemini``, ``info``, ``warning`` or
``error``; only the first two are conversation. A ``gemini`` message can hold
its answer (``content``), its thoughts (``thoughts[{subject, description}]``)
and tool calls with their results (``toolCalls[{name, args, result}]``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from streaming_importer.sources.assemble import Origin, Part, assemble, tool_call_text
from streaming_importer.sources.messages import FileContext, Message, ParseLimits, ParseResult
from streaming_importer.sources.text import clean, prompt_kind

__all__ = ["parse_gemini_document"]


def parse_gemini_document(data: bytes, context: FileContext, limits: ParseLimits) -> ParseResult:
    """Parse a whole chat file (``.json`` document or ``.jsonl`` log). Never raises."""
    try:
        header, chat, error = _read(data, context.rel_path.endswith(".jsonl"))
    except RecursionError:
        return ParseResult((), context, "nested too deeply")
    if header is None:
        return ParseResult((), context, error)
    session = header.get("sessionId")
    if isinstance(session, str) and session:
        context = _renamed(context, session)
    messages: list[Message] = []
    for message in chat:
        found, context = _message(message, context, limits)
        messages.extend(found)
    return ParseResult(tuple(messages), context, error)


def _read(data: bytes, log: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str | None]:
    """The header, the final messages in order, and why part of the file is bad input."""
    if not log:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            # Also what a reader sees while Gemini CLI rewrites the file: the
            # next change reads it again.
            return None, [], "not a whole JSON document"
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            return None, [], "not a Gemini chat document"
        return doc, [m for m in doc["messages"] if isinstance(m, dict)], None
    header: dict[str, Any] | None = None
    chat: dict[str, dict[str, Any]] = {}  # by id, in order of first appearance
    bad = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        if not isinstance(record, dict):
            bad += 1
        elif header is None:
            header = record
        elif "$rewindTo" in record:
            ids = list(chat)
            target = record["$rewindTo"]
            for gone in ids[ids.index(target) :] if target in ids else ids:
                del chat[gone]
        elif "$set" in record:
            patch = record["$set"]
            if isinstance(patch, dict):
                header = {**header, **patch}
                if isinstance(patch.get("messages"), list):
                    chat = {_id(m, i): m for i, m in enumerate(patch["messages"])}
        elif isinstance(record.get("id"), str):
            chat[record["id"]] = record
    if header is None:
        return None, [], "no header line"
    error = f"{bad} lines that are not records" if bad else None
    return header, [m for m in chat.values() if isinstance(m, dict)], error


def _id(message: Any, i: int) -> str:
    ident = message.get("id") if isinstance(message, dict) else None
    return ident if isinstance(ident, str) else f"#{i}"


def _message(
    message: dict[str, Any], context: FileContext, limits: ParseLimits
) -> tuple[tuple[Message, ...], FileContext]:
    mtype = message.get("type")
    parts: list[Part] = []
    if mtype == "user":
        text = _text(message.get("content"))
        if text:
            kind, text = prompt_kind(text)
            parts.append((kind, "user", text, 0))
    elif mtype == "gemini":
        thoughts = message.get("thoughts")
        if isinstance(thoughts, list):
            texts = [_thought(t) for t in thoughts if isinstance(t, dict)]
            if thought := "\n".join(t for t in texts if t):
                parts.append(("thinking", "assistant", thought, 0))
        if answer := _text(message.get("content")):
            parts.append(("answer", "assistant", answer, 0))
        for call in message.get("toolCalls") or []:
            if isinstance(call, dict):
                parts.extend(_call_parts(call, limits))
    ident = message.get("id")
    key = ident if isinstance(ident, str) and ident else f"turn:{context.turn + 1}"
    timestamp = message.get("timestamp")
    origin = Origin(
        key=key,
        timestamp=timestamp if isinstance(timestamp, str) else None,
        cwd=context.project,
        message_uuid=ident if isinstance(ident, str) else None,
    )
    return assemble(parts, origin, context, limits)


def _call_parts(call: dict[str, Any], limits: ParseLimits) -> list[Part]:
    name = call.get("name")
    parts: list[Part] = [
        (
            "tool_call",
            "assistant",
            tool_call_text(name if isinstance(name, str) and name else "tool", call.get("args")),
            limits.tool_call_max_chars,
        )
    ]
    results = call.get("result")
    texts: list[str] = []
    for result in results if isinstance(results, list) else []:
        response = result.get("functionResponse") if isinstance(result, dict) else None
        answer = response.get("response") if isinstance(response, dict) else None
        if isinstance(answer, dict):
            texts.append(_text(answer.get("output", answer.get("error"))))
    if text := "\n".join(t for t in texts if t):
        parts.append(("tool_result", "tool", text, limits.tool_result_max_chars))
    return parts


def _thought(thought: dict[str, Any]) -> str:
    subject, description = thought.get("subject"), thought.get("description")
    texts = [t for t in (subject, description) if isinstance(t, str)]
    return clean("\n".join(texts))


def _text(content: Any) -> str:
    """Text of a ``content``: a string, or parts ``[{text}]`` (newer versions)."""
    if isinstance(content, str):
        return clean(content)
    if isinstance(content, list):
        texts = [
            clean(p["text"])
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return "\n".join(t for t in texts if t)
    return ""


def _renamed(context: FileContext, session: str) -> FileContext:
    return context if context.session_id == session else replace(context, session_id=session)
