"""The embedded store: qdrant-edge-py, Qdrant's own engine, in this process.

One collection is one shard folder, ``<store_dir>/<collection>``; the model
identity it was built with is kept beside it in ``<collection>.json``
(written once, atomically, when the shard is created). Updates go through the
shard's write-ahead log, so an acknowledged upsert survives a SIGKILL.

How it is kept (:mod:`~streaming_importer.store.layout`): vectors, payload,
payload indexes, the id map and the BM25 postings memory-mapped from disk;
the appendable segment, where new points land, is indexed and sealed by an
index build once it holds ``index_points`` points, and sealed segments are
merged, so the process's memory does not grow with the collection and search
does not scan it. Collections made by earlier versions are converted by their
first build. After opening and after each build, the segments' files are read
into the page cache in the background (:mod:`~streaming_importer.store.warm`),
so searches do not wait on the disk page by page.

Only one holder at a time: qdrant-edge-py 0.9.0 locks the shard's WAL, but a
second process that merely *tries* to load a held shard damages the holder's
payload index files (its next flush fails: "Tracker journal ... is shorter
than expected"; reproduced here). So every opener first takes an exclusive
``flock`` on ``<collection>.lock`` and never calls into the engine without it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import qdrant_edge as qe

from streaming_importer.errors import StoreError, StoreLockedError
from streaming_importer.store.base import (
    DENSE,
    SPARSE,
    Hit,
    ModelIdentity,
    Point,
    Sparse,
    Where,
    check_identity,
)
from streaming_importer.store.edge_meta import ShardMeta
from streaming_importer.store.edge_types import (
    edge_filter,
    edge_vectors,
    path_filter,
    sparse_vector,
)
from streaming_importer.store.layout import (
    HNSW_EF,
    INDEX_POINTS,
    BuildStats,
    Compactor,
    create_indexes,
    storage,
)
from streaming_importer.store.warm import Warmer

__all__ = ["EdgeSink"]

logger = logging.getLogger(__name__)

#: Seconds the first search after opening may wait for the files it needs.
WARM_WAIT_S = 2.0


class EdgeSink:
    """A qdrant-edge-py shard in ``store_dir``."""

    def __init__(
        self,
        store_dir: Path,
        collection: str,
        *,
        index_points: int = INDEX_POINTS,
        warm: bool = True,
    ) -> None:
        """``warm``: read the files into the page cache in the background after opening
        (a one-shot search does not: it maps what is cached and asks at once)."""
        self._path = store_dir / collection
        self._meta = ShardMeta(store_dir / f"{collection}.json")
        self._lock_path = store_dir / f"{collection}.lock"
        self._lock_fd: int | None = None
        self._shard: Any = None
        self._index_points = index_points
        self._compactor: Compactor | None = None
        self._warmer: Warmer | None = None
        self._warm = warm
        self._waited = False

    def open(self, identity: ModelIdentity | None, *, create: bool = True) -> None:
        stored = self.stored_identity()
        check_identity(stored, identity, f"embedded collection {self._path}")
        exists = (self._path / "edge_config.json").is_file()
        if not exists and (identity is None or not create):
            return
        self._lock()
        try:
            if exists:
                # The current storage settings are applied to an older shard:
                # its segments are converted by the next index build.
                dim = identity.dim if identity is not None else (stored or {}).get("dim")
                config = storage(dim, self._index_points) if isinstance(dim, int) else None
                self._shard = qe.EdgeShard.load(str(self._path), config)
            else:
                assert identity is not None  # returned above otherwise
                self._shard = self._create(identity)
        except Exception as e:  # the engine raises a bare Exception
            self._unlock()
            raise StoreError(f"cannot open the embedded store {self._path}: {e}") from e
        self._warmer = Warmer(self._path)
        self._warmer.map_resident()
        if self._warm:
            self._warmer.start()
        else:
            self._warmer.ready.set()
        # A build writes new segments, left out of the page cache.
        self._compactor = Compactor(
            self._shard, every_points=self._index_points, after=self._warmer.start
        )
        if stored is None and identity is not None:
            self._meta.write_identity(identity)

    def _lock(self) -> None:
        # The state folder holds conversation text: private if made here.
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise StoreLockedError(
                f"the embedded store {self._path} is in use by another process"
            ) from e
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _create(self, identity: ModelIdentity) -> Any:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shard = qe.EdgeShard.create(str(self._path), storage(identity.dim, self._index_points))
        create_indexes(shard)
        logger.info("created embedded collection %s (%d dims)", self._path, identity.dim)
        return shard

    def stored_redaction(self) -> str | None:
        return self._meta.redaction()

    def record_redaction(self, rules: str) -> None:
        self._meta.record_redaction(rules)

    def stored_identity(self) -> dict[str, Any] | None:
        return self._meta.identity()

    def upsert(self, points: Sequence[Point]) -> None:
        if not points:
            return
        self._shard.update(
            qe.UpdateOperation.upsert_points(
                [qe.Point(uuid.UUID(p.id), edge_vectors(p), p.payload) for p in points]
            )
        )
        if self._compactor is not None:
            self._compactor.wrote(len(points))

    def flush(self) -> None:
        """Make writes durable (index builds are asked for apart: :meth:`build_index`)."""
        if self._shard is not None:
            self._shard.flush()

    def index_due(self) -> bool:
        """See :meth:`Sink.index_due`."""
        return self._compactor is not None and self._compactor.due()

    def index_overdue(self) -> bool:
        """See :meth:`Sink.index_overdue`."""
        return self._compactor is not None and self._compactor.overdue()

    @property
    def builds(self) -> BuildStats:
        """Index builds since the store was opened."""
        return self._compactor.stats if self._compactor is not None else BuildStats()

    def build_index(self) -> None:
        """See :meth:`Sink.build_index`: seconds to a minute at a million points, GIL held."""
        if self._compactor is not None:
            self._compactor.build()

    def warmed(self) -> int:
        """Wait until the segments' files were read into the page cache; bytes read so far."""
        if self._warmer is None:
            return 0
        self._warmer.wait()
        return self._warmer.read_bytes

    def _wait_warm(self) -> None:
        """The first search after opening waits, up to ``WARM_WAIT_S``, for the files it
        needs first to be read and mapped: it and those after it then take no page faults."""
        if not self._waited and self._warmer is not None:
            self._warmer.ready.wait(WARM_WAIT_S)
            self._waited = True

    def _stop_warming(self) -> None:
        if self._warmer is not None:
            self._warmer.stop()
            self._warmer = None

    def search(
        self,
        limit: int,
        where: Where,
        *,
        dense: Sequence[float] | None = None,
        sparse: Sparse | None = None,
        exact: bool = False,
    ) -> list[Hit]:
        """See :meth:`Sink.search`; ``exact`` scans every point (to measure the index's recall)."""
        if self._shard is None:
            return []
        self._wait_warm()
        if (dense is None) == (sparse is None):
            raise ValueError("search takes a dense or a sparse vector, not both or neither")
        query = (
            qe.Query.Nearest(list(dense), using=DENSE)
            if dense is not None
            else qe.Query.Nearest(sparse_vector(cast(Sparse, sparse)), using=SPARSE)
        )
        request = qe.QueryRequest(
            limit=limit,
            query=query,
            with_payload=True,
            filter=edge_filter(where),
            params=qe.SearchParams(exact=True) if exact else qe.SearchParams(hnsw_ef=HNSW_EF),
        )
        return [
            Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {}))
            for p in self._shard.query(request)
        ]

    def scroll(self, where: Where, limit: int) -> list[Hit]:
        if self._shard is None:
            return []
        self._wait_warm()
        records, _ = self._shard.scroll(
            qe.ScrollRequest(limit=limit, filter=edge_filter(where), with_payload=True)
        )
        return [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]

    def pages(self, size: int) -> Iterator[list[Hit]]:
        offset = None
        while self._shard is not None:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(offset=offset, limit=size, with_payload=True)
            )
            if records:
                yield [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]
            if offset is None:
                return

    def count(self, where: Where | None = None) -> int:
        if self._shard is None:
            return 0
        request = qe.CountRequest(filter=edge_filter(where) if where else None, exact=True)
        return int(self._shard.count(request))

    def tally(self, field: str, limit: int) -> dict[str, int]:
        if self._shard is None:
            return {}
        found = self._shard.facet(qe.FacetRequest(field, limit=limit, exact=True))
        return {str(hit.value): int(hit.count) for hit in found.hits}

    def delete_path(self, source: str, path: str) -> None:
        self._shard.update(qe.UpdateOperation.delete_points_by_filter(path_filter(source, path)))

    def delete_where(self, where: Where) -> None:
        if self._shard is not None:
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(edge_filter(where)))

    def drop(self) -> None:
        self._compactor = None
        self._stop_warming()
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        shutil.rmtree(self._path, ignore_errors=True)
        self._meta.delete()
        logger.info("deleted the embedded collection %s", self._path)

    def move_path(self, source: str, old: str, new: str) -> None:
        self._shard.update(
            qe.UpdateOperation.set_payload_by_filter(path_filter(source, old), {"path": new})
        )

    def close(self) -> None:
        try:
            self._compactor = None
            self._stop_warming()
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None
        finally:
            self._unlock()
