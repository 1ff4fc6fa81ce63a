"""Does the embedded store stay flat and fast as history grows? Up to 1M points.

Writes points through the product's own :class:`EdgeSink` (its storage
settings and its index builds) in the importer's batches (64 points, a
flush every 1,024 as checkpoints do), with two malloc arenas as the importer
runs, and, at each size asked for, measures:
write rate since the previous size (index builds included), the process's
anonymous memory (and its peak so far), hybrid search with context
(:func:`search.find`, the CLI's path: two store queries, the fusion, each
hit's context) over the project's own questions, dense-only search, the
recall of the approximate dense search against an exact scan (top 50, same
queries), the time to close the store and to open it again, how long the
store's background read of its files into the page cache then takes
(:mod:`streaming_importer.store.warm`; searches are measured once it caught up
with the last index build), and the index builds run since the previous size
with the longest (the longest pause).

Points are synthetic but shaped like ours: the text and payload of real
chunks of ``../shared/corpus`` (every message of both Claude Code corpora,
cut into pieces of at most 200 words), each copy in its own project, session
and transcript, a week apart, with a unique id and path token of its own in
the text (so no two points share a text, and BM25's vocabulary grows as a
real history's does); BM25 vectors computed by the product's encoder. Dense
vectors: the real model's embedding of one of ``--bases`` chunks (their first
64 words, embedded once in a child process, so the model's memory is not this
process's) plus noise, so that a copy is at cosine ~0.9 from its base: a
history of many similar passages, as real ones are. Queries are the real
embeddings of the questions.

    python benchmarks/scale.py                    # 10k, 100k, 300k, 1M
    python benchmarks/scale.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.own import ALL  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.embedding.chunk import Chunk  # noqa: E402
from streaming_importer.ops import memory  # noqa: E402
from streaming_importer.ops.startup import reexec_with_arena_limit  # noqa: E402
from streaming_importer.pipeline.points import payload_for  # noqa: E402
from streaming_importer.search.find import find  # noqa: E402
from streaming_importer.search.query import SearchQuery  # noqa: E402
from streaming_importer.sources.claude import parse_line  # noqa: E402
from streaming_importer.sources.files import scan  # noqa: E402
from streaming_importer.sources.messages import ParseLimits, file_context_for  # noqa: E402
from streaming_importer.store import Point, Sparse, Where  # noqa: E402
from streaming_importer.store.base import ModelIdentity  # noqa: E402
from streaming_importer.store.edge import EdgeSink  # noqa: E402

CORPORA = [ROOT.parent / "shared" / "corpus" / n for n in ("claude-projects", "claude-projects-2")]
IDENTITY = ModelIdentity("synthetic", 384, "synthetic-384")
BATCH = 64
FLUSH_EVERY = 1024
PIECE_WORDS = 200
RECALL_K = 50
#: Noise added to a base vector (norm): cosine ~0.9 between a copy and its base.
NOISE = 0.5


def base_chunks() -> list[tuple[Chunk, str]]:
    """Every message of the corpora as pieces of at most PIECE_WORDS words, with its file."""
    limits = ParseLimits(20_000, 4_000)
    out: list[tuple[Chunk, str]] = []
    for corpus in CORPORA:
        for f in scan(corpus):
            context = file_context_for(f.rel_path)
            for raw in f.path.read_bytes().splitlines():
                result = parse_line(raw, context, limits)
                context = result.context
                for m in result.messages:
                    words = m.text.split()
                    for i in range(0, max(1, len(words)), PIECE_WORDS):
                        text = " ".join(words[i : i + PIECE_WORDS])
                        if text:
                            out.append((Chunk(m, i // PIECE_WORDS, text, 0), f.rel_path))
    return out


def embed(texts: list[str]) -> np.ndarray:
    """The real model's vectors of ``texts`` (run in a child process)."""
    from streaming_importer.embedding.embedder import load_embedder
    from streaming_importer.ops.config import Settings

    embedder = load_embedder(Settings.from_env({}))
    out: list[list[float]] = []
    for i in range(0, len(texts), 32):
        out.extend(embedder.embed(texts[i : i + 32]))
    return np.array(out, dtype=np.float32)


