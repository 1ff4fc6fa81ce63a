"""Backfill of the shared corpus, end to end, for one or more settings.

For each variant (environment variables on top of the defaults): runs
``python -m streaming_importer --once`` over ``../shared/corpus/claude-projects``
into an empty state folder, samples the child's memory, then asks the store
for the session of one distinctive sentence per transcript
(``benchmarks.corpus_questions``) and prints a table.

    python benchmarks/backfill.py                 # CHUNK_MAX_TOKENS 96, 128, 256
    python benchmarks/backfill.py --variant EMBED_CPU_ARENA=true --variant EMBED_CPU_ARENA=false
    python benchmarks/backfill.py --variant EMBED_BATCH_TOKENS=512 --variant EMBED_BATCH_TOKENS=2048
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_questions import distinctive_sentences  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.embedding.embedder import load_embedder  # noqa: E402
from streaming_importer.ops.config import Settings  # noqa: E402
from streaming_importer.search.find import search  # noqa: E402
from streaming_importer.search.query import SearchQuery  # noqa: E402
from streaming_importer.store.edge import EdgeSink  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
_SUMMARY = re.compile(r"(\d+) lines, (\d+) chunks, (\d+) tokens embedded in ([\d.]+) s")


def run_import(corpus: Path, state: Path, variant: dict[str, str]) -> dict[str, float]:
    env = {
        **os.environ,
        "CONVERSATIONS_DIR": str(corpus),
        "STATE_DIR": str(state),
        "CONTROL_PORT": "0",
        **variant,
    }
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "streaming_importer", "--once"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as proc:
        child = psutil.Process(proc.pid)
        peak_rss = peak_anon = 0.0
        while proc.poll() is None:
            try:
                rss = child.memory_info().rss / 2**20
                anon = _anon_mb(proc.pid)
            except (psutil.NoSuchProcess, OSError):
                break
            peak_rss, peak_anon = max(peak_rss, rss), max(peak_anon, anon)
            time.sleep(0.2)
        _, err = proc.communicate()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}):\n{err[-3000:]}")
    # The last summary is the run's (a long run also logs interim ones).
    found = _SUMMARY.findall(err)
    assert found, err[-2000:]
    _lines, chunks, tokens, seconds = found[-1]
    return {
        "wall_s": wall,
        "import_s": float(seconds),
        "chunks": int(chunks),
        "tokens": int(tokens),
        "tokens_per_s": int(tokens) / float(seconds),
        "peak_rss_mb": peak_rss,
        "peak_anon_mb": peak_anon,
    }


def _anon_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0


def recall(corpus: Path, state: Path, variant: dict[str, str]) -> tuple[float, float, int]:
    settings = Settings.from_env(
        {"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(state), **variant}
    )
    embedder = load_embedder(settings)
    sink = EdgeSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity, create=False)
    cases = distinctive_sentences(corpus)
    at1 = at5 = 0
    try:
        for _, session, sentence in cases:
            found = search(embedder, Bm25Encoder(), sink, SearchQuery(sentence, limit=5))
            sessions = [h.best.payload["session_id"] for h in found]
            at1 += sessions[:1] == [session]
            at5 += session in sessions
    finally:
        sink.close()
    return at1 / len(cases), at5 / len(cases), len(cases)


def parse_variant(text: str) -> dict[str, str]:
    variant = {}
    for part in text.split():
        key, _, value = part.partition("=")
        variant[key] = value
    return variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant",
        action="append",
        help="KEY=VALUE [KEY=VALUE ...] on top of the defaults; repeat for several",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    variants = (
        [parse_variant(v) for v in args.variant]
        if args.variant
        else [
            {"CHUNK_MAX_TOKENS": "96", "CHUNK_OVERLAP_TOKENS": "12"},
            {"CHUNK_MAX_TOKENS": "128", "CHUNK_OVERLAP_TOKENS": "16"},
            {"CHUNK_MAX_TOKENS": "256", "CHUNK_OVERLAP_TOKENS": "32"},
        ]
    )
    size_mb = sum(f.stat().st_size for f in args.corpus.rglob("*.jsonl")) / 1e6
    print(f"corpus: {args.corpus} ({size_mb:.1f} MB)")
    header = (
        f"{'variant':<44} {'wall s':>7} {'chunks':>7} {'tokens':>8} {'tokens/s':>9} "
        f"{'peak rss MB':>11} {'peak anon MB':>12} {'session@1':>9} {'session@5':>9}"
    )
    rows = []
    for variant in variants:
        name = " ".join(f"{k}={v}" for k, v in variant.items()) or "defaults"
        with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
            r = run_import(args.corpus, Path(tmp), variant)
            at1, at5, n = recall(args.corpus, Path(tmp), variant)
        rows.append(
            f"{name:<44} {r['wall_s']:>7.1f} {r['chunks']:>7} {r['tokens']:>8} "
            f"{r['tokens_per_s']:>9.0f} {r['peak_rss_mb']:>11.0f} {r['peak_anon_mb']:>12.0f} "
            f"{at1:>9.2f} {at5:>9.2f}"
        )
        print(rows[-1], f"({n} questions)", flush=True)
    print()
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
