"""What a store is: the :class:`Sink` Protocol, the point types it keeps, the model identity.

The sink knows points (an id, a vector, a payload), not transcripts. Two
engines sit behind it:

- :class:`~streaming_importer.store.edge.EdgeSink`: qdrant-edge-py, Qdrant's
  own engine in this process, in a folder under the state folder (default).
- :class:`~streaming_importer.store.server.ServerSink`: a Qdrant server through
  qdrant-client (``QDRANT_URL``).

Methods are synchronous; the lifecycle calls them from a worker thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from streaming_importer.errors import ModelMismatchError

__all__ = [
    "DATETIME_FIELDS",
    "KEYWORD_FIELDS",
    "SCHEMA",
    "Hit",
    "ModelIdentity",
    "Point",
    "Sink",
    "Sparse",
    "Where",
    "check_identity",
    "check_schema",
]

#: Payload fields with a keyword index (exact-match filters).
KEYWORD_FIELDS = (
    "source",
    "agent",
    "project",
    "project_name",
    "session_id",
    "message_uuid",
    "kind",
    "path",
)
#: Payload fields with a datetime index (range filters).
DATETIME_FIELDS = ("timestamp",)
#: Layout of a collection: 2 = named vectors ``dense`` and ``bm25`` (sparse,
#: IDF). A collection of another layout is refused (``reindex`` rebuilds it).
SCHEMA = 2
DENSE = "dense"
SPARSE = "bm25"


@dataclasses.dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What a collection's vectors were made with; vectors of two identities never mix."""

    name: str
    dim: int
    #: The model file's hash where known, else the name.
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Sparse:
    """A sparse vector: term ids and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """One vector and its payload; ``id`` is a UUID string."""

    id: str
    vector: list[float]
    payload: dict[str, Any]
    #: The chunk's BM25 vector (None: dense only).
    sparse: Sparse | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """A payload filter: every condition given must hold.

    ``equals`` maps a field to one value, or to a tuple of values of which
    one must match. ``since`` (inclusive) and ``until`` (exclusive) bound the
    ``timestamp`` field; ISO 8601 strings with a time zone.
    """

    equals: Mapping[str, str | tuple[str, ...]] = dataclasses.field(default_factory=dict)
    since: str | None = None
    until: str | None = None
    #: Fields that must not have this value (or any of these values).
    differs: Mapping[str, str | tuple[str, ...]] = dataclasses.field(default_factory=dict)
    #: Bounds of the ``offset`` field (a byte offset in the transcript): low
    #: included, high excluded.
    offsets: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One search result; ``score`` is cosine similarity (dense), a BM25 score
    (sparse); :func:`~streaming_importer.search.ranking.fuse` gives hits a fused score."""

    id: str
    score: float
    payload: dict[str, Any]


class Sink(Protocol):
    """A collection of points in some Qdrant engine."""

    def open(self, identity: ModelIdentity | None, *, create: bool = True) -> None:
        """Open the collection and check that it was built with ``identity``.

        ``identity`` None opens it for reading counts only: no check, no create.

        With ``create``, a missing collection is created for ``identity``;
        without it, a missing collection reads as empty. Raises
        ModelMismatchError if it was built with another model, StoreLockedError
        if another process holds it, StoreError if it cannot be opened.
        """
        ...

    def stored_identity(self) -> dict[str, Any] | None:
        """The identity the collection was built with, or None if there is none."""
        ...

    def upsert(self, points: Sequence[Point]) -> None:
        """Write points; on return the engine has acknowledged them."""
        ...

    def flush(self) -> None:
        """Make acknowledged points durable on disk (where the engine defers it)."""
        ...

    def index_due(self) -> bool:
        """Whether enough points were written since the last index build for one to run."""
        ...

    def index_overdue(self) -> bool:
        """Whether so many were that the build may wait no longer (memory's bound)."""
        ...

    def build_index(self) -> None:
        """Index and seal what was written, merging segments as due (blocking).

        Where the engine builds on its own (a server), nothing. Raises StoreError.
        """
        ...

    def search(
        self,
        limit: int,
        where: Where,
        *,
        dense: Sequence[float] | None = None,
        sparse: Sparse | None = None,
    ) -> list[Hit]:
        """The ``limit`` best points that satisfy ``where``, best first.

        Ranked by ``dense`` (cosine similarity) or by ``sparse`` (BM25): exactly
        one of them. Both rankings are fused by the caller
        (:mod:`~streaming_importer.search.ranking`).
        """
        ...

    def scroll(self, where: Where, limit: int) -> list[Hit]:
        """Up to ``limit`` points that satisfy ``where``, in no set order (score 0)."""
        ...

    def pages(self, size: int) -> Iterator[list[Hit]]:
        """Every point with its payload, ``size`` at a time, in id order (score 0)."""
        ...

    def stored_redaction(self) -> str | None:
        """The redaction rule set the stored text was made under; None if never recorded."""
        ...

    def record_redaction(self, rules: str) -> None:
        """Record that every stored text is redacted under ``rules``."""
        ...

    def count(self, where: Where | None = None) -> int:
        """Points in the collection that satisfy ``where`` (0 if it does not exist)."""
        ...

    def tally(self, field: str, limit: int) -> dict[str, int]:
        """Points per value of a keyword ``field``, the ``limit`` commonest values (exact)."""
        ...

    def delete_path(self, source: str, path: str) -> None:
        """Delete the points of one transcript (payload ``source`` and ``path``)."""
        ...

    def delete_where(self, where: Where) -> None:
        """Delete every point that satisfies ``where`` (acknowledged on return)."""
        ...

    def drop(self) -> None:
        """Delete the whole collection and what describes it (``reindex``)."""
        ...

    def move_path(self, source: str, old: str, new: str) -> None:
        """Point the payload ``path`` of one transcript's points at its new place."""
        ...

    def close(self) -> None: ...


def check_identity(
    stored: Mapping[str, Any] | None, identity: ModelIdentity | None, where: str
) -> None:
    """Raise ModelMismatchError unless ``stored`` is ``identity`` (or either is absent)."""
    if stored is None or identity is None:
        return
    if stored.get("fingerprint") != identity.fingerprint or stored.get("dim") != identity.dim:
        raise ModelMismatchError(
            f"{where} was built with model {stored.get('name')!r} ({stored.get('dim')} dims); "
            f"it cannot take vectors of {identity.name!r} ({identity.dim} dims). "
            "Rebuild it for the new model with `python -m streaming_importer reindex`, use "
            "another COLLECTION_NAME (or STATE_DIR), or set EMBEDDING_MODEL back."
        )
    check_schema(stored, where)


def check_schema(stored: Mapping[str, Any] | None, where: str) -> None:
    """Raise ModelMismatchError if ``stored`` describes a collection of another layout."""
    if stored is not None and stored.get("schema", 1) != SCHEMA:
        raise ModelMismatchError(
            f"{where} was built by an older version of streaming_importer (dense vectors "
            "only, no BM25); rebuild it with `python -m streaming_importer reindex`, or use "
            "another COLLECTION_NAME"
        )
