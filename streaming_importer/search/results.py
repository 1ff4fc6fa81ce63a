"""Results: a session shown by its best chunk, and the exchange around that chunk.

People ask "which conversation was that?", so a result is a session (ranked by
:mod:`~streaming_importer.search.ranking`), shown by its best-matching chunk with the
chunks around it from the same message, the prompt that began its exchange,
and the exchange's conclusion: the first chunk of the last answer before the
next prompt. So a hit on a question shows what it got, and a hit deep in a
tool's output shows what was asked and what was concluded. The exchange's
chunks are kept (not sent) for :mod:`~streaming_importer.search.highlight` to
choose the sentences that answer.

Everything here is pure but :func:`with_context` and :func:`session_summary`,
which read the session's other points from the store.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from streaming_importer.search.highlight import Highlight
from streaming_importer.store import Hit, Sink, Where

__all__ = [
    "SessionHit",
    "exchange_bounds",
    "neighbours",
    "resume_command",
    "session_summary",
    "with_context",
]

#: Chunks of one message read to find a hit's neighbours.
_MESSAGE_CHUNKS_MAX = 512
#: Prompt chunks of one session read to find the exchange a hit is in.
_PROMPTS_MAX = 1024
#: Answer chunks of one exchange read to find its conclusion.
_ANSWERS_MAX = 1024


@dataclasses.dataclass(frozen=True, slots=True)
class SessionHit:
    """One session in the results: its best chunk and what surrounds it."""

    best: Hit
    #: The ranking score (see :mod:`~streaming_importer.search.ranking`).
    score: float
    #: Chunks of this session among the candidates fetched.
    matches: int
    #: Text of the same message just before and after the best chunk.
    before: str = ""
    after: str = ""
    #: The prompt the best chunk answered (the session's last prompt before
    #: it), or "" if the chunk is itself a prompt.
    prompt: str = ""
    #: The exchange's conclusion: the first chunk of its last answer, or ""
    #: if that is the best chunk itself or there is none.
    conclusion: str = ""
    #: The chunks of the exchange the best chunk is in (its message and the
    #: answers up to the next prompt), and the session's other
    #: best chunks among the candidates: where highlights come from.
    exchange: tuple[Hit, ...] = ()
    related: tuple[Hit, ...] = ()
    #: The sentences that answer best, best first (see highlight.py).
    highlight: tuple[Highlight, ...] = ()
    #: The highest cosine similarity of the session's chunks to the query
    #: (see find.py); None without the model.
    relevance: float | None = None
    #: False if ``relevance`` is under the floor: a weak match, shown as such.
    confident: bool = True

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
            "conclusion": self.conclusion,
            "highlight": [h.to_json() for h in self.highlight],
            "relevance": None if self.relevance is None else round(self.relevance, 4),
            "confident": self.confident,
            "resume": resume_command(p),
        }


#: How each agent reopens a session, by id.
_RESUME = {
    "claude-code": "claude --resume {}",
    "codex": "codex resume {}",
    "gemini-cli": "gemini --resume {}",
}


def resume_command(payload: Mapping[str, Any]) -> str:
    """The shell command that reopens the session in the agent that wrote it."""
    agent = payload.get("agent") or "claude-code"
    # Every part comes from a transcript, so every part is quoted: a session id
    # like "x;curl x|sh" must stay one word of the command a person copies.
    session = shlex.quote(str(payload.get("session_id")))
    command = _RESUME.get(agent, _RESUME["claude-code"]).format(session)
    # Sessions are found per project folder, so resume from there (a Gemini
    # project known only by its hash has no folder to go to).
    cwd = payload.get("project") or payload.get("cwd")
    return f"cd {shlex.quote(cwd)} && {command}" if cwd and "/" in cwd else command


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
    """``found`` with its neighbouring chunks, the prompt it answered, its conclusion
    and its exchange's chunks (the prompt's not among them)."""
    p = found.best.payload
    session = str(p.get("session_id"))
    exchange: dict[str, Hit] = {found.best.id: found.best}
    if p.get("message_uuid"):
        same_message = Where({"session_id": session, "message_uuid": str(p["message_uuid"])})
        message = sink.scroll(same_message, _MESSAGE_CHUNKS_MAX)
        exchange.update((h.id, h) for h in message)
        before, after = neighbours(found.best, message)
        found = dataclasses.replace(found, before=before, after=after)
    when = p.get("timestamp")
    if not when:
        return dataclasses.replace(found, exchange=tuple(exchange.values()))
    prompts = sink.scroll(Where({"session_id": session, "kind": "prompt"}), _PROMPTS_MAX)
    began, ends = exchange_bounds(prompts, str(when))
    if began is not None and p.get("kind") != "prompt":
        # Shown as the prompt, so not among the exchange's chunks: a highlight
        # that repeats the question adds nothing.
        found = dataclasses.replace(found, prompt=str(began.payload.get("text", "")))
    since = str(began.payload.get("timestamp")) if began is not None else str(when)
    answers = sink.scroll(
        Where({"session_id": session, "kind": "answer"}, since=since, until=ends),
        _ANSWERS_MAX,
    )
    exchange.update((h.id, h) for h in answers)
    last = _last_answer(answers, ends)
    if last is not None and last.id != found.best.id:
        found = dataclasses.replace(found, conclusion=str(last.payload.get("text", "")))
    return dataclasses.replace(found, exchange=tuple(exchange.values()))


def _order(hit: Hit) -> tuple[str, int]:
    return str(hit.payload.get("timestamp")), -int(hit.payload.get("chunk_index") or 0)


def exchange_bounds(prompts: Sequence[Hit], when: str) -> tuple[Hit | None, str | None]:
    """The prompt an exchange at ``when`` began with (its first chunk), and when the next began.

    ``prompts``: a session's prompt chunks; ``when``: an ISO 8601 timestamp.
    """
    earlier = [h for h in prompts if str(h.payload.get("timestamp")) <= when]
    later = [t for t in (str(h.payload.get("timestamp")) for h in prompts) if t > when]
    began = max(earlier, key=_order) if earlier else None
    return began, min(later) if later else None


def _last_answer(answers: Sequence[Hit], ends: str | None) -> Hit | None:
    """The first chunk of the latest answer message before ``ends``."""
    firsts = [
        h
        for h in answers
        if not h.payload.get("chunk_index")
        and (ends is None or str(h.payload.get("timestamp")) < ends)
    ]
    return max(firsts, key=_order) if firsts else None


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
