"""Ranking: the dense and the BM25 candidates fused, weighed, and grouped by session.

Pure. The store returns two ranked lists of chunks for a query (nearest by the
model's vector, best by BM25); :func:`fuse` merges them by weighted reciprocal
rank, :func:`rank_chunks` weighs the fused chunks, :func:`rank_sessions` turns
them into sessions. The constants of :class:`Ranking` were chosen on dev
halves only (the project's own questions and LoCoMo's conversations,
``benchmarks/tune.py``) and are reported on the test halves and on
LongMemEval (``benchmarks/evaluate.py``); see docs/search-quality.md.

- Fusion: a chunk's score is ``sum(weight / (k + rank))`` over the lists it
  is in (rank from 1).
- Kind: what a tool printed (fetched documentation, file contents, long
  command output) is weighed down by ``tool_weight``, and the assistant's
  thinking by ``thinking_weight``, so what the person and the assistant said
  comes first when both match; nothing is dropped, so an error message or a
  command's output is still found when nothing else matches.
- Neighbours: a chunk gains a share of the scores of the other side's
  records just before and after its own (a prompt and the answer it got).
- Sessions: a session scores its best chunk plus ``spread`` times its second
  and ``spread`` squared times its third best (0: the best chunk alone),
  times the recency factor when asked for.
- Words first (:mod:`~streaming_importer.search.lexical`): within a session,
  a chunk that is the query is its best, then one holding it verbatim, then
  one holding all the query's content words, whatever the scores; a session
  whose best chunk holds the query verbatim ranks above those that do not. No neighbour's
  support, recency or grouping undoes that: a line typed word for word is
  the one shown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from streaming_importer.search.lexical import Match, content_words, match
from streaming_importer.store import Hit

__all__ = ["DEFAULT", "Ranking", "fuse", "rank_chunks", "rank_sessions", "recency_factor"]


@dataclasses.dataclass(frozen=True, slots=True)
class Ranking:
    """How chunks are scored and sessions ranked (defaults: chosen on the dev half)."""

    #: Reciprocal-rank constant: small, the top ranks decide; large, depth counts.
    rrf_k: float = 5.0
    dense_weight: float = 1.0
    bm25_weight: float = 1.5
    #: Multiplier of tool results' (and tool calls') scores.
    tool_weight: float = 0.7
    #: Multiplier of the assistant's thinking's scores.
    thinking_weight: float = 0.5
    #: Weight of a session's second best chunk (its square: the third's).
    spread: float = 0.0
    #: Share of the other side's neighbouring records' best scores a chunk gains.
    neighbours: float = 0.5


DEFAULT = Ranking()
#: Kinds whose text the tools wrote, not the person or the assistant.
_TOOL_KINDS = frozenset({"tool_result", "tool_call"})
#: Chunks of a session counted in its score.
_SESSION_DEPTH = 3
#: Chunks of a session kept with it.
_OTHERS = 8


def fuse(dense: Sequence[Hit], sparse: Sequence[Hit], ranking: Ranking = DEFAULT) -> list[Hit]:
    """Both rankings merged, best first; a hit's score becomes its fused score.

    Either list may be empty (a dense-only or BM25-only query): the other is
    then returned as it is, with its own scores (cosine similarity, BM25).
    """
    if not dense or not sparse:
        return list(dense or sparse)
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits, weight in ((dense, ranking.dense_weight), (sparse, ranking.bm25_weight)):
        for rank, hit in enumerate(hits, 1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (ranking.rrf_k + rank)
            first.setdefault(hit.id, hit)
    ordered = sorted(scores, key=lambda i: scores[i], reverse=True)
    return [dataclasses.replace(first[i], score=scores[i]) for i in ordered]


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
class Ranked:
    """One session: its score, its best chunk, and how many of its chunks matched."""

    session_id: str
    score: float
    best: Hit
    matches: int
    #: How the best chunk holds the query's words.
    match: Match = Match.NONE
    #: The session's best chunks among the candidates, best first (at most
    #: ``_OTHERS``): where else in the session the query's words are.
    chunks: tuple[Hit, ...] = ()


def rank_chunks(hits: Iterable[Hit], ranking: Ranking = DEFAULT) -> list[Hit]:
    """Fused hits weighed by kind and by their neighbours, best first.

    A chunk gains ``neighbours`` times the best scores of the other side's
    chunks in the records just before and after its own in the same file
    (``turn`` +- 1, another ``role``), when those are candidates too: a
    question and the answer it got, or a statement and the reply to it,
    support each other. With ``neighbours`` below 1, the better of two such
    neighbours stays ahead.
    """
    weighed = []
    for hit in hits:
        kind = hit.payload.get("kind")
        factor = 1.0
        if kind in _TOOL_KINDS:
            factor = ranking.tool_weight
        elif kind == "thinking":
            factor = ranking.thinking_weight
        weighed.append((hit.score * factor, hit))
    # The best score of each record's chunks, by the role that wrote them.
    best_at: dict[tuple[object, int, object], float] = {}
    for score, hit in weighed:
        turn = hit.payload.get("turn")
        if isinstance(turn, int) and turn > 0:
            key = (hit.payload.get("path"), turn, hit.payload.get("role"))
            best_at[key] = max(best_at.get(key, 0.0), score)
    roles = {key[2] for key in best_at}
    out = []
    for score, hit in weighed:
        turn, role = hit.payload.get("turn"), hit.payload.get("role")
        if isinstance(turn, int) and turn > 0 and ranking.neighbours:
            path = hit.payload.get("path")
            # Only the other side of the conversation supports a chunk: a run
            # of one side's records (prompts typed one after another, the
            # assistant's thinking then its text) is not an exchange.
            near = sum(
                best_at.get((path, t, other), 0.0)
                for t in (turn - 1, turn + 1)
                for other in roles
                if other != role
            )
            score += ranking.neighbours * near
        out.append(dataclasses.replace(hit, score=score))
    out.sort(key=lambda h: h.score, reverse=True)
    return out


def rank_sessions(
    hits: Iterable[Hit],
    limit: int,
    now: dt.datetime,
    half_life_s: float | None,
    ranking: Ranking = DEFAULT,
    query: str = "",
) -> list[Ranked]:
    """At most ``limit`` sessions, best first, from fused chunk hits.

    ``query``: its text, for the words-first order (none if empty).
    """
    words = content_words(query)
    per_session: dict[str, list[tuple[Match, float, Hit]]] = {}
    for hit in rank_chunks(hits, ranking):
        score = hit.score
        if half_life_s is not None:
            score *= recency_factor(hit.payload.get("timestamp"), now, half_life_s)
        held = match(query, words, str(hit.payload.get("text", ""))) if query else Match.NONE
        per_session.setdefault(str(hit.payload.get("session_id")), []).append((held, score, hit))
    ranked = []
    for session, scored in per_session.items():
        # Scores decide the session's score; words decide which chunk shows it.
        by_score = sorted((score for _, score, _ in scored), reverse=True)
        total = sum(score * ranking.spread**i for i, score in enumerate(by_score[:_SESSION_DEPTH]))
        held, _, best = max(scored, key=lambda m: (m[0], m[1]))
        others = tuple(h for _, _, h in sorted(scored, key=lambda m: (m[0], m[1]), reverse=True))
        ranked.append(Ranked(session, total, best, len(scored), held, others[:_OTHERS]))
    ranked.sort(key=lambda r: (r.match >= Match.VERBATIM, r.score), reverse=True)
    return ranked[:limit]
