"""Backfill of the shared corpus, end to end, for one or more chunk sizes.

For each ``CHUNK_MAX_TOKENS`` value: runs ``python -m streaming_importer --once``
over ``../shared/corpus/claude-projects`` into an empty state folder, samples
the child's memory, then asks the store for the session of one distinctive
sentence per transcript (``benchmarks.corpus_questions``) and prints a table.

    python benchmarks/backfill.py                 # 128 and 256 tokens
    python benchmarks/backfill.py --chunk-tokens 96 128 192 256
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
from streaming_importer.config import Settings  # noqa: E402
from streaming_importer.embed import load_embedder  # noqa: E402
from streaming_importer.search import search_sessions  # noqa: E402
from streaming_importer.sink.edge import EdgeSink  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
_SUMMARY = re.compile(r"(\d+) lines, (\d+) chunks, (\d+) tokens embedded in ([\d.]+) s")


def run_import(corpus: Path, state: Path, chunk_tokens: int) -> dict[str, float]:
    env = {
        **os.environ,
        "CONVERSATIONS_DIR": str(corpus),
        "STATE_DIR": str(state),
        "CHUNK_MAX_TOKENS": str(chunk_tokens),
        "CHUNK_OVERLAP_TOKENS": str(max(chunk_tokens // 8, 0)),
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
    match = _SUMMARY.search(err)
    assert match, err[-2000:]
    _lines, chunks, tokens, seconds = match.groups()
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


def recall(corpus: Path, state: Path) -> tuple[float, float, int]:
    settings = Settings.from_env({"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(state)})
    embedder = load_embedder(settings)
    sink = EdgeSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity, create=False)
    cases = distinctive_sentences(corpus)
    at1 = at5 = 0
    try:
        for _, session, sentence in cases:
            sessions = [
                h.payload["session_id"] for h in search_sessions(embedder, sink, sentence, 5, {})
            ]
            at1 += sessions[:1] == [session]
            at5 += session in sessions
    finally:
        sink.close()
    return at1 / len(cases), at5 / len(cases), len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-tokens", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    size_mb = sum(f.stat().st_size for f in args.corpus.rglob("*.jsonl")) / 1e6
    print(f"corpus: {args.corpus} ({size_mb:.1f} MB)")
    header = (
        f"{'chunk tokens':>12} {'wall s':>7} {'chunks':>7} {'tokens':>8} {'tokens/s':>9} "
        f"{'peak rss MB':>11} {'peak anon MB':>12} {'session@1':>9} {'session@5':>9}"
    )
    rows = []
    for size in args.chunk_tokens:
        with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
            r = run_import(args.corpus, Path(tmp), size)
            at1, at5, n = recall(args.corpus, Path(tmp))
        rows.append(
            f"{size:>12} {r['wall_s']:>7.1f} {r['chunks']:>7} {r['tokens']:>8} "
            f"{r['tokens_per_s']:>9.0f} {r['peak_rss_mb']:>11.0f} {r['peak_anon_mb']:>12.0f} "
            f"{at1:>9.2f} {at5:>9.2f}"
        )
        print(rows[-1].strip(), f"({n} questions)", flush=True)
    print()
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
