"""Search: a query in, the best sessions out, best first.

The query (:mod:`~streaming_importer.search.query`) is embedded by the model (unless
``bm25``) and turned into BM25 terms (unless ``dense``); the store ranks the
chunks that pass the filters by each; :mod:`~streaming_importer.search.ranking` fuses
the two lists and ranks sessions; the results are given their context
(:mod:`~streaming_importer.search.results`), then their highlights and whether
they are confident matches (:mod:`~streaming_importer.search.highlight`). The
store is asked for several times more chunks than sessions wanted, because one
long session often fills the top ranks with near-identical chunks.

Highlights are chosen by words (no model call), so :func:`find` needs the
store and the query's vector only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import Embedder
from streaming_importer.search.highlight import Highlighter, nearest_first
from streaming_importer.search.lexical import holds_every_term
from streaming_importer.search.query import SearchQuery, candidates
from streaming_importer.search.ranking import DEFAULT, Ranking, fuse, rank_sessions
from streaming_importer.search.results import SessionHit, with_context
from streaming_importer.store import Hit, Sink

__all__ = ["RELEVANCE_FLOOR", "best_cosines", "find", "is_confident", "search"]


#: Below this, the top hit is not a confident match: the highest cosine
#: similarity between the query and its session's candidate chunks under which,
#: on the dev halves, the first result was wrong more often than right
#: (``benchmarks/tune_answers.py``). Model all-MiniLM-L6-v2; other models' scores
#: are on other scales, and the same floor is applied to them untested.
RELEVANCE_FLOOR = 0.46


def search(
    embedder: Embedder,
    encoder: Bm25Encoder,
    sink: Sink,
    query: SearchQuery,
    now: dt.datetime | None = None,
    ranking: Ranking = DEFAULT,
) -> list[SessionHit]:
    """The ``query.limit`` best sessions for ``query``, best first, with context and highlights."""
    dense = embedder.embed([query.text])[0] if query.mode != "bm25" else None
    return find(sink, encoder, query, dense, now, ranking)


def find(
    sink: Sink,
    encoder: Bm25Encoder,
    query: SearchQuery,
    dense: Sequence[float] | None,
    now: dt.datetime | None = None,
    ranking: Ranking = DEFAULT,
    highlighter: Highlighter | None = None,
) -> list[SessionHit]:
    """:func:`search` with the query's dense vector already computed (None in bm25 mode).

    Each hit's ``relevance`` is the highest cosine similarity of its session's
    chunks among the model's candidates (None without the model, or when none
    of them is from that session); ``confident`` is false under the floor,
    unless the passage shown holds every word of the query (a SHA, a file
    name, an error: found by its words, whatever the model makes of them).
    Without the model no floor applies: it was calibrated on the model's scores.
    """
    now = now or dt.datetime.now(dt.UTC)
    highlighter = highlighter or Highlighter(encoder)
    n, where = candidates(query.limit), query.where()
    nearest = sink.search(n, where, dense=dense) if dense is not None else []
    best_terms = (
        sink.search(n, where, sparse=encoder.query(query.text)) if query.mode != "dense" else []
    )
    ranked = rank_sessions(
        fuse(nearest, best_terms, ranking),
        query.limit,
        now,
        query.half_life_s,
        ranking,
        query.text,
    )
    cosine = best_cosines(nearest)
    out = []
    for r in ranked:
        found = with_context(sink, SessionHit(r.best, r.score, r.matches, related=r.chunks))
        relevance = cosine.get(r.session_id) if dense is not None else None
        passage = str(found.best.payload.get("text", ""))
        shown = highlighter.choose(
            query.text,
            nearest_first(found.best, found.related, found.exchange),
            (passage, found.conclusion),
        )
        out.append(
            dataclasses.replace(
                found,
                highlight=shown,
                relevance=relevance,
                confident=dense is None or is_confident(query.text, passage, relevance),
            )
        )
    return out


def best_cosines(nearest: Sequence[Hit]) -> dict[str, float]:
    """Each session's highest cosine similarity among the model's candidates ``nearest``."""
    cosine: dict[str, float] = {}
    for hit in nearest:
        session = str(hit.payload.get("session_id"))
        cosine[session] = max(cosine.get(session, -1.0), hit.score)
    return cosine


def is_confident(query: str, passage: str, relevance: float | None) -> bool:
    """A result is a confident match: its ``relevance`` (cosine) at the floor or above,
    or its ``passage`` holding every token of ``query``."""
    return holds_every_term(query, passage) or (relevance or 0.0) >= RELEVANCE_FLOOR
