"""Search: a query in, the best sessions out, best first.

The query (:mod:`~streaming_importer.query`) is embedded by the model (unless
``bm25``) and turned into BM25 terms (unless ``dense``); the store fuses both
rankings (RRF) over the candidates that pass the filters; the results are
grouped by session and given their context (:mod:`~streaming_importer.results`).
The store is asked for several times more chunks than sessions wanted, because
one long session often fills the top ranks with near-identical chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from streaming_importer.embed import Embedder
from streaming_importer.lexical import Bm25Encoder
from streaming_importer.query import SearchQuery, candidates
from streaming_importer.results import SessionHit, group_by_session, with_context
from streaming_importer.sink import Sink

__all__ = ["find", "search"]


def search(
    embedder: Embedder,
    encoder: Bm25Encoder,
    sink: Sink,
    query: SearchQuery,
    now: dt.datetime | None = None,
) -> list[SessionHit]:
    """The ``query.limit`` best sessions for ``query``, best first, with context."""
    dense = embedder.embed([query.text])[0] if query.mode != "bm25" else None
    return find(sink, encoder, query, dense, now)


def find(
    sink: Sink,
    encoder: Bm25Encoder,
    query: SearchQuery,
    dense: Sequence[float] | None,
    now: dt.datetime | None = None,
) -> list[SessionHit]:
    """:func:`search` with the query's dense vector already computed (None in bm25 mode)."""
    now = now or dt.datetime.now(dt.UTC)
    sparse = encoder.query(query.text) if query.mode != "dense" else None
    hits = sink.search(candidates(query.limit), query.where(), dense=dense, sparse=sparse)
    return [
        with_context(sink, found)
        for found in group_by_session(hits, query.limit, now, query.half_life_s)
    ]
