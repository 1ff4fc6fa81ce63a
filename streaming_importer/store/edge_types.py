"""Our points, sparse vectors and filters in qdrant-edge-py's own types (not qdrant-client's)."""

from __future__ import annotations

from typing import Any

import qdrant_edge as qe

from streaming_importer.store.base import DENSE, SPARSE, Point, Sparse, Where

__all__ = ["edge_filter", "edge_vectors", "path_filter", "sparse_vector"]


def edge_vectors(point: Point) -> dict[str, Any]:
    vectors: dict[str, Any] = {DENSE: point.vector}
    if point.sparse is not None:
        vectors[SPARSE] = sparse_vector(point.sparse)
    return vectors


def sparse_vector(sparse: Sparse) -> Any:
    return qe.SparseVector(list(sparse.indices), list(sparse.values))


def edge_filter(where: Where) -> Any:
    conditions: list[Any] = [
        qe.FieldCondition(key, match=_match(value)) for key, value in where.equals.items()
    ]
    if where.since or where.until:
        conditions.append(
            qe.FieldCondition("timestamp", range=qe.RangeDateTime(gte=where.since, lt=where.until))
        )
    if where.offsets is not None:
        low, high = where.offsets
        conditions.append(qe.FieldCondition("offset", range=qe.RangeFloat(gte=low, lt=high)))
    excluded: list[Any] = [
        qe.FieldCondition(key, match=_match(value)) for key, value in where.differs.items()
    ]
    if not conditions and not excluded:
        return None
    return qe.Filter(must=conditions or None, must_not=excluded or None)


def _match(value: str | tuple[str, ...]) -> Any:
    return qe.MatchAny(list(value)) if isinstance(value, tuple) else qe.MatchValue(value)


def path_filter(source: str, path: str) -> Any:
    return qe.Filter(
        must=[
            qe.FieldCondition("source", match=qe.MatchValue(source)),
            qe.FieldCondition("path", match=qe.MatchValue(path)),
        ]
    )
