"""After opening, the store's files are read and mapped in the background, in the order
searches need them; a one-shot search maps only what is already cached."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.synthetic import evict
from streaming_importer.store import Where
from streaming_importer.store.edge import EdgeSink
from tests.scale_writer import IDENTITY, point


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed store of 6,000 points in several sealed segments."""
    folder = tmp_path_factory.mktemp("warm") / "qdrant"
    rng = np.random.default_rng(0)
    sink = EdgeSink(folder, "conversations", index_points=1024)
    sink.open(IDENTITY)
    for start in range(0, 6000, 64):
        sink.upsert([point(i, rng) for i in range(start, min(start + 64, 6000))])
        if sink.index_due():
            sink.build_index()
    sink.close()
    return folder


def dense_vectors_mapped(folder: Path) -> tuple[int, int]:
    """(bytes of this process's dense-vector mappings in memory, bytes of data in those files)."""
    resident, current = 0, None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(\S.*)$", line)
            if head:
                current = head.group(1) if str(folder) in head.group(1) else None
            elif current and "vector_storage-dense" in current and line.startswith("Rss:"):
                resident += int(line.split()[1]) * 1024
    files = [p for p in folder.rglob("*") if p.is_file() and "vector_storage-dense" in p.parts]
    return resident, sum(p.stat().st_blocks * 512 for p in files)


def test_after_the_warm_up_the_files_a_search_reads_are_mapped(store: Path) -> None:
    evict(store)
    sink = EdgeSink(store, "conversations", index_points=1024)
    sink.open(IDENTITY)
    try:
        assert sink.warmed() > 0
        resident, data = dense_vectors_mapped(store)
        # Mapped without a search having touched them: no page fault for the first ones.
        assert data > 0 and resident >= 0.9 * data
        assert sink.search(1, Where(), dense=point(4321, np.random.default_rng(1)).vector)
    finally:
        sink.close()


def test_a_one_shot_sink_reads_nothing_in_the_background_and_maps_what_is_cached(
    store: Path,
) -> None:
    evict(store)
    cold = EdgeSink(store, "conversations", warm=False)
    cold.open(IDENTITY)
    try:
        assert cold.warmed() == 0  # no background read
    finally:
        cold.close()
    for path in store.rglob("*"):
        if path.is_file():
            path.read_bytes()  # now cached
    cached = EdgeSink(store, "conversations", warm=False)
    cached.open(IDENTITY)
    try:
        assert cached.warmed() == 0
        resident, data = dense_vectors_mapped(store)
        assert resident >= 0.9 * data  # mapped at open, from the cache
    finally:
        cached.close()
