"""The embedded store as history grows: memory flat, indexed segments exact.

Index builds are made small and frequent here (a few thousand points) so that
a test shows in seconds what ``benchmarks/scale.py`` shows at a million
points.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from streaming_importer.store import Where
from streaming_importer.store.edge import EdgeSink
from tests.scale_writer import IDENTITY, point

ROOT = Path(__file__).resolve().parent.parent.parent
#: Anonymous memory a writer may gain from its first index build to its last.
FLAT_MB = 12


def write_apart(store: Path, total: int, index_points: int) -> list[dict[str, float]]:
    """Run tests/scale_writer.py in a process of its own: its memory is only the store's."""
    done = subprocess.run(
        [sys.executable, "tests/scale_writer.py", str(store), str(total), str(index_points)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.scenario
def test_memory_stays_flat_while_points_pile_up(tmp_path: Path) -> None:
    # 24,576 points in segments of 2,048: without the builds the appendable
    # segment keeps them in memory (+29 MiB over this run, measured; +4 with).
    marks = write_apart(tmp_path / "qdrant", 12 * 2048, 2048)
    first, last = marks[1], marks[-1]
    assert last["points"] == 12 * 2048
    assert last["builds"] >= 10
    growth = last["anon_mb"] - first["anon_mb"]
    assert growth < FLAT_MB, f"anonymous memory grew {growth:.1f} MiB: {marks}"


def test_indexed_segments_answer_like_the_appendable_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    points = [point(i, rng) for i in range(6000)]
    sink = EdgeSink(tmp_path / "qdrant", "conversations", index_points=1024)
    sink.open(IDENTITY)
    try:
        for start in range(0, len(points), 64):
            sink.upsert(points[start : start + 64])
            if start % 1024 == 0:
                sink.flush()
                if sink.index_due():
                    sink.build_index()
        sink.flush()
        assert sink.builds.runs >= 4
        assert sink.count() == 6000
        # Each point is found by its own vector, also in sealed (HNSW) segments.
        for i in (5, 1500, 3333, 5999):
            hit = sink.search(1, Where(), dense=points[i].vector)[0]
            assert hit.id == points[i].id
        # A filter the payload index serves, a BM25 term, a range of offsets.
        session = sink.scroll(Where({"session_id": "s7"}), 500)
        assert {h.payload["offset"] for h in session} == {i * 100 for i in range(1400, 1600)}
        window = sink.scroll(Where({"session_id": "s7"}, offsets=(140_000, 140_500)), 500)
        assert sorted(h.payload["offset"] for h in window) == [140_000 + 100 * k for k in range(5)]
        # Deletes reach every segment; an id written again stays one point.
        sink.delete_path("local", "p0/s0.jsonl")
        sink.upsert([points[4000]])
        sink.flush()
        sink.build_index()
        assert sink.count() == 6000 - 5
        assert sink.tally("kind", 10) == {"answer": 1998, "prompt": 1998, "tool_call": 1999}
    finally:
        sink.close()
    # Reopened: the same points, found the same way; every segment's files
    # but the sparse vectors' own storage read once into the page cache.
    again = EdgeSink(tmp_path / "qdrant", "conversations", index_points=1024)
    again.open(IDENTITY)
    try:
        stored, apparent = _bytes_searches_read(tmp_path / "qdrant" / "conversations")
        assert 0.9 * stored <= again.warmed() <= stored < apparent
        assert again.count() == 5995
        assert again.search(1, Where(), dense=points[3333].vector)[0].id == points[3333].id
        assert str(uuid.UUID(int=1)) not in {h.id for h in again.scroll(Where(), 10_000)}
    finally:
        again.close()


def _bytes_searches_read(shard: Path) -> tuple[int, int]:
    """Bytes on disk of the files searches read, and their apparent size (holes included)."""
    files = [p for p in (shard / "segments").rglob("*") if p.is_file()]
    assert any("vector_index-dense" in p.parts for p in files)  # sealed segments exist
    read = [p.stat() for p in files if "vector_storage-bm25" not in p.parts]
    return sum(s.st_blocks * 512 for s in read), sum(s.st_size for s in read)
