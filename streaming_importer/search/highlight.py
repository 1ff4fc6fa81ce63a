"""Highlights: the lines of a hit's exchange that answer the query. Pure.

A session is found by its best chunk, but the answer to "which library did we
settle on" is often a sentence elsewhere in the exchange: further on in the
assistant's reply, in its last answer, or in another of the session's best
chunks. So those chunks (gathered by
:func:`~streaming_importer.search.results.with_context`, nearest the hit first:
:func:`nearest_first`) are cut into short windows (a sentence or line and the
next, :func:`windows`), and each is scored by the query's words, as the
store's BM25 analyser cuts them (stemmed, stop words out): the query verbatim
first, then the share of its terms the window holds, then nearness to the
hit. The best one or two are shown, with their place.

Scoring the windows with the model too was measured (``benchmarks/tune_answers.py``,
dev halves): the same answers found, at about 250 ms more per search. The
model's part is the ranking and the relevance floor
(:mod:`~streaming_importer.search.find`). Constants chosen there too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.search.lexical import holds, normalized, phrase
from streaming_importer.store import Hit

__all__ = [
    "Highlight",
    "HighlightWeights",
    "Highlighter",
    "nearest_first",
    "sentences",
    "windows",
]

#: Chunks read for one result's highlights, nearest the hit first.
CHUNKS_PER_HIT = 48
#: Windows of one result scored.
WINDOWS_PER_HIT = 400
#: Characters of a sentence or window, at most; longer sentences are cut.
SENTENCE_CHARS = 320
#: Score of a sentence that holds the query verbatim, shown alone: above any
#: window's (its share of the query's words, up to 1, plus 1 if it holds the
#: query across its two sentences).
_ALONE = 3.0
#: Characters of a passage or a conclusion every surface shows.
SHOWN_WHOLE = 300
#: Highlights shown per hit.
SHOWN = 2

_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'`(\[*A-Z0-9])|\n+")
#: Three word characters: less is not a sentence.
_WORDS3 = re.compile(r"\w\W*\w\W*\w")


@dataclasses.dataclass(frozen=True, slots=True)
class HighlightWeights:
    """How highlights are chosen (defaults: chosen on the dev halves).

    A lower weight for tools' output was measured (0.5, 0.8) and changed no
    answer on dev, so tools' windows count as any other.
    """

    #: A second highlight is shown if it scores at least this share of the first.
    second_share: float = 0.7


DEFAULT_WEIGHTS = HighlightWeights()


@dataclasses.dataclass(frozen=True, slots=True)
class Highlight:
    """A sentence shown beside a hit, and where it is."""

    text: str
    #: The share of the query's words it holds (0 to 1), plus 1 if it holds the
    #: query verbatim across its two sentences; 3 if one sentence holds it.
    score: float
    #: The chunk it is in: its point id, kind, timestamp, and the sentence's
    #: first character in the chunk's text.
    chunk_id: str
    kind: str
    timestamp: str | None
    start: int

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": round(self.score, 4),
            "chunk_id": self.chunk_id,
            "kind": self.kind,
            "timestamp": self.timestamp,
            "start": self.start,
        }


def sentences(text: str) -> list[tuple[int, str]]:
    """``text`` cut into lines and sentences, long ones into windows: (start, sentence)."""
    out: list[tuple[int, str]] = []
    at = 0
    for piece in _BREAK.split(text):
        start = text.find(piece, at)
        at = start + len(piece)
        stripped = piece.strip(" \t-*#>|`")
        if not _WORDS3.search(stripped):
            continue
        offset = start + piece.find(stripped)
        while len(stripped) > SENTENCE_CHARS:
            cut = stripped.rfind(" ", SENTENCE_CHARS // 2, SENTENCE_CHARS)
            cut = cut if cut > 0 else SENTENCE_CHARS
            out.append((offset, stripped[:cut]))
            rest = stripped[cut:].lstrip()
            offset += len(stripped) - len(rest)
            stripped = rest
        if _WORDS3.search(stripped):
            out.append((offset, stripped))
    return out


def windows(text: str) -> list[tuple[int, str, str]]:
    """Each sentence of ``text`` with the next one when both fit :data:`SENTENCE_CHARS`:
    (start, the sentence, the window).

    What answers is often the sentence after the one that matches ("it is
    tracked, so stage it explicitly:" and then the command), so the pair is
    what is scored and shown; a sentence too long to pair stands alone.
    """
    cut = sentences(text)
    out = []
    for i, (start, sentence) in enumerate(cut):
        window = sentence
        if i + 1 < len(cut):
            end = cut[i + 1][0] + len(cut[i + 1][1])
            if end - start <= SENTENCE_CHARS:
                window = text[start:end]
        out.append((start, sentence, window))
    return out


@dataclasses.dataclass(slots=True)
class _Candidate:
    chunk: Hit
    start: int
    text: str
    #: ``text`` normalized (:func:`~.lexical.normalized`).
    key: str
    score: float
    near: int


class Highlighter:
    """Chooses highlights by the query's words, with the store's BM25 analyser."""

    def __init__(self, encoder: Bm25Encoder, weights: HighlightWeights = DEFAULT_WEIGHTS) -> None:
        self._encoder = encoder
        self.weights = weights

    def choose(
        self, query: str, chunks: Sequence[Hit], shown: Sequence[str] = ()
    ) -> tuple[Highlight, ...]:
        """The best one or two windows of ``chunks`` (nearest the hit first) for ``query``.

        ``shown``: texts the result shows anyway (its passage, its conclusion);
        a window within the first :data:`SHOWN_WHOLE` characters of one (what
        every surface shows of it) is not highlighted again, unless it is the
        query itself.
        """
        found = self.eligible(query, chunks, shown)
        if not found:
            return ()
        found.sort(key=lambda c: (c.score, -c.near, -c.start), reverse=True)
        chosen = found[:1]
        for c in found[1:]:
            if len(chosen) >= SHOWN or c.score < self.weights.second_share * chosen[0].score:
                break
            if not any(_overlap(c, s) for s in chosen):
                chosen.append(c)
        return tuple(_highlight(c) for c in chosen)

    def eligible(self, query: str, chunks: Sequence[Hit], shown: Sequence[str]) -> list[_Candidate]:
        """The windows :meth:`choose` chooses from: scored, holding some of the query's
        words, and not within what ``shown`` shows anyway (unless the query itself)."""
        whole = [normalized(t[:SHOWN_WHOLE]) for t in shown]
        return [
            c
            for c in self._candidates(chunks, self._encoder.stems(query), phrase(query))
            # A window that holds none of the query's words answers nothing.
            if c.score > 0 and (c.score >= _ALONE or not any(c.key in t for t in whole))
        ]

    def _candidates(
        self, chunks: Sequence[Hit], wanted: frozenset[int], needle: str
    ) -> list[_Candidate]:
        """Each window of the first :data:`CHUNKS_PER_HIT` chunks, scored by its words.

        ``needle``: the query as a phrase (:func:`~.lexical.phrase`), or "".
        """
        seen: set[str] = set()
        found: list[_Candidate] = []
        for rank, chunk in enumerate(chunks[:CHUNKS_PER_HIT]):
            cut = windows(str(chunk.payload.get("text", "")))
            # Each sentence's words once; a window's are its sentences'.
            stems = [self._encoder.stems(first) for _, first, _ in cut]
            for i, (start, first, window) in enumerate(cut):
                key = normalized(window)
                if key in seen:
                    continue  # chunks overlap: the same window twice
                seen.add(key)
                alone = normalized(first)
                if needle and holds(alone, needle):
                    # The query itself: the line that holds it, alone.
                    found.append(_Candidate(chunk, start, first, alone, _ALONE, rank))
                    continue
                terms = stems[i] | stems[i + 1] if len(window) > len(first) else stems[i]
                share = len(wanted & terms) / len(wanted) if wanted else 0.0
                verbatim = 1.0 if needle and holds(key, needle) else 0.0
                found.append(_Candidate(chunk, start, window, key, share + verbatim, rank))
                if len(found) >= WINDOWS_PER_HIT:
                    return found
        return found


def _overlap(a: _Candidate, b: _Candidate) -> bool:
    return (
        a.chunk.id == b.chunk.id
        and a.start < b.start + len(b.text)
        and b.start < a.start + len(a.text)
    )


def nearest_first(hit: Hit, related: Sequence[Hit], exchange: Sequence[Hit]) -> list[Hit]:
    """Where a hit's highlight is looked for, in order, each chunk once.

    The hit, the rest of its message (nearest chunk first), the session's other
    best chunks (``related``, best first), then the exchange by time: after the
    hit (what it led to), then before it, nearest first.
    """
    at = str(hit.payload.get("timestamp") or "")
    index = int(hit.payload.get("chunk_index") or 0)
    message = hit.payload.get("message_uuid")

    def by_time(chunk: Hit) -> tuple[bool, str, int]:
        when = str(chunk.payload.get("timestamp") or "")
        return (
            when < at,
            when if when >= at else _reverse(when),
            int(chunk.payload.get("chunk_index") or 0),
        )

    own = [c for c in exchange if c.payload.get("message_uuid") == message]
    own.sort(key=lambda c: abs(int(c.payload.get("chunk_index") or 0) - index))
    rest = sorted((c for c in exchange if c.payload.get("message_uuid") != message), key=by_time)
    ordered: dict[str, Hit] = {}
    for chunk in (hit, *own, *related, *rest):
        ordered.setdefault(chunk.id, chunk)
    return list(ordered.values())


def _reverse(text: str) -> str:
    """A key that sorts ``text`` latest first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def _highlight(c: _Candidate) -> Highlight:
    p = c.chunk.payload
    return Highlight(
        c.text, c.score, c.chunk.id, str(p.get("kind", "")), p.get("timestamp"), c.start
    )
