"""A Qdrant server, through qdrant-client.

The model identity is kept in the collection's own metadata. Every upsert
waits for the server's acknowledgement (``wait=True``): the lifecycle
advances the checkpoint on the strength of it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from streaming_importer.errors import StoreError, StoreUnavailableError
from streaming_importer.ops.values import mask_url
from streaming_importer.store.base import (
    DATETIME_FIELDS,
    DENSE,
    KEYWORD_FIELDS,
    SCHEMA,
    SPARSE,
    Hit,
    ModelIdentity,
    Point,
    Sparse,
    Where,
    check_identity,
)

__all__ = ["ServerSink"]

logger = logging.getLogger(__name__)

_META_KEY = "streaming_importer_model"
#: The redaction rule set the collection's text was stored under (collection metadata).
_REDACTION_KEY = "streaming_importer_redaction"
#: Errors that mean the server could not be reached or answered badly.
_TRANSPORT_ERRORS = (ResponseHandlingException, UnexpectedResponse, ConnectionError, TimeoutError)


class ServerSink:
    """One collection on a Qdrant server (or qdrant-client's ``:memory:`` stand-in)."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        where: str,
        *,
        shards: int = 1,
        replicas: int = 1,
    ) -> None:
        self._client = client
        self._collection = collection
        self._where = where
        self._exists = False
        #: The collection's metadata: model identity, redaction rule set.
        self._metadata: dict[str, Any] = {}
        #: For a collection created here (an existing one keeps its own).
        self._shards = shards
        self._replicas = replicas

    @classmethod
    def from_url(
        cls, url: str, api_key: str | None, collection: str, *, shards: int = 1, replicas: int = 1
    ) -> ServerSink:
        if url == ":memory:":
            client = QdrantClient(location=":memory:")
        else:
            client = QdrantClient(url=url, api_key=api_key, timeout=30)
        # Only in messages: credentials in the URL are not shown.
        return cls(client, collection, mask_url(url), shards=shards, replicas=replicas)

    def open(self, identity: ModelIdentity | None, *, create: bool = True) -> None:
        try:
            exists = self._client.collection_exists(self._collection)
            if exists:
                self._metadata = self._read_metadata()
                check_identity(self.stored_identity(), identity, self._describe())
            elif create and identity is not None:
                self._create(identity)
                exists = True
        except _TRANSPORT_ERRORS as e:
            raise StoreError(f"cannot reach Qdrant at {self._where}: {e}") from e
        self._exists = exists

    def _describe(self) -> str:
        return f"collection {self._collection!r} on {self._where}"

    def _create(self, identity: ModelIdentity) -> None:
        self._metadata = {_META_KEY: {**identity.to_json(), "schema": SCHEMA}}
        self._client.create_collection(
            self._collection,
            vectors_config={
                DENSE: models.VectorParams(size=identity.dim, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=self._metadata,
            shard_number=self._shards,
            replication_factor=self._replicas,
        )
        schema = models.PayloadSchemaType
        fields = [(n, schema.KEYWORD) for n in KEYWORD_FIELDS]
        for name, kind in fields + [(n, schema.DATETIME) for n in DATETIME_FIELDS]:
            self._client.create_payload_index(self._collection, name, kind, wait=True)
        logger.info(
            "created %s (%d dims, %d shards, %d replicas)",
            self._describe(),
            identity.dim,
            self._shards,
            self._replicas,
        )

    def _read_metadata(self) -> dict[str, Any]:
        return dict(self._client.get_collection(self._collection).config.metadata or {})

    def stored_identity(self) -> dict[str, Any] | None:
        if not self._client.collection_exists(self._collection):
            return None
        stored = self._read_metadata().get(_META_KEY)
        return stored if isinstance(stored, dict) else None

    def stored_redaction(self) -> str | None:
        # As read (or written) when the collection was opened: one request fewer.
        rules = self._metadata.get(_REDACTION_KEY)
        return rules if isinstance(rules, str) else None

    def record_redaction(self, rules: str) -> None:
        with self._transient():
            self._client.update_collection(self._collection, metadata={_REDACTION_KEY: rules})
        self._metadata[_REDACTION_KEY] = rules

    def upsert(self, points: Sequence[Point]) -> None:
        if not points:
            return
        structs = [
            models.PointStruct(id=p.id, vector=_vectors(p), payload=p.payload) for p in points
        ]
        with self._transient():
            self._client.upsert(self._collection, points=structs, wait=True)

    @contextlib.contextmanager
    def _transient(self) -> Iterator[None]:
        """Transport failures become StoreUnavailableError, which the caller retries."""
        try:
            yield
        except UnexpectedResponse as e:
            # 5xx and 429 pass; anything else (a bad request) is a bug to crash on.
            if e.status_code is not None and e.status_code < 500 and e.status_code != 429:
                raise
            raise StoreUnavailableError(f"Qdrant at {self._where} answered {e.status_code}") from e
        except _TRANSPORT_ERRORS as e:
            raise StoreUnavailableError(f"Qdrant at {self._where} did not answer: {e}") from e

    # wait=True already made every upsert durable on the server, which also
    # indexes in its own threads: nothing to flush or build here.
    def flush(self) -> None:
        return None

    def index_due(self) -> bool:
        return False

    index_overdue = index_due
    build_index = flush

    def search(
        self,
        limit: int,
        where: Where,
        *,
        dense: Sequence[float] | None = None,
        sparse: Sparse | None = None,
    ) -> list[Hit]:
        if not self._exists:
            return []
        using, query = _one_query(dense, sparse)
        with self._transient():
            result = self._client.query_points(
                self._collection,
                query=query,
                using=using,
                limit=limit,
                with_payload=True,
                query_filter=_filter(where),
            )
        return [
            Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {}))
            for p in result.points
        ]

    def scroll(self, where: Where, limit: int) -> list[Hit]:
        if not self._exists:
            return []
        with self._transient():
            records, _ = self._client.scroll(
                self._collection, scroll_filter=_filter(where), limit=limit, with_payload=True
            )
        return [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]

    def pages(self, size: int) -> Iterator[list[Hit]]:
        offset = None
        while self._exists:
            with self._transient():
                records, offset = self._client.scroll(
                    self._collection, offset=offset, limit=size, with_payload=True
                )
            if records:
                yield [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]
            if offset is None:
                return

    def count(self, where: Where | None = None) -> int:
        if not self._exists:
            return 0
        with self._transient():
            found = self._client.count(
                self._collection, count_filter=_filter(where) if where else None, exact=True
            )
            return int(found.count)

    def tally(self, field: str, limit: int) -> dict[str, int]:
        if not self._exists:
            return {}
        with self._transient():
            found = self._client.facet(self._collection, field, limit=limit, exact=True)
        return {str(hit.value): int(hit.count) for hit in found.hits}

    def delete_path(self, source: str, path: str) -> None:
        selector = models.FilterSelector(filter=_path_filter(source, path))
        with self._transient():
            self._client.delete(self._collection, points_selector=selector, wait=True)

    def delete_where(self, where: Where) -> None:
        if not self._exists:
            return
        selector = models.FilterSelector(filter=_filter(where) or models.Filter())
        with self._transient():
            self._client.delete(self._collection, points_selector=selector, wait=True)

    def drop(self) -> None:
        with self._transient():
            self._client.delete_collection(self._collection)
        self._exists = False
        logger.info("deleted %s", self._describe())

    def move_path(self, source: str, old: str, new: str) -> None:
        with self._transient():
            self._client.set_payload(
                self._collection, payload={"path": new}, points=_path_filter(source, old), wait=True
            )

    def close(self) -> None:
        self._client.close()


