"""Does the embedded store stay flat and fast as history grows? Up to 1M points.

Backfills synthetic points shaped like ours (:mod:`benchmarks.synthetic`)
through the product's own store stage and :class:`EdgeSink`: its storage
settings, its index builds at the moments the stage chooses, 64-point
batches, a checkpoint (a flush) every 1,024 points, the importer's queue of
``BATCH_QUEUE`` batches, two malloc arenas as the importer runs. Meanwhile a
live append (one point, a live slice's mark) joins the queue every
``LIVE_EVERY_S``: its latency is the time from joining the queue to being
stored and found by a search. At each size asked for it then measures:

- write rate since the previous size, index builds since then and the
  longest (the longest pause), the live appends' latency p50 / p95 / max;
- the process's anonymous memory after writing (and its peak so far);
- closed (the engine drops its files from the page cache when it closes a
  shard; they are dropped once more here, to be sure): a one-shot
  ``python -m streaming_importer search`` (process start, model, open,
  query, close: the wall time), then, dropped again, opening the store here
  and the first ``COLD_QUERIES`` hybrid searches (``search.find`` with
  context and highlights, the CLI's path) p50 / p95 and the first (which
  waits for the background read, up to ``WARM_WAIT_S``);
- once the background read caught up: warm hybrid search p50 / p95 over the
  project's own questions (asked twice), dense-only p50 and its recall@50
  against an exact scan.

Then write throughput with and without index builds, each in a child
process writing ``--throughput`` points straight through the sink.

    python benchmarks/scale.py                    # 10k, 100k, 400k, 1M
    python benchmarks/scale.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.own import ALL  # noqa: E402
from benchmarks.synthetic import (  # noqa: E402
    CHECKPOINT_POINTS,
    CORPORA,
    base_chunks,
    embed_apart,
    evict,
    points,
    write,
)
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.ops import memory  # noqa: E402
from streaming_importer.ops.metrics import Metrics, Reading  # noqa: E402
from streaming_importer.ops.startup import reexec_with_arena_limit  # noqa: E402
from streaming_importer.pipeline.items import Batch, Event, LiveWork, Mark  # noqa: E402
from streaming_importer.pipeline.ledger import Ledger  # noqa: E402
from streaming_importer.pipeline.lifecycle import BATCH_QUEUE  # noqa: E402
from streaming_importer.pipeline.store_stage import StoreStage  # noqa: E402
from streaming_importer.search.find import find  # noqa: E402
from streaming_importer.search.highlight import Highlighter  # noqa: E402
from streaming_importer.search.query import SearchQuery  # noqa: E402
from streaming_importer.sources.files import FileIdentity  # noqa: E402
from streaming_importer.sources.messages import file_context_for  # noqa: E402
from streaming_importer.state import checkpoint as ckpt  # noqa: E402
from streaming_importer.state.counters import Stats  # noqa: E402
from streaming_importer.store import Point, Where  # noqa: E402
from streaming_importer.store.base import ModelIdentity  # noqa: E402
from streaming_importer.store.edge import EdgeSink  # noqa: E402

BATCH = 64
RECALL_K = 50
COLD_QUERIES = 20
LIVE_EVERY_S = 0.5
COLLECTION = "conversations"


class TimedSink(EdgeSink):
    """The product's sink, each index build's pause kept (seconds)."""

    def __init__(self, store_dir: Path) -> None:
        super().__init__(store_dir, COLLECTION)
        self.pauses: list[float] = []

    def build_index(self) -> None:
        started = time.perf_counter()
        super().build_index()
        self.pauses.append(time.perf_counter() - started)


def _mark(rel_path: str, end: int, lines: int, *, live: bool = False) -> Mark:
    """A mark after ``lines`` lines of one point each: the ledger saves every 1,024 lines."""
    context = file_context_for(rel_path)
    return Mark(rel_path, end, context, FileIdentity(0, 0), end, lines, lines, [], live=live)


async def backfill(
    sink: TimedSink, ledger: Ledger, stream: Iterator[Point], count: int, tag: str
) -> list[float]:
    """Write ``count`` points through the store stage with live appends; their latencies (s)."""
    live = LiveWork()
    queued: dict[str, float] = {}
    latencies: list[float] = []

    def stored(batch: Batch) -> None:
        for event in batch.events:
            if isinstance(event, Mark) and event.live:
                assert sink.scroll(Where({"path": batch.points[0].payload["path"]}), 1)
                latencies.append(time.perf_counter() - queued.pop(event.rel_path))

    stage = StoreStage(
        sink,
        ledger,
        source="local",
        upsert_points=BATCH,
        retry_timeout_s=60,
        store_thread=anyio.CapacityLimiter(1),
        metrics=Metrics(lambda: Reading({}, {})),
        after_batch=stored,
        live=live,
    )
    send, recv = anyio.create_memory_object_stream[Batch](BATCH_QUEUE)
    finished = anyio.Event()

    async def appender() -> None:
        n = 0
        while not finished.is_set():
            await anyio.sleep(LIVE_EVERY_S)  # a person's pace, not a condition
            point = next(stream)
            rel_path = f"live-{tag}/{n}.jsonl"
            point.payload["path"] = rel_path
            live.begin()
            queued[rel_path] = time.perf_counter()
            await send.send(Batch([point], 0, [_mark(rel_path, 1, 1, live=True)]))
            n += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(stage.run, recv)
        async with anyio.create_task_group() as feeders:
            feeders.start_soon(appender)
            written = marked = 0
            while written < count:
                batch = [next(stream) for _ in range(min(BATCH, count - written))]
                written += len(batch)
                due = written % CHECKPOINT_POINTS == 0 or written == count
                events: list[Event] = []
                if due:
                    events.append(_mark(f"backfill-{tag}.jsonl", written, written - marked))
                marked = written if due else marked
                await send.send(Batch(batch, 0, events))
            finished.set()
        await send.aclose()
    return latencies


def one_shot(state: Path, question: str) -> float:
    """Wall seconds of ``python -m streaming_importer search`` with no importer running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QDRANT_", "STATE_DIR"))}
    env.update(STATE_DIR=str(state), CONVERSATIONS_DIR=str(state / "none"), SOURCES="claude")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "streaming_importer", "search", question, "--limit", "10"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def timed_searches(
    sink: EdgeSink, encoder: Bm25Encoder, asked: list[tuple[str, list[float]]]
) -> list[float]:
    """Milliseconds of each hybrid search, as the CLI runs it."""
    highlighter = Highlighter(encoder)
    out = []
    for text, vector in asked:
        started = time.perf_counter()
        find(sink, encoder, SearchQuery(text, limit=10), vector, highlighter=highlighter)
        out.append((time.perf_counter() - started) * 1000)
    return out


