"""How the embedded store keeps a collection, and indexes it as it grows.

Memory and search time must not grow with the collection: everything is
memory-mapped from disk (:func:`storage`), and what new points cost in memory
is given back by index builds (:class:`Compactor`).

qdrant-edge-py builds no index on its own: every point stays in the shard's
appendable segment (payload indexes, BM25 postings and id map in memory,
searched by an exact scan) until ``EdgeShard.optimize()`` is called. That call
turns full appendable segments into indexed, memory-mapped ones (an HNSW graph
for the dense vectors, BM25 postings and payload indexes on disk), starts a
new appendable segment, and merges sealed segments while there are more than
``SEGMENTS``, never into one of more than ``MERGE_FACTOR * INDEX_POINTS``
points: the bound on how long one build may take (about 2 s to seal 10,000
points, up to 7-8 s with a merge; ``benchmarks/scale.py`` prints the longest).

It runs in the calling thread and holds the GIL until it returns (measured on
qdrant-edge-py 0.9.0: a thread running it stops every other Python thread, the
event loop included), so there is no background build to be had in this
process. :class:`Compactor` says when one is due (``INDEX_POINTS`` points
written since the last) and runs it when asked: the store stage chooses the
moment, when no live append waits
(:mod:`streaming_importer.pipeline.store_stage`). Then it gives the freed heap
back to the system.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import qdrant_edge as qe

from streaming_importer.errors import StoreError
from streaming_importer.ops import memory
from streaming_importer.store.base import DATETIME_FIELDS, DENSE, KEYWORD_FIELDS, SPARSE

__all__ = [
    "HNSW_EF",
    "INDEX_POINTS",
    "OVERDUE_FACTOR",
    "BuildStats",
    "Compactor",
    "create_indexes",
    "storage",
]

logger = logging.getLogger(__name__)

#: Points the appendable segment takes before an index build is due.
INDEX_POINTS = 10_000
#: A build waits for live appends to be stored, but not past this many
#: times ``INDEX_POINTS`` unindexed points: the appendable segment's memory.
OVERDUE_FACTOR = 3
#: Sealed segments are merged while there are more than ``SEGMENTS`` of
#: them, into segments of at most ``MERGE_FACTOR * INDEX_POINTS`` points:
#: fewer segments to search, to open and to keep term maps of in memory, for
#: longer builds (merging up to 100,000 points paused up to 21 s at a million
#: points; up to 50,000, 7.4 s, with 26 segments and twice the memory growth).
MERGE_FACTOR = 5
SEGMENTS = 8
#: HNSW graph: links per node, candidates while building (Qdrant's defaults
#: are 16 and 100; 64 builds faster for the recall measured in docs/scale.md)
#: and while searching.
HNSW_M = 16
HNSW_EF_CONSTRUCT = 64
HNSW_EF = 128


def storage(dim: int, index_points: int = INDEX_POINTS) -> Any:
    """How a shard keeps its data, for vectors of ``dim`` dimensions.

    Everything memory-mapped from disk ("cold": the page cache holds what
    searches touch, and gives it back under pressure), so the process's
    own memory is the appendable segment's and not the collection's.
    """
    cold = qe.Memory.Cold
    # Sizes are in KB of dense vectors (4 bytes a dimension).
    segment_kb = max(1, index_points * dim * 4 // 1024)
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, memory=cold)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, memory=cold)},
        payload_memory=cold,
        id_tracker_memory=cold,
        hnsw_config=qe.HnswIndexConfig(
            m=HNSW_M,
            ef_construct=HNSW_EF_CONSTRUCT,
            # KB of vectors under which a filtered search scans instead.
            full_scan_threshold=10_000,
            # Every core: the build holds the GIL, nothing else runs meanwhile.
            max_indexing_threads=0,
            # No per-value graphs: filters are served by the payload
            # indexes (project, session) or are broad enough for the graph.
            payload_m=0,
            memory=cold,
        ),
        optimizers=qe.EdgeOptimizersConfig(
            indexing_threshold=segment_kb,
            max_segment_size=MERGE_FACTOR * segment_kb,
            default_segment_number=SEGMENTS,
        ),
    )


def create_indexes(shard: Any) -> None:
    """The payload indexes filters use, on disk too, on a new shard."""
    for name in KEYWORD_FIELDS:
        keyword = qe.KeywordIndexParams(memory=qe.Memory.Cold)
        shard.update(qe.UpdateOperation.create_field_index(name, keyword))
    for name in DATETIME_FIELDS:
        instant = qe.DatetimeIndexParams(memory=qe.Memory.Cold)
        shard.update(qe.UpdateOperation.create_field_index(name, instant))


@dataclasses.dataclass(slots=True)
class BuildStats:
    """Index builds run since the store was opened, and their time in seconds."""

    runs: int = 0
    total_s: float = 0.0
    longest_s: float = 0.0


class Compactor:
    """Runs ``shard.optimize()`` when asked, and says when enough was written for one.

    It never builds on its own: the caller chooses the moment (the store stage
    builds when no live append is waiting, see
    :mod:`streaming_importer.pipeline.store_stage`).
    """

    def __init__(
        self, shard: Any, *, every_points: int, after: Callable[[], None] | None = None
    ) -> None:
        self._shard = shard
        self._every = every_points
        #: Called after each build (the store reads the new segments' files).
        self._after = after
        self._pending = 0
        self.stats = BuildStats()

    def wrote(self, points: int) -> None:
        """Count ``points`` written (upserted) since the last build."""
        self._pending += points

    def due(self) -> bool:
        """Whether ``every_points`` points were written since the last build."""
        return self._pending >= self._every

    def overdue(self) -> bool:
        """Whether ``OVERDUE_FACTOR`` times that were: the appendable segment's memory bound."""
        return self._pending >= OVERDUE_FACTOR * self._every

    def build(self) -> None:
        """Make writes durable, then index and seal what is due (blocking; see the module's note).

        Raises StoreError if the engine fails.
        """
        self._pending = 0
        started = time.perf_counter()
        try:
            self._shard.flush()
            self._shard.optimize()
        except Exception as e:  # the engine raises a bare Exception
            raise StoreError(f"the embedded store's index build failed: {e}") from e
        # The sealed segment's memory went back to the allocator, which keeps it.
        memory.trim()
        took = time.perf_counter() - started
        self.stats.runs += 1
        self.stats.total_s += took
        self.stats.longest_s = max(self.stats.longest_s, took)
        logger.debug("store index build: %.2f s", took)
        if self._after is not None:
            self._after()