def _vectors(point: Point) -> dict[str, Any]:
    vectors: dict[str, Any] = {DENSE: point.vector}
    if point.sparse is not None:
        vectors[SPARSE] = _sparse(point.sparse)
    return vectors


def _sparse(sparse: Sparse) -> models.SparseVector:
    return models.SparseVector(indices=list(sparse.indices), values=list(sparse.values))


def _filter(where: Where) -> models.Filter | None:
    conditions: list[models.Condition] = [
        models.FieldCondition(key=key, match=_match(value)) for key, value in where.equals.items()
    ]
    if where.since or where.until:
        conditions.append(
            models.FieldCondition(
                key="timestamp",
                range=models.DatetimeRange(gte=_instant(where.since), lt=_instant(where.until)),
            )
        )
    if where.offsets is not None:
        low, high = where.offsets
        conditions.append(models.FieldCondition(key="offset", range=models.Range(gte=low, lt=high)))
    excluded: list[models.Condition] = [
        models.FieldCondition(key=key, match=_match(value)) for key, value in where.differs.items()
    ]
    if not conditions and not excluded:
        return None
    return models.Filter(must=conditions or None, must_not=excluded or None)


def _match(value: str | tuple[str, ...]) -> models.MatchAny | models.MatchValue:
    if isinstance(value, tuple):
        return models.MatchAny(any=list(value))
    return models.MatchValue(value=value)


def _instant(iso: str | None) -> datetime.datetime | None:
    return None if iso is None else datetime.datetime.fromisoformat(iso)


def _path_filter(source: str, path: str) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(key="source", match=models.MatchValue(value=source)),
            models.FieldCondition(key="path", match=models.MatchValue(value=path)),
        ]
    )


def _one_query(dense: Sequence[float] | None, sparse: Sparse | None) -> tuple[str, Any]:
    if (dense is None) == (sparse is None):
        raise ValueError("search takes a dense or a sparse vector, not both or neither")
    if dense is not None:
        return DENSE, list(dense)
    assert sparse is not None
    return SPARSE, _sparse(sparse)