def dense_recall(sink: EdgeSink, vectors: list[list[float]]) -> tuple[float, float]:
    """Dense-only search p50 (ms) and its recall@50 against an exact scan."""
    took, recall = [], []
    for vector in vectors:
        started = time.perf_counter()
        approximate = sink.search(RECALL_K, Where(), dense=vector)
        took.append((time.perf_counter() - started) * 1000)
        exact = sink.search(RECALL_K, Where(), dense=vector, exact=True)
        found = {h.id for h in approximate} & {h.id for h in exact}
        recall.append(len(found) / max(1, len(exact)))
    return statistics.median(took), statistics.mean(recall)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def throughput(count: int, index_points: int, identity: ModelIdentity) -> float:
    """Seconds to write ``count`` points straight through the sink, building when due.

    Run in a child process (``--throughput-child``): a store without builds
    keeps every point in memory, which must not count against the run's.
    """
    encoder = Bm25Encoder()
    base = base_chunks()
    vectors = np.load(ROOT / ".scale-vectors.npy")
    stream = points(base, vectors, encoder, seed=2)
    batches = [[next(stream) for _ in range(BATCH)] for _ in range(count // BATCH)]
    return write(batches, identity, index_points)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,400000,1000000")
    parser.add_argument("--bases", type=int, default=1000, help="distinct base vectors")
    parser.add_argument("--throughput", type=int, default=100_000, help="0: not measured")
    parser.add_argument("--keep", type=Path, help="write the state folder here and keep it")
    parser.add_argument("--throughput-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.throughput_child:
        identity = ModelIdentity(**json.loads(os.environ["SCALE_IDENTITY"]))
        count, index_points = args.throughput_child
        print(throughput(count, index_points, identity))
        return
    reexec_with_arena_limit((__file__,))  # two malloc arenas, as the importer runs
    sizes = [int(s) for s in args.sizes.split(",")]
    encoder = Bm25Encoder()
    base = base_chunks()
    questions = [q.text for q in ALL]
    texts = [" ".join(c.text.split()[:64]) for c, _ in base[: args.bases]]
    embedded, identity = embed_apart(texts + questions)
    vectors, asked = embedded[: len(texts)], [v.tolist() for v in embedded[len(texts) :]]
    print(f"{len(base)} base chunks from {len(CORPORA)} corpora", flush=True)
    state = Path(tempfile.mkdtemp(prefix="scale-")) if args.keep is None else args.keep
    store = state / "qdrant"
    (state / "none").mkdir(parents=True, exist_ok=True)
    one_shot(state, questions[0])  # the model folder assembled once, not timed
    ledger = Ledger(
        ckpt.Checkpoint(),
        Stats(),
        checkpoint_path=state / "bench-checkpoint.json",
        quarantine_path=state / "bench-quarantine.jsonl",
        save_every_lines=CHECKPOINT_POINTS,
    )
    sink = TimedSink(store)
    sink.open(identity)
    stream = points(base, vectors, encoder, seed=1)
    pairs = list(zip(questions, asked, strict=True))
    written, peak, rows = 0, 0.0, []
    started = time.perf_counter()
    try:
        for size in sizes:
            t0, builds0 = time.perf_counter(), len(sink.pauses)
            live = anyio.run(backfill, sink, ledger, stream, size - written, str(size))
            if sink.index_due():
                sink.build_index()  # as the importer does once the backfill is stored
            rate = (size - written) / (time.perf_counter() - t0)
            written = size
            pauses = sink.pauses[builds0:]
            memory.trim()
            anon = memory.sample().anon_mb
            peak = max(peak, anon)
            sink.close()
            evict(store)
            cli = one_shot(state, questions[1])
            evict(store)
            t1 = time.perf_counter()
            sink = TimedSink(store)
            sink.open(identity)
            opened = time.perf_counter() - t1
            cold = timed_searches(sink, encoder, pairs[:COLD_QUERIES])
            sink.warmed()
            warm = timed_searches(sink, encoder, pairs * 2)
            dense_p50, recall = dense_recall(sink, asked)
            segments = sum(1 for _ in (store / COLLECTION / "segments").iterdir())
            rows.append(
                {
                    "points": size,
                    "rate": rate,
                    "builds": len(pauses),
                    "pause": max(pauses, default=0.0),
                    "live_p50": statistics.median(live) * 1000,
                    "live_p95": p95(live) * 1000,
                    "live_max": max(live) * 1000,
                    "live_n": len(live),
                    "anon": anon,
                    "peak": peak,
                    "segments": segments,
                    "open": opened,
                    "cli": cli,
                    "cold_p50": statistics.median(cold),
                    "cold_p95": p95(cold),
                    "cold_first": cold[0],
                    "warm_p50": statistics.median(warm),
                    "warm_p95": p95(warm),
                    "dense_p50": dense_p50,
                    "recall": recall,
                }
            )
            print(_row(rows[-1]), f"({time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        sink.close()
        if args.keep is None:
            shutil.rmtree(state, ignore_errors=True)
    _table(rows)
    if args.throughput:
        np.save(ROOT / ".scale-vectors.npy", vectors)
        try:
            _throughput(args.throughput, identity)
        finally:
            (ROOT / ".scale-vectors.npy").unlink()


def _throughput(count: int, identity: ModelIdentity) -> None:
    env = {**os.environ, "SCALE_IDENTITY": json.dumps(identity.to_json())}
    took = {}
    for name, index_points in (("with builds", 10_000), ("without builds", 10**8)):
        out = subprocess.run(
            [sys.executable, __file__, "--throughput-child", str(count), str(index_points)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        took[name] = float(out.stdout.split()[-1])
        print(f"writing {count:,} points {name}: {took[name]:.1f} s", flush=True)
    print(f"with / without builds: {took['with builds'] / took['without builds']:.2f}x")


def _row(r: dict[str, float]) -> str:
    return (
        f"| {r['points']:,.0f} | {r['rate']:,.0f} | {r['builds']:.0f}, {r['pause']:.1f} s"
        f" | {r['live_p50']:.0f} / {r['live_p95']:.0f} / {r['live_max']:.0f} ms ({r['live_n']:.0f})"
        f" | {r['anon']:.0f} / {r['peak']:.0f} | {r['segments']:.0f} | {r['open']:.2f} s"
        f" | {r['cli']:.2f} s"
        f" | {r['cold_p50']:.0f} / {r['cold_p95']:.0f} ms ({r['cold_first']:.0f})"
        f" | {r['warm_p50']:.0f} / {r['warm_p95']:.0f} ms | {r['dense_p50']:.1f} ms"
        f" | {r['recall']:.3f} |"
    )


def _table(rows: list[dict[str, float]]) -> None:
    print()
    print(
        "| points | write points/s | builds, longest pause | live append p50 / p95 / max (n)"
        " | anonymous MiB after / peak | segments | open | one-shot CLI search"
        " | cold first 20 p50 / p95 (first) | warm hybrid p50 / p95 | dense p50"
        " | dense recall@50 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(_row(r))
    growth = rows[-1]["anon"] - rows[0]["anon"]
    print(
        f"\nanonymous memory from {rows[0]['points']:,} to {rows[-1]['points']:,} points:"
        f" {growth:+.0f} MiB"
    )


if __name__ == "__main__":
    main()
