"""Is the importer as fast as its model? Raw model vs end-to-end, in one run.

(1) Raw: the exact chunk set of the corpus (parsed and chunked as the
    importer does, in its file order), cut into the batches the importer forms
    (windows of 256 chunks, sorted by length, at most EMBED_BATCH_TOKENS
    padded tokens), timed around the model calls only. No cache.
(2) End to end: ``python -m streaming_importer --once`` over the same corpus
    into an empty state folder.

Prints tokens/s of each, the ratio end-to-end / raw over the whole chunk set
(target >= 0.95), and the share of tokens not embedded thanks to the cache.

    python benchmarks/throughput.py
    python benchmarks/throughput.py --compare    # batch budgets, padding, threads (raw)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming_importer.embedding.chunk import Chunk, Chunker  # noqa: E402
from streaming_importer.embedding.embedder import FastEmbedEmbedder, load_embedder  # noqa: E402
from streaming_importer.ops.config import Settings  # noqa: E402
from streaming_importer.pipeline.embed_stage import WINDOW_CHUNKS, padded_batches  # noqa: E402
from streaming_importer.sources.claude import parse_line  # noqa: E402
from streaming_importer.sources.files import scan  # noqa: E402
from streaming_importer.sources.messages import ParseLimits, file_context_for  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
_SUMMARY = re.compile(
    r"(\d+) chunks, (\d+) tokens embedded in ([\d.]+) s \([\d.]+ tokens/s\), "
    r"(\d+) tokens reused from the cache, ([\d.]+) s in the model"
)


def chunk_set(settings: Settings, embedder: FastEmbedEmbedder) -> list[Chunk]:
    """Every chunk of the corpus, in the order the importer produces them."""
    chunker = Chunker(
        embedder.tokenizer(),
        settings.chunk_max_tokens,
        settings.chunk_overlap_tokens,
        embedder.special_tokens,
    )
    limits = ParseLimits(settings.tool_result_max_chars, settings.tool_call_max_chars)
    chunks: list[Chunk] = []
    for f in scan(settings.conversations_dir):
        context = file_context_for(f.rel_path)
        for raw in f.path.read_bytes().splitlines():
            result = parse_line(raw, context, limits)
            context = result.context
            for message in result.messages:
                chunks.extend(chunker.chunk(message))
    return chunks


def raw_model(
    embedder: FastEmbedEmbedder, chunks: list[Chunk], budget: int, *, sort: bool = True
) -> tuple[float, int, int]:
    """Seconds in the model, tokens, and padded tokens, for the importer's batches."""
    seconds = 0.0
    tokens = padded = 0
    for start in range(0, len(chunks), WINDOW_CHUNKS):
        window = chunks[start : start + WINDOW_CHUNKS]
        lengths = [c.n_tokens for c in window]
        order = sorted(range(len(window)), key=lengths.__getitem__) if sort else range(len(window))
        for batch in padded_batches(list(order), lengths, budget):
            ids = [window[i].token_ids for i in batch]
            t = time.perf_counter()
            embedder.embed_ids(ids)
            seconds += time.perf_counter() - t
            tokens += sum(lengths[i] for i in batch)
            padded += max(lengths[i] for i in batch) * len(batch)
    return seconds, tokens, padded


