"""Where an index build's time goes: the store's write rate with and without each part.

Writes the same synthetic points (:mod:`benchmarks.synthetic`) through
:class:`EdgeSink` in the importer's batches (64 points, a flush every 1,024,
a build when one is due), into a fresh store per variant, and prints the
time spent writing and building:

- ``product``: the product's settings (all payload indexes, HNSW m=16,
  ef_construct=64);
- ``no payload indexes``: the same points, no keyword or datetime index;
- ``ef_construct 32`` / ``m 8``: a cheaper HNSW graph;
- ``no builds``: every point left in the appendable segment.

The engine builds a segment's parts in ``EdgeShard.optimize()`` (Rust, not
profiled from here), so taking parts away one at a time is the profile.

    python benchmarks/build_profile.py --points 30000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import base_chunks, embed_apart, points, write  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.store import layout  # noqa: E402
from streaming_importer.store.base import DATETIME_FIELDS, KEYWORD_FIELDS  # noqa: E402

BATCH = 64
#: name -> (keyword fields, datetime fields, HNSW m, ef_construct, index points)
VARIANTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], int, int, int]] = {
    "product": (KEYWORD_FIELDS, DATETIME_FIELDS, 16, 64, layout.INDEX_POINTS),
    "no payload indexes": ((), (), 16, 64, layout.INDEX_POINTS),
    "ef_construct 32": (KEYWORD_FIELDS, DATETIME_FIELDS, 16, 32, layout.INDEX_POINTS),
    "m 8": (KEYWORD_FIELDS, DATETIME_FIELDS, 8, 64, layout.INDEX_POINTS),
    "no builds": (KEYWORD_FIELDS, DATETIME_FIELDS, 16, 64, 10**8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=30_000)
    args = parser.parse_args()
    encoder = Bm25Encoder()
    base = base_chunks()
    vectors, identity = embed_apart([" ".join(c.text.split()[:64]) for c, _ in base[:1000]])
    stream = points(base, vectors, encoder, seed=3)
    batches = [[next(stream) for _ in range(BATCH)] for _ in range(args.points // BATCH)]
    print(f"{len(batches) * BATCH:,} points, builds every {layout.INDEX_POINTS:,}")
    print("| variant | total s | of it building s | builds | s per build |")
    print("|---|---|---|---|---|")
    for name, (keywords, datetimes, m, ef, index_points) in VARIANTS.items():
        # The layout module's own names, read when a store is created: one part off.
        setattr(layout, "KEYWORD_FIELDS", keywords)  # noqa: B010
        setattr(layout, "DATETIME_FIELDS", datetimes)  # noqa: B010
        layout.HNSW_M, layout.HNSW_EF_CONSTRUCT = m, ef
        took, builds = write(batches, identity, index_points)
        per = sum(builds) / len(builds) if builds else 0.0
        print(
            f"| {name} | {took:.1f} | {sum(builds):.1f} | {len(builds)} | {per:.2f} |", flush=True
        )


if __name__ == "__main__":
    main()
