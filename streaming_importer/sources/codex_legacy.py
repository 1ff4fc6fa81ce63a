"""The Codex TypeScript CLI's (0.1.x) rollouts -> searchable messages. Pure; never raises.

Before codex-rs, Codex saved a session as one pretty-printed JSON document,
``sessions/rollout-<date>-<uuid>.json``: ``{session: {timestamp, id,
instructions}, items: [...]}``, the items shaped like Chat Completions
messages (``role``, ``content``, an assistant's ``reasoning`` and
``tool_calls``, ``tool`` results). It is rewritten whole on every save, so it
is read whole (see :mod:`~streaming_importer.pipeline.tracking`); items carry no ids,
and an item's place in the document is its identity.
"""

from __future__ import annotations

from typing import Any

import orjson

from streaming_importer.sources.assemble import Origin, Part, assemble
from streaming_importer.sources.codex import (
    call_text,
    content_text,
    learn_cwd,
    named,
    output_text,
    typed,
)
from streaming_importer.sources.messages import FileContext, Message, ParseLimits, ParseResult
from streaming_importer.sources.text import INJECTED, clean

__all__ = ["parse_codex_document"]


def parse_codex_document(data: bytes, context: FileContext, limits: ParseLimits) -> ParseResult:
    """Parse a TypeScript CLI rollout (one JSON document ``{session, items}``). Never raises."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ParseResult((), context, "not a whole JSON document")
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return ParseResult((), context, "not a Codex session document")
    session = doc.get("session")
    timestamp = None
    if isinstance(session, dict):
        context = named(context, _str(session.get("id")), None)
        timestamp = _str(session.get("timestamp"))
    messages: list[Message] = []
    for i, item in enumerate(doc["items"]):
        if not isinstance(item, dict):
            continue
        parts = _chat_item_parts(item, limits)
        context = learn_cwd(parts, context)
        # Items have no ids; their place in the document is their identity
        # (the document is only ever extended or rewritten whole).
        origin = Origin(key=f"item:{i}", timestamp=timestamp)
        found, context = assemble(parts, origin, context, limits)
        messages.extend(found)
    return ParseResult(tuple(messages), context)


def _chat_item_parts(item: dict[str, Any], limits: ParseLimits) -> list[Part]:
    """A TypeScript CLI item: Chat-Completions shaped (``role``, ``content``, ``tool_calls``)."""
    role = item.get("role")
    text = content_text(item.get("content"))
    if role == "tool":
        text = output_text(item.get("content"))
        return [("tool_result", "tool", text, limits.tool_result_max_chars)] if text else []
    if role == "user":
        return typed(text)
    if role != "assistant":
        return [(INJECTED, "user", text, 0)] if text else []
    parts: list[Part] = []
    reasoning = clean(_str(item.get("reasoning")) or "")
    if reasoning:
        parts.append(("thinking", "assistant", reasoning, 0))
    if text:
        parts.append(("answer", "assistant", text, 0))
    for call in item.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            call = {"name": function.get("name"), "arguments": function.get("arguments")}
            parts.append(("tool_call", "assistant", call_text(call), limits.tool_call_max_chars))
    return parts


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