def end_to_end(corpus: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        env = {
            **os.environ,
            "CONVERSATIONS_DIR": str(corpus),
            "STATE_DIR": tmp,
            "CONTROL_PORT": "0",
        }
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "streaming_importer", "--once"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    # The last summary is the run's: a run over SUMMARY_INTERVAL_S also logs
    # interim ones in the same words.
    found = _SUMMARY.findall(result.stderr)
    assert found, result.stderr[-2000:]
    chunks, embedded, seconds, reused, model_s = found[-1]
    return {
        "chunks": int(chunks),
        "embedded": int(embedded),
        "reused": int(reused),
        "import_s": float(seconds),
        "model_s": float(model_s),
        "wall_s": wall,
    }


def startup_to_first_chunk(runs: int = 3) -> float:
    """Seconds from starting ``--once`` to the first file stored, model already assembled."""
    demo = ROOT / "demo" / "claude-projects"
    times = []
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        env = {**os.environ, "CONVERSATIONS_DIR": str(demo), "STATE_DIR": tmp, "CONTROL_PORT": "0"}
        cmd = [sys.executable, "-m", "streaming_importer", "--once"]
        subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, check=True)  # assembles
        for _ in range(runs):
            for name in ("checkpoint.json", "qdrant"):
                path = Path(tmp) / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            started = time.monotonic()
            with subprocess.Popen(
                cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
            ) as proc:
                assert proc.stderr is not None
                for line in proc.stderr:
                    if "streaming_importer.pipeline.monitor: file " in line:
                        times.append(time.monotonic() - started)
                        break
                proc.wait()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--compare", action="store_true", help="compare batch budgets, padding and threads"
    )
    parser.add_argument("--sample", type=int, default=1500, help="chunks per --compare row")
    args = parser.parse_args()
    settings = Settings.from_env(
        {"CONVERSATIONS_DIR": str(args.corpus), "STATE_DIR": tempfile.mkdtemp()}
    )
    embedder = load_embedder(settings)
    chunks = chunk_set(settings, embedder)
    total = sum(c.n_tokens for c in chunks)
    print(f"chunk set: {len(chunks)} chunks, {total} tokens")
    if args.compare:
        compare(settings, chunks[: args.sample])
        return

    seconds, tokens, padded = raw_model(embedder, chunks, settings.embed_batch_tokens)
    raw_rate = tokens / seconds
    print(
        f"(1) raw model: {tokens} tokens in {seconds:.1f} s = {raw_rate:.0f} tokens/s "
        f"(padding {padded / tokens - 1:.1%})"
    )
    e2e = end_to_end(args.corpus)
    e2e_rate = total / e2e["import_s"]
    files_per_min = len(scan(args.corpus)) / e2e["import_s"] * 60
    print(
        f"(2) end to end: {e2e['chunks']:.0f} chunks in {e2e['import_s']:.1f} s "
        f"(process wall {e2e['wall_s']:.1f} s): {e2e_rate:.0f} tokens/s of the chunk set, "
        f"{e2e['chunks'] / e2e['import_s']:.0f} chunks/s, {files_per_min:.0f} files/min"
    )
    print(f"ratio end-to-end / raw: {e2e_rate / raw_rate:.2f} (target >= 0.95)")
    # The same over the whole process: start-up (the models assembled into the
    # empty state folder, then loaded) included.
    print(
        f"ratio including start-up (process wall, models assembled): "
        f"{total / e2e['wall_s'] / raw_rate:.2f}"
    )
    inside = e2e["embedded"] / e2e["model_s"]
    print(
        f"the model inside the import: {e2e['embedded']:.0f} tokens computed in "
        f"{e2e['model_s']:.1f} s = {inside:.0f} tokens/s ({inside / raw_rate:.2f} of raw; "
        "the parser shares the 2 cores)"
    )
    print(
        f"tokens not embedded thanks to the cache: {e2e['reused']:.0f} "
        f"({e2e['reused'] / (e2e['reused'] + e2e['embedded']):.1%})"
    )
    print(
        f"(3) start-up to the first file stored (model already in STATE_DIR, best of 3): "
        f"{startup_to_first_chunk():.2f} s (target < 3 s)"
    )


def compare(settings: Settings, chunks: list[Chunk]) -> None:
    rows = []
    for threads in (0, 1, 2):
        env = {
            "CONVERSATIONS_DIR": str(settings.conversations_dir),
            "STATE_DIR": str(settings.state_dir),
            "EMBED_THREADS": str(threads),
        }
        embedder = load_embedder(Settings.from_env(env))
        raw_model(embedder, chunks[:300], 512)  # warm up the session and its arena
        for budget in (512, 1024, 2048, 4096):
            for sort in (True, False):
                if not sort and (budget != settings.embed_batch_tokens):
                    continue
                seconds, tokens, padded = raw_model(embedder, chunks, budget, sort=sort)
                rows.append(
                    (
                        threads or "auto",
                        budget,
                        "sorted" if sort else "arrival",
                        tokens / seconds,
                        padded / tokens - 1,
                    )
                )
                print(*rows[-1], flush=True)
    print()
    print(f"{'threads':>7} {'budget':>7} {'padding':>8} {'tokens/s':>9} {'pad waste':>9}")
    for threads, budget, pad, rate, waste in rows:
        print(f"{threads!s:>7} {budget:>7} {pad:>8} {rate:>9.0f} {waste:>9.1%}")


if __name__ == "__main__":
    main()
