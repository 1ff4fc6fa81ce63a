"""A session as one file: Markdown, or a single self-contained HTML page. Blocking I/O.

The messages are read as every view reads them
(:func:`~streaming_importer.search.browse.page`: redacted, nothing of an
excluded project or a forgotten session), from the transcript or, when the
agent deleted it, from the archive. An export holds at most
:data:`MAX_MESSAGES` messages and stops there with a note: a session is
never read into memory unbounded.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from streaming_importer.ops.config import Settings
from streaming_importer.search.browse import MAX_PAGE, page
from streaming_importer.search.expand import ExpandError, open_transcript
from streaming_importer.sources.messages import FileContext
from streaming_importer.state.archive import Archive
from streaming_importer.state.checkpoint import FileState
from streaming_importer.state.privacy import Tombstones

__all__ = ["FORMATS", "MAX_MESSAGES", "Export", "export_transcript", "session_paths"]

#: Messages an export holds at most.
MAX_MESSAGES = 20_000
#: Format name -> (file suffix, content type).
FORMATS = {
    "markdown": (".md", "text/markdown; charset=utf-8"),
    "html": (".html", "text/html; charset=utf-8"),
}
_LABELS = {
    "prompt": "You",
    "answer": "Assistant",
    "thinking": "Thinking",
    "tool_call": "Tool call",
    "tool_result": "Tool result",
    "summary": "Summary",
    "injected": "Injected",
}
#: Kinds shown as preformatted text (code, output), not prose.
_VERBATIM = frozenset({"tool_call", "tool_result", "thinking", "injected"})
_BACKTICKS = re.compile(r"`+")


@dataclasses.dataclass(frozen=True, slots=True)
class Export:
    """One exported file: a suggested name, its content type and its text."""

    name: str
    type: str
    text: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def session_paths(files: Mapping[str, FileState], archive: Archive, session_id: str) -> list[str]:
    """The transcripts of ``session_id`` (checkpoint's or archive's), subagents' left out."""
    found = {rel for rel, state in files.items() if _is(state.context, session_id)}
    found.update(k.rel_path for k in archive.kept(besides=files) if _is(k.context, session_id))
    return sorted(found)


def _is(context: Mapping[str, Any], session_id: str) -> bool:
    parsed = FileContext.from_json(context)
    return parsed.session_id == session_id and not parsed.is_subagent


def export_transcript(
    settings: Settings,
    tombstones: Tombstones,
    path: str,
    fmt: str,
    saved: Mapping[str, Any] | None = None,
) -> Export:
    """The transcript ``path`` as ``fmt`` (``markdown`` or ``html``); ExpandError if unreadable.

    ``saved``: the transcript's context as last imported (its project and
    branch, which its first lines may not say); else the archive's.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    transcript = open_transcript(settings, tombstones, path)
    if saved is None:
        kept = Archive(settings.archive_dir).get(path)
        saved = kept.context if kept else None
    context = FileContext.from_json(saved) if saved else transcript.context
    if not transcript.privacy.allows_session(context.session_id, context.project):
        raise ExpandError(f"{path!r} is not shown (forgotten or excluded)")
    messages, complete = _messages(settings, tombstones, path)
    title = f"Session {context.session_id}"
    facts = {
        "project": context.project or "-",
        "agent": context.agent,
        "branch": context.git_branch or "-",
        "transcript": path + (" (archived: the agent deleted it)" if transcript.archived else ""),
        "exported": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if not complete:
        facts["note"] = f"only the first {MAX_MESSAGES} messages are exported"
    render = _markdown if fmt == "markdown" else _html
    suffix, content_type = FORMATS[fmt]
    return Export(
        f"session-{context.session_id}{suffix}", content_type, render(title, facts, messages)
    )


def _messages(
    settings: Settings, tombstones: Tombstones, path: str
) -> tuple[list[dict[str, Any]], bool]:
    """The transcript's shown messages, page by page; whether all of them fit."""
    messages: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None and len(messages) < MAX_MESSAGES:
        answer = page(settings, tombstones, path, offset, MAX_PAGE)
        messages.extend(answer["messages"])
        offset = answer["next"]
    return messages[:MAX_MESSAGES], offset is None and len(messages) <= MAX_MESSAGES


def _heading(m: Mapping[str, Any]) -> str:
    when = str(m.get("timestamp") or "")[:19].replace("T", " ")
    return f"{_LABELS.get(str(m['kind']), str(m['kind']))}  {when}".strip()


def _markdown(title: str, facts: Mapping[str, str], messages: Iterable[Mapping[str, Any]]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    for m in messages:
        text = str(m.get("text") or "")
        lines += ["", f"## {_heading(m)}", ""]
        if m["kind"] in _VERBATIM:
            # A fence longer than any backtick run inside: the text cannot close it.
            longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
            ticks = "`" * max(3, longest + 1)
            lines += [ticks, text, ticks]
        else:
            lines.append(text)
    return "\n".join(lines) + "\n"


_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; color: #555; }
section { border-top: 1px solid #ddd; padding: .5rem 0; }
h2 { font-size: 1rem; margin: .3rem 0; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f5f5f5; padding: .5rem; }
.prompt h2 { color: #1a5fb4; }
"""


def _html(title: str, facts: Mapping[str, str], messages: Iterable[Mapping[str, Any]]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing to load and nothing to run: the file stands alone.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1><dl>",
    ]
    parts += [f"<dt>{esc(key)}</dt><dd>{esc(value)}</dd>" for key, value in facts.items()]
    parts.append("</dl>")
    for m in messages:
        kind = str(m["kind"])
        text = esc(str(m.get("text") or ""))
        body = f"<pre>{text}</pre>" if kind in _VERBATIM else f'<div class="text">{text}</div>'
        parts.append(f'<section class="{esc(kind)}"><h2>{esc(_heading(m))}</h2>{body}</section>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
