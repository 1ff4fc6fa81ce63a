"""Write synthetic points through the embedded store, report memory (tests/store/test_scale.py).

    python tests/scale_writer.py STORE_DIR POINTS INDEX_POINTS

Prints one JSON line per ``INDEX_POINTS`` points written: points, anonymous
MiB (after giving freed heap back), index builds so far. Vectors lie around
64 topics, BM25 vectors draw from a vocabulary that grows with the points,
payloads have the fields and indexes of real ones.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import numpy as np

from streaming_importer.ops import memory
from streaming_importer.store import Point, Sparse
from streaming_importer.store.base import ModelIdentity
from streaming_importer.store.edge import EdgeSink

IDENTITY = ModelIdentity("synthetic", 384, "synthetic-384")


#: Vectors lie around a few topics, as real ones do (random vectors are the
#: slowest case for an HNSW build, and unlike any history).
TOPICS = np.random.default_rng(1).standard_normal((64, IDENTITY.dim)).astype(np.float32)


def point(i: int, rng: np.random.Generator) -> Point:
    noise = rng.standard_normal(IDENTITY.dim).astype(np.float32)
    vector = TOPICS[i % len(TOPICS)] + 0.5 * noise
    vector /= np.linalg.norm(vector)
    terms = np.unique(rng.integers(0, 1000 + i // 4, 24))
    session = f"s{i // 200}"
    payload = {
        "text": f"chunk {i} of session {session} " + " ".join(f"w{t}" for t in terms),
        "source": "local",
        "agent": "claude-code",
        "project": f"/home/dev/p{i % 40}",
        "project_name": f"p{i % 40}",
        "session_id": session,
        "kind": ("prompt", "answer", "tool_call")[i % 3],
        "timestamp": f"2026-{1 + i % 12:02d}-01T10:00:00.000Z",
        "message_uuid": str(uuid.UUID(int=i + 1)),
        "path": f"p{i % 40}/{session}.jsonl",
        "offset": i * 100,
        "turn": i % 200,
        "chunk_index": 0,
    }
    return Point(
        str(uuid.UUID(int=i + 1)),
        vector.tolist(),
        payload,
        Sparse(tuple(int(t) for t in terms), tuple(1.0 for _ in terms)),
    )


def main() -> None:
    store, total, index_points = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    sink = EdgeSink(store, "conversations", index_points=index_points)
    sink.open(IDENTITY)
    rng = np.random.default_rng(0)
    for start in range(0, total, 64):
        sink.upsert([point(i, rng) for i in range(start, min(start + 64, total))])
        written = min(start + 64, total)
        if written % 1024 == 0 or written == total:
            sink.flush()  # as the importer does at each checkpoint
            if sink.index_due():
                sink.build_index()  # and the store stage between batches
        if written % index_points == 0 or written == total:
            memory.trim()
            report = {"points": written, "anon_mb": memory.sample().anon_mb}
            print(json.dumps({**report, "builds": sink.builds.runs}), flush=True)  # noqa: T201
    sink.close()


if __name__ == "__main__":
    main()