def embed_apart(texts: list[str]) -> np.ndarray:
    """:func:`embed` in a child process: the model's memory is not this process's."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.json").write_text(json.dumps(texts))
        code = (
            "import json, sys, numpy; sys.path.insert(0, sys.argv[1]);"
            "from benchmarks.scale import embed;"
            "numpy.save(sys.argv[2] + '/out.npy', embed(json.load(open(sys.argv[2] + '/in.json'))))"
        )
        subprocess.run([sys.executable, "-c", code, str(ROOT), tmp], check=True)
        return np.load(Path(tmp) / "out.npy")


def points(
    base: list[tuple[Chunk, str]], vectors: np.ndarray, encoder: Bm25Encoder, seed: int
) -> Iterator[Point]:
    """Endless distinct points: copy after copy of ``base``, each its own sessions."""
    rng = np.random.default_rng(seed)
    sparse = [encoder.document(c.text) for c, _ in base]
    copy = 0
    while True:
        for i, ((chunk, rel_path), bm25) in enumerate(zip(base, sparse, strict=True)):
            token = f"{copy:06x}{rng.integers(1 << 30):08x}"
            extra = encoder.document(f"id-{token} src/copy{copy}/mod{token[-3:]}.py")
            terms = dict(zip(bm25.indices, bm25.values, strict=True))
            terms.update(zip(extra.indices, extra.values, strict=True))
            keys = sorted(terms)
            m = chunk.message
            session = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{copy}/{m.session_id}"))
            message = dataclasses.replace(
                m,
                session_id=session,
                project=f"{m.project or '/home/dev/x'}-{copy}",
                message_uuid=str(uuid.uuid4()),
            )
            text = f"{chunk.text} id-{token}"
            payload = payload_for(
                "local", Chunk(message, chunk.index, text, 0), f"c{copy}/{rel_path}", 0
            )
            noise = rng.standard_normal(IDENTITY.dim).astype(np.float32)
            vector = vectors[i % len(vectors)] + NOISE * noise / np.sqrt(IDENTITY.dim)
            vector /= np.linalg.norm(vector)
            yield Point(
                str(uuid.uuid4()),
                vector.tolist(),
                payload,
                Sparse(tuple(keys), tuple(terms[k] for k in keys)),
            )
        copy += 1


def measure(
    sink: EdgeSink, encoder: Bm25Encoder, questions: list[str], vectors: list[list[float]]
) -> dict[str, float]:
    """Search times (ms) and recall, on the project's own questions."""
    hybrid, dense, recall = [], [], []
    for text, vector in zip(questions * 2, vectors * 2, strict=True):
        started = time.perf_counter()
        find(sink, encoder, SearchQuery(text, limit=10), vector)
        hybrid.append((time.perf_counter() - started) * 1000)
    for vector in vectors:
        started = time.perf_counter()
        approximate = sink.search(RECALL_K, Where(), dense=vector)
        dense.append((time.perf_counter() - started) * 1000)
        exact = sink.search(RECALL_K, Where(), dense=vector, exact=True)
        found = {h.id for h in approximate} & {h.id for h in exact}
        recall.append(len(found) / max(1, len(exact)))
    hybrid.sort()
    return {
        "hybrid_p50": statistics.median(hybrid),
        "hybrid_p95": hybrid[int(0.95 * (len(hybrid) - 1))],
        "dense_p50": statistics.median(dense),
        "recall": statistics.mean(recall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,300000,1000000")
    parser.add_argument("--bases", type=int, default=1000, help="distinct base vectors")
    parser.add_argument("--keep", type=Path, help="write the store here and keep it")
    args = parser.parse_args()
    reexec_with_arena_limit((__file__,))  # two malloc arenas, as the importer runs
    sizes = [int(s) for s in args.sizes.split(",")]
    encoder = Bm25Encoder()
    base = base_chunks()
    questions = [q.text for q in ALL]
    texts = [" ".join(c.text.split()[:64]) for c, _ in base[: args.bases]]
    embedded = embed_apart(texts + questions)
    vectors, asked = embedded[: len(texts)], [v.tolist() for v in embedded[len(texts) :]]
    print(f"{len(base)} base chunks from {len(CORPORA)} corpora", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="scale-")) if args.keep is None else args.keep
    sink = EdgeSink(tmp, "scale")
    sink.open(IDENTITY)
    stream = points(base, vectors, encoder, seed=1)
    written, unflushed, peak, rows = 0, 0, 0.0, []
    started = time.perf_counter()
    try:
        for size in sizes:
            t0, n0 = time.perf_counter(), written
            while written < size:
                batch = [next(stream) for _ in range(min(BATCH, size - written))]
                sink.upsert(batch)
                written += len(batch)
                unflushed += len(batch)
                if unflushed >= FLUSH_EVERY:
                    unflushed = 0
                    sink.flush()
                    peak = max(peak, memory.sample().anon_mb)
            sink.flush()
            rate = (written - n0) / (time.perf_counter() - t0)
            builds = sink.builds
            sink.warmed()  # the page cache caught up with the last build
            memory.trim()
            anon = memory.sample().anon_mb
            peak = max(peak, anon)
            searched = measure(sink, encoder, questions, asked)
            t1 = time.perf_counter()
            sink.close()
            t2 = time.perf_counter()
            sink = EdgeSink(tmp, "scale")
            sink.open(IDENTITY)
            t3 = time.perf_counter()
            sink.warmed()
            warm_up = time.perf_counter() - t3
            row = {
                "points": size,
                "rate": rate,
                "anon": anon,
                "peak": peak,
                "close": t2 - t1,
                "open": t3 - t2,
                "warm_up": warm_up,
                "builds": builds.runs,
                "build_s": builds.longest_s,
            }
            rows.append({**row, **searched})
            print(_row(rows[-1]), f"({time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        sink.close()
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(
        "| points | write points/s | anonymous MiB after writing | peak anonymous MiB"
        " | close / open | then warm-up | hybrid search p50 / p95 | dense p50 | dense recall@50"
        " | index builds, longest |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(_row(r))
    growth = rows[-1]["anon"] - rows[0]["anon"]
    print(
        f"\nanonymous memory from {rows[0]['points']:,} to {rows[-1]['points']:,} points:"
        f" {growth:+.0f} MiB"
    )


def _row(r: dict[str, float]) -> str:
    return (
        f"| {r['points']:,.0f} | {r['rate']:,.0f} | {r['anon']:.0f} | {r['peak']:.0f}"
        f" | {r['close']:.2f} / {r['open']:.2f} s | {r['warm_up']:.1f} s"
        f" | {r['hybrid_p50']:.0f} / {r['hybrid_p95']:.0f} ms"
        f" | {r['dense_p50']:.1f} ms | {r['recall']:.3f}"
        f" | {r['builds']:.0f}, {r['build_s']:.1f} s |"
    )


if __name__ == "__main__":
    main()
