"""What recall brings an agent unasked: for a prompt, other sessions' best passages; at a
session's start, what its project's last sessions concluded. Blocking (store reads).

A prompt is recalled for only when it says something (:func:`worth_recalling`:
not a slash command, at least :data:`MIN_WORDS` words), and only results
above the relevance floor (``confident``) are kept: recall says nothing
rather than something weak. A session's conclusion is the first chunk of its
last answer, read from the stored points (at most :data:`ANSWERS_READ` of them).
"""

from __future__ import annotations

import re
from typing import Any

from streaming_importer.search.query import SearchQuery
from streaming_importer.store import Sink, Where

__all__ = [
    "ANSWERS_READ",
    "MIN_WORDS",
    "PROMPT_HITS",
    "conclusion",
    "prompt_query",
    "worth_recalling",
]

#: Words a prompt needs before recall searches for it.
MIN_WORDS = 4
#: Sessions searched for a prompt (before the floor; the current one left out).
PROMPT_HITS = 3
#: Answer chunks of a session read to find its last one, at most.
ANSWERS_READ = 2000
#: Characters of a prompt searched for (the model reads 256 tokens at most).
PROMPT_CHARS = 2000
_WORD = re.compile(r"\w+")


def worth_recalling(prompt: str) -> bool:
    """Whether ``prompt`` asks something recall can search for."""
    text = prompt.strip()
    return not text.startswith("/") and len(_WORD.findall(text)) >= MIN_WORDS


def prompt_query(prompt: str, session: str | None) -> SearchQuery:
    """The search recall runs for ``prompt``, typed in ``session`` (left out)."""
    return SearchQuery(
        text=prompt.strip()[:PROMPT_CHARS],
        limit=PROMPT_HITS,
        exclude_session=session or None,
    )


def conclusion(sink: Sink, session_id: str) -> dict[str, Any] | None:
    """The first chunk of the session's last answer (its payload), or None if none is stored.

    The first: a long answer's later chunks start mid-sentence, and an answer
    that closes a session usually says what was done at its start.
    """
    answers = sink.scroll(Where({"session_id": session_id, "kind": "answer"}), ANSWERS_READ)
    if not answers:
        return None
    last = max(
        answers,
        key=lambda h: (
            str(h.payload.get("timestamp") or ""),
            -(h.payload.get("part") or 0),
            -(h.payload.get("chunk_index") or 0),
        ),
    )
    return last.payload
