"""Queries: embed the question, find the nearest chunks, one hit per session.

People ask "which conversation was that?", so a result is a session, shown by
its best-matching chunk. The store is asked for several times more chunks
than sessions wanted, because one long session often fills the top ranks
with near-identical chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streaming_importer.embed import Embedder
from streaming_importer.sink import Hit, Sink

__all__ = [
    "best_per_session",
    "candidates",
    "hit_json",
    "project_filter",
    "search_sessions",
]

#: Chunks fetched per session asked for (at least 50).
OVERSAMPLE = 10


def project_filter(project: str | None) -> dict[str, str]:
    """A payload match for ``--project``: a full path, or just its last folder name."""
    if not project:
        return {}
    if "/" in project.strip("/"):
        return {"project": project.rstrip("/") or "/"}
    return {"project_name": project.strip("/")}


def candidates(limit: int) -> int:
    """How many chunks to fetch for ``limit`` sessions."""
    return max(limit * OVERSAMPLE, 50)


def best_per_session(hits: Iterable[Hit], limit: int) -> list[Hit]:
    """The first (best) hit of each session, for at most ``limit`` sessions."""
    best: dict[str, Hit] = {}
    for hit in hits:  # sorted by score, best first
        session = str(hit.payload.get("session_id"))
        if session not in best:
            best[session] = hit
            if len(best) == limit:
                break
    return list(best.values())


def search_sessions(
    embedder: Embedder, sink: Sink, query: str, limit: int, match: Mapping[str, str]
) -> list[Hit]:
    """The best chunk of each of the ``limit`` best-matching sessions, best first."""
    vector = embedder.embed([query])[0]
    return best_per_session(sink.search(vector, candidates(limit), match), limit)


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as the JSON object ``search --json`` prints."""
    return {"score": round(hit.score, 4), "id": hit.id, **hit.payload}
