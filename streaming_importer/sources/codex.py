"""OpenAI Codex CLI rollouts -> searchable messages. Pure; never raises.

Codex writes one rollout per session under ``$CODEX_HOME/sessions``, in three
formats over its versions:

- from about 0.3x on, JSON Lines whose every record is ``{timestamp, type,
  payload}`` with ``type`` one of ``session_meta``, ``turn_context``,
  ``response_item``, ``event_msg``, ``compacted``;
- codex-rs about 0.2x, "bare" JSON Lines: the first line is the session's meta
  (``{id, timestamp, instructions, git}``), then bare response items and
  ``{"record_type": "state"}`` markers;
- the TypeScript CLI (0.1.x): one JSON document ``{session, items}`` with
  Chat-Completions shaped items, rewritten whole on every save (read by
  :mod:`~streaming_importer.sources.codex_legacy`).

From 0.3x on every exchange is written twice: a prompt both as a user
``response_item`` message and as an ``event_msg/user_message``, a reply both
as an assistant message and as ``event_msg/agent_message``. One stream is
kept: prompts from the events (some versions write them nowhere else), the
rest from the response items; user response items that are not an event's
copy are what Codex injected (``<environment_context>``, AGENTS.md, ...) and
are stored as kind ``injected``, like developer messages.

=================  =====================================================
kind               from
=================  =====================================================
``prompt``         ``event_msg/user_message`` (bare files: user messages)
``answer``         assistant ``message`` items
``thinking``       readable ``reasoning`` (summaries, reasoning text)
``tool_call``      ``function_call``, ``custom_tool_call``,
                   ``local_shell_call``, ``web_search_call``
``tool_result``    ``function_call_output``, ``custom_tool_call_output``
``summary``        ``compacted``
``injected``       instructions and context Codex sent as user or developer
=================  =====================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

import orjson

from streaming_importer.sources.assemble import Origin, Part, assemble, tool_call_text
from streaming_importer.sources.messages import FileContext, Message, ParseLimits, ParseResult
from streaming_importer.sources.records import parse_records
from streaming_importer.sources.text import INJECTED, blocks_text, clean

__all__ = [
    "call_text",
    "content_text",
    "learn_cwd",
    "named",
    "output_text",
    "parse_codex_line",
    "typed",
]

_ENVELOPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
#: Texts Codex sends in the user's turn on its own behalf.
_INJECTED_STARTS = (
    "<user_instructions>",
    "<environment_context>",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<permissions instructions>",
    "<collaboration_mode>",
    "<skills_instructions>",
    "<plugins_instructions>",
    "<turn_aborted>",
    "<user_shell_command>",
)
_CWD = re.compile(r"<cwd>\s*(.*?)\s*</cwd>|Current working directory:\s*(\S[^\n]*)")
_TOOL_CALLS = frozenset(
    {"function_call", "custom_tool_call", "local_shell_call", "web_search_call"}
)
_IMAGES = frozenset({"input_image", "image", "image_url"})
_TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})


def parse_codex_line(line: bytes, context: FileContext, limits: ParseLimits) -> ParseResult:
    """Parse one rollout line (without its newline), enveloped or bare. Never raises."""
    return parse_records(line, context, limits, _record)


def _record(
    record: dict[str, Any], raw: bytes, context: FileContext, limits: ParseLimits
) -> tuple[tuple[Message, ...], FileContext]:
    rtype = record.get("type")
    payload = record.get("payload")
    timestamp = _str(record.get("timestamp"))
    parts: list[Part] = []
    if rtype in _ENVELOPES and isinstance(payload, dict):
        if rtype == "session_meta":
            return (), _meta(payload, context)
        if rtype == "turn_context":
            cwd = _str(payload.get("cwd"))
            return (), context if context.project or not cwd else _with(context, project=cwd)
        if rtype == "response_item":
            parts = _item_parts(payload, limits, enveloped=True)
        elif rtype == "event_msg" and payload.get("type") == "user_message":
            parts = typed(_str(payload.get("message")) or "")
        elif rtype == "compacted":
            text = clean(_str(payload.get("message")) or "")
            parts = [("summary", "system", text, 0)] if text else []
    elif rtype is None and "record_type" not in record and _str(record.get("id")):
        return (), named(context, _str(record.get("id")), record.get("git"))  # bare meta
    elif isinstance(rtype, str):
        parts = _item_parts(record, limits, enveloped=False)
    context = learn_cwd(parts, context)
    # Rollout lines carry no ids. The record's bytes and its place among the
    # file's records with text identify it: the same bytes read again (a
    # restart, a second run) give the same key, and two equal lines (a bare
    # "yes" typed twice) stay two.
    key = f"{hashlib.sha256(raw).hexdigest()[:24]}:{context.turn + 1}"
    origin = Origin(key=key, timestamp=timestamp, cwd=context.project)
    return assemble(parts, origin, context, limits)


def _meta(payload: dict[str, Any], context: FileContext) -> FileContext:
    """The file's own session from its first ``session_meta``; later ones are a parent's replay."""
    if context.named:
        return context
    context = named(context, _str(payload.get("id")), payload.get("git"))
    cwd = _str(payload.get("cwd"))
    if cwd and context.project is None:
        context = _with(context, project=cwd)
    parent = _str(payload.get("forked_from_id"))
    source = payload.get("source")
    if parent is None and isinstance(source, dict):
        spawn = source.get("subagent")
        if isinstance(spawn, dict) and isinstance(spawn.get("thread_spawn"), dict):
            parent = _str(spawn["thread_spawn"].get("parent_thread_id"))
    return _with(context, parent_session_id=parent) if parent else context


def named(context: FileContext, session: str | None, git: Any) -> FileContext:
    changes: dict[str, Any] = {"named": True}
    if session:
        changes["session_id"] = session
    if isinstance(git, dict) and (branch := _str(git.get("branch"))):
        changes["git_branch"] = branch
    return _with(context, **changes)


def learn_cwd(parts: list[Part], context: FileContext) -> FileContext:
    """A project from injected environment context, for files that name no cwd elsewhere."""
    if context.project is not None:
        return context
    for kind, _, text, _ in parts:
        if kind == INJECTED and (m := _CWD.search(text)):
            return _with(context, project=(m.group(1) or m.group(2)).strip())
    return context


def _item_parts(item: dict[str, Any], limits: ParseLimits, *, enveloped: bool) -> list[Part]:
    itype = item.get("type")
    if itype == "message":
        role = item.get("role")
        text = content_text(item.get("content"))
        if not text:
            return []
        if role == "assistant":
            return [("answer", "assistant", text, 0)]
        if role == "user":
            parts = typed(text)
            # Enveloped files also hold each prompt as an event: that copy is kept.
            return [p for p in parts if p[0] == INJECTED] if enveloped else parts
        return [(INJECTED, "user", text, 0)]  # developer and system messages
    if itype == "reasoning":
        texts = [
            t
            for key in ("summary", "content")
            if isinstance(blocks := item.get(key), list)
            for b in blocks
            if isinstance(b, dict) and (t := clean(_str(b.get("text")) or ""))
        ]
        return [("thinking", "assistant", "\n".join(texts), 0)] if texts else []
    if itype in _TOOL_CALLS:
        text = call_text(item)
        return [("tool_call", "assistant", text, limits.tool_call_max_chars)] if text else []
    if itype in _TOOL_OUTPUTS:
        text = output_text(item.get("output"))
        return [("tool_result", "tool", text, limits.tool_result_max_chars)] if text else []
    return []


def typed(text: str) -> list[Part]:
    """A user-turn text: what Codex injected, or the person's prompt."""
    text = clean(text)
    if not text:
        return []
    return [(INJECTED if text.startswith(_INJECTED_STARTS) else "prompt", "user", text, 0)]


