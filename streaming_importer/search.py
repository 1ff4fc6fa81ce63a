"""Queries: embed the question, find the nearest chunks, one hit per session.

People ask "which conversation was that?", so a result is a session, shown by
its best-matching chunk. The store is asked for several times more chunks
than sessions wanted, because one long session often fills the top ranks
with near-identical chunks.
"""

from __future__ import annotations

from collections.abc import Mapping

from streaming_importer.embed import Embedder
from streaming_importer.sink import Hit, Sink

__all__ = ["OVERSAMPLE", "project_filter", "search_sessions"]

#: Chunks fetched per session asked for (at least 50).
OVERSAMPLE = 10


def project_filter(project: str | None) -> dict[str, str]:
    """A payload match for ``--project``: a full path, or just its last folder name."""
    if not project:
        return {}
    if "/" in project.strip("/"):
        return {"project": project.rstrip("/") or "/"}
    return {"project_name": project.strip("/")}


def search_sessions(
    embedder: Embedder, sink: Sink, query: str, limit: int, match: Mapping[str, str]
) -> list[Hit]:
    """The best chunk of each of the ``limit`` best-matching sessions, best first."""
    vector = embedder.embed([query])[0]
    hits = sink.search(vector, max(limit * OVERSAMPLE, 50), match)
    best: dict[str, Hit] = {}
    for hit in hits:  # sorted by score, best first
        session = str(hit.payload.get("session_id"))
        if session not in best:
            best[session] = hit
            if len(best) == limit:
                break
    return list(best.values())
