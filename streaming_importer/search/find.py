"""Search: a query in, the best sessions out, best first.

The query (:mod:`~streaming_importer.search.query`) is embedded by the model (unless
``bm25``) and turned into BM25 terms (unless ``dense``); the store ranks the
chunks that pass the filters by each; :mod:`~streaming_importer.search.ranking` fuses
the two lists and ranks sessions; the results are given their context
(:mod:`~streaming_importer.search.results`). The store is asked for several times
more chunks than sessions wanted, because one long session often fills the
top ranks with near-identical chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import Embedder
from streaming_importer.search.query import SearchQuery, candidates
from streaming_importer.search.ranking import DEFAULT, Ranking, fuse, rank_sessions
from streaming_importer.search.results import SessionHit, with_context
from streaming_importer.store import Sink

__all__ = ["find", "search"]


def search(
    embedder: Embedder,
    encoder: Bm25Encoder,
    sink: Sink,
    query: SearchQuery,
    now: dt.datetime | None = None,
    ranking: Ranking = DEFAULT,
) -> list[SessionHit]:
    """The ``query.limit`` best sessions for ``query``, best first, with context."""
    dense = embedder.embed([query.text])[0] if query.mode != "bm25" else None
    return find(sink, encoder, query, dense, now, ranking)


def find(
    sink: Sink,
    encoder: Bm25Encoder,
    query: SearchQuery,
    dense: Sequence[float] | None,
    now: dt.datetime | None = None,
    ranking: Ranking = DEFAULT,
) -> list[SessionHit]:
    """:func:`search` with the query's dense vector already computed (None in bm25 mode)."""
    now = now or dt.datetime.now(dt.UTC)
    n, where = candidates(query.limit), query.where()
    nearest = sink.search(n, where, dense=dense) if dense is not None else []
    best_terms = (
        sink.search(n, where, sparse=encoder.query(query.text)) if query.mode != "dense" else []
    )
    ranked = rank_sessions(
        fuse(nearest, best_terms, ranking), query.limit, now, query.half_life_s, ranking
    )
    return [with_context(sink, SessionHit(r.best, r.score, r.matches)) for r in ranked]