def content_text(content: Any) -> str:
    """A message's text: every block with a ``text`` (``input_text``, ...), images marked."""
    return blocks_text(content, images=_IMAGES)


def call_text(item: dict[str, Any]) -> str:
    """One line: the tool and its meaningful argument (a shell command as typed)."""
    itype = item.get("type")
    if itype == "web_search_call":
        action = item.get("action")
        query = _str(action.get("query")) if isinstance(action, dict) else None
        return tool_call_text("web_search", {"query": query} if query else {})
    if itype == "local_shell_call":
        action = item.get("action")
        return tool_call_text("shell", _shell_args(action if isinstance(action, dict) else {}))
    name = _str(item.get("name")) or "tool"
    raw = item.get("arguments", item.get("input"))
    args: Any = raw
    if isinstance(raw, str):
        try:
            args = orjson.loads(raw)
        except orjson.JSONDecodeError:
            args = {"input": raw}  # custom tools take free text (apply_patch)
    if not isinstance(args, dict):
        args = {"input": orjson.dumps(args, default=str).decode()}
    return tool_call_text(name, _shell_args(args))


def _shell_args(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments with a shell command as one string: ``["bash", "-lc", "ls"]`` is ``ls``."""
    command = args.get("command", args.get("cmd"))
    if isinstance(command, list) and all(isinstance(c, str) for c in command):
        words = command[2:] if command[1:2] in (["-lc"], ["-c"]) else command
        command = " ".join(words)
    if isinstance(command, str):
        return {
            **{k: v for k, v in args.items() if k not in ("command", "cmd")},
            "command": command,
        }
    for key in ("input", "chars"):
        if isinstance(args.get(key), str):
            return {**args, "command": args[key]}
    return args


def output_text(output: Any) -> str:
    """A tool's output: a JSON string ``{"output": ..., "metadata": ...}`` (to 0.77), or text."""
    if isinstance(output, str) and output.startswith("{"):
        try:
            decoded = orjson.loads(output)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("output"), str):
            output = decoded["output"]
    if isinstance(output, list):  # content blocks
        return content_text(output)
    return clean(output) if isinstance(output, str) else ""


def _with(context: FileContext, **changes: Any) -> FileContext:
    return dataclasses.replace(context, **changes)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
