"""Results: one hit per session, recency, and the context around a hit.

People ask "which conversation was that?", so a result is a session, shown by
its best-matching chunk with the chunks around it from the same message and
the prompt it answered. Recency (optional) multiplies each chunk's similarity
by ``0.5 + 0.5 * 2 ** (-age / half_life)``, age from the message's own
timestamp: a message one half-life old keeps 75% of its similarity, a very
old one 50%, so recency breaks near-ties but never buries a clear match.

Everything here is pure but :func:`with_context` and :func:`session_summary`,
which read the session's other points from the store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from streaming_importer.sink import Hit, Sink, Where

__all__ = [
    "SessionHit",
    "answered_prompt",
    "group_by_session",
    "neighbours",
    "recency_factor",
    "resume_command",
    "session_summary",
    "with_context",
]

#: Chunks of one message read to find a hit's neighbours.
_MESSAGE_CHUNKS_MAX = 512
#: Prompt chunks of one session read to find the prompt a hit answered.
_PROMPTS_MAX = 1024


def recency_factor(timestamp: str | None, now: dt.datetime, half_life_s: float) -> float:
    """Between 0.5 (very old, or no timestamp) and 1.0 (now)."""
    if not timestamp:
        return 0.5
    try:
        when = dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return 0.5
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    age = max((now - when).total_seconds(), 0.0)
    return 0.5 + 0.5 * float(2.0 ** (-age / half_life_s))


@dataclasses.dataclass(frozen=True, slots=True)
class SessionHit:
    """One session in the results: its best chunk and what surrounds it."""

    best: Hit
    #: The ranking score: similarity, times the recency factor if asked.
    score: float
    #: Chunks of this session among the candidates fetched.
    matches: int
    #: Text of the same message just before and after the best chunk.
    before: str = ""
    after: str = ""
    #: The prompt the best chunk answered (the session's last prompt before
    #: it), or "" if the chunk is itself a prompt.
    prompt: str = ""

    def to_json(self) -> dict[str, Any]:
        """As ``search --json`` prints it (and the control port sends it)."""
        p = self.best.payload
        return {
            "score": round(self.score, 4),
            "similarity": round(self.best.score, 4),
            "matches": self.matches,
            "id": self.best.id,
            **p,
            "context_before": self.before,
            "context_after": self.after,
            "prompt": self.prompt,
            "resume": resume_command(p),
        }


def resume_command(payload: Mapping[str, Any]) -> str:
    """The shell command that reopens the session in Claude Code."""
    # Sessions are found per project folder, so resume from there.
    command = f"claude --resume {payload.get('session_id')}"
    cwd = payload.get("project") or payload.get("cwd")
    return f"cd {_shell_quote(cwd)} && {command}" if cwd else command


def _shell_quote(path: str) -> str:
    if re.fullmatch(r"[\w@%+=:,./-]+", path):
        return path
    return "'" + path.replace("'", "'\"'\"'") + "'"


def group_by_session(
    hits: Iterable[Hit], limit: int, now: dt.datetime, half_life_s: float | None
) -> list[SessionHit]:
    """The best chunk of each session (after recency), for at most ``limit`` sessions."""
    best: dict[str, tuple[float, Hit]] = {}
    matches: dict[str, int] = {}
    for hit in hits:
        score = hit.score
        if half_life_s is not None:
            score *= recency_factor(hit.payload.get("timestamp"), now, half_life_s)
        session = str(hit.payload.get("session_id"))
        matches[session] = matches.get(session, 0) + 1
        if session not in best or score > best[session][0]:
            best[session] = (score, hit)
    ranked = sorted(best.items(), key=lambda item: item[1][0], reverse=True)[:limit]
    return [SessionHit(hit, score, matches[s]) for s, (score, hit) in ranked]


def neighbours(hit: Hit, message_chunks: Sequence[Hit]) -> tuple[str, str]:
    """The text before and after ``hit`` within its message, overlap removed."""
    part, index = hit.payload.get("part"), hit.payload.get("chunk_index")
    if not isinstance(index, int):
        return "", ""
    by_index = {
        h.payload.get("chunk_index"): str(h.payload.get("text", ""))
        for h in message_chunks
        if h.payload.get("part") == part
    }
    text = str(hit.payload.get("text", ""))
    before = _drop_suffix_overlap(by_index.get(index - 1, ""), text)
    after = _drop_prefix_overlap(text, by_index.get(index + 1, ""))
    return before, after


#: Shortest shared text taken for the chunk overlap, in characters (shorter
#: is more likely a coincidence, like one shared letter).
_MIN_OVERLAP_CHARS = 8


def _drop_suffix_overlap(before: str, text: str) -> str:
    """``before`` without its end that ``text`` repeats at its start."""
    for k in range(min(len(before), len(text)), _MIN_OVERLAP_CHARS - 1, -1):
        if before.endswith(text[:k]):
            return before[:-k].rstrip()
    return before


def _drop_prefix_overlap(text: str, after: str) -> str:
    """``after`` without its start that ``text`` already ends with."""
    for k in range(min(len(text), len(after)), _MIN_OVERLAP_CHARS - 1, -1):
        if text.endswith(after[:k]):
            return after[k:].lstrip()
    return after


def with_context(sink: Sink, found: SessionHit) -> SessionHit:
    """``found`` with its neighbouring chunks and the prompt it answered."""
    p = found.best.payload
    session = str(p.get("session_id"))
    if p.get("message_uuid"):
        same_message = Where({"session_id": session, "message_uuid": str(p["message_uuid"])})
        before, after = neighbours(found.best, sink.scroll(same_message, _MESSAGE_CHUNKS_MAX))
        found = dataclasses.replace(found, before=before, after=after)
    if p.get("kind") != "prompt" and p.get("timestamp"):
        earlier = Where({"session_id": session, "kind": "prompt"}, until=str(p["timestamp"]))
        found = dataclasses.replace(
            found, prompt=answered_prompt(sink.scroll(earlier, _PROMPTS_MAX))
        )
    return found


def answered_prompt(prompts: Sequence[Hit]) -> str:
    """The text of the latest of ``prompts`` (its first chunk)."""
    if not prompts:
        return ""
    latest = max(
        prompts,
        key=lambda h: (str(h.payload.get("timestamp")), -int(h.payload.get("chunk_index") or 0)),
    )
    return str(latest.payload.get("text", ""))


#: Points of one session read for its summary.
_SESSION_POINTS_MAX = 20_000
_FILE_ARGUMENT = re.compile(r"^(Read|Edit|Write|MultiEdit|NotebookEdit): (\S+)")


def session_summary(sink: Sink, session_id: str) -> dict[str, Any] | None:
    """What a session was: first prompt, time span, project, branch, files, tools.

    Built from the stored points (prompts, tool calls); None if none is stored.
    """
    points = sink.scroll(Where({"session_id": session_id}), _SESSION_POINTS_MAX)
    if not points:
        return None
    payloads = sorted(
        (h.payload for h in points),
        key=lambda p: (
            str(p.get("timestamp") or ""),
            p.get("part") or 0,
            p.get("chunk_index") or 0,
        ),
    )
    times = [str(p["timestamp"]) for p in payloads if p.get("timestamp")]
    prompts = [p for p in payloads if p.get("kind") == "prompt" and p.get("chunk_index") == 0]
    tools: dict[str, int] = {}
    files: list[str] = []
    for p in payloads:
        if p.get("kind") != "tool_call" or p.get("chunk_index"):
            continue
        text = str(p.get("text", ""))
        name = text.split(":", 1)[0].strip()
        tools[name] = tools.get(name, 0) + 1
        found = _FILE_ARGUMENT.match(text)
        if found and found.group(2) not in files:
            files.append(found.group(2))
    first = payloads[0]
    return {
        "session_id": session_id,
        "project": next((p["project"] for p in payloads if p.get("project")), None),
        "git_branch": next((p["git_branch"] for p in payloads if p.get("git_branch")), None),
        "first_prompt": str(prompts[0].get("text", "")) if prompts else None,
        "prompts": len(prompts),
        "started": times[0] if times else None,
        "ended": times[-1] if times else None,
        "files_touched": files,
        "tools_used": dict(sorted(tools.items(), key=lambda kv: -kv[1])),
        "paths": sorted({str(p.get("path")) for p in payloads if p.get("path")}),
        "resume": resume_command(next((p for p in payloads if p.get("project")), first)),
    }
