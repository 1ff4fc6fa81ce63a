"""Every shipped model, side by side: speed, memory, load time, retrieval quality.

For each model (``EMBEDDING_MODEL`` value), in one run on this machine:

- first start: building the model folder, seconds (a process of its own);
- load time: loading the built folder, seconds;
- tokens/s and peak RSS: embedding the corpus's chunks in the importer's own
  way (length-sorted batches of ``EMBED_BATCH_TOKENS`` padded tokens), each
  model in a fresh process so memory figures do not mix;
- session@1, session@5 and answer@3 of ``benchmarks/eval_set.py`` (hybrid
  search, after importing the corpus with that model), and the same for the
  Japanese questions about English sessions.

    python benchmarks/models.py [--chunks N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
MODELS = ("all-MiniLM-L6-v2-int8", "all-MiniLM-L6-v2-fp32", "multilingual-e5-small")


def speed(model: str, models_dir: Path, n_chunks: int) -> dict[str, float]:
    """Runs in a child process: load time, tokens/s and peak RSS of one model."""
    import psutil

    from benchmarks.throughput import chunk_set
    from streaming_importer.embedding.embedder import load_embedder
    from streaming_importer.ops.config import Settings
    from streaming_importer.pipeline.embed_stage import padded_batches

    settings = Settings.from_env(
        {
            "CONVERSATIONS_DIR": str(CORPUS),
            "STATE_DIR": str(models_dir.parent),
            "MODELS_DIR": str(models_dir),
            "EMBEDDING_MODEL": model,
        }
    )
    started = time.perf_counter()
    embedder = load_embedder(settings)
    load_s = time.perf_counter() - started
    loaded_rss = psutil.Process().memory_info().rss
    chunks = chunk_set(settings, embedder)
    chunks = chunks[:n_chunks]
    lengths = [c.n_tokens for c in chunks]
    order = sorted(range(len(chunks)), key=lengths.__getitem__)
    peak = loaded_rss
    started = time.perf_counter()
    for batch in padded_batches(order, lengths, settings.embed_batch_tokens):
        embedder.embed_ids([chunks[i].token_ids for i in batch])
        peak = max(peak, psutil.Process().memory_info().rss)
    seconds = time.perf_counter() - started
    return {
        "load_s": round(load_s, 2),
        "loaded_rss_mb": round(loaded_rss / (1 << 20)),
        "tokens_per_s": round(sum(lengths) / seconds),
        "peak_rss_mb": round(peak / (1 << 20)),
        "chunks": len(chunks),
    }


def quality(model: str, state: Path) -> dict[str, tuple[float, float, float]]:
    """Import the corpus with ``model``, then score the evaluation set (hybrid)."""
    from benchmarks.eval_set import CROSS_LINGUAL, QUESTIONS
    from benchmarks.retrieval import score
    from streaming_importer.embedding.embedder import load_embedder
    from streaming_importer.ops.config import Settings
    from streaming_importer.store.edge import EdgeSink

    env = {
        **os.environ,
        "CONVERSATIONS_DIR": str(CORPUS),
        "STATE_DIR": str(state),
        "EMBEDDING_MODEL": model,
    }
    subprocess.run(
        [sys.executable, "-m", "streaming_importer", "--once"],
        env=env,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    settings = Settings.from_env(
        {k: env[k] for k in ("CONVERSATIONS_DIR", "STATE_DIR", "EMBEDDING_MODEL")}
    )
    embedder = load_embedder(settings)
    sink = EdgeSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity, create=False)
    try:
        return {
            name: score(embedder, sink, questions, "hybrid")[:3]
            for name, questions in (("en", QUESTIONS), ("ja", CROSS_LINGUAL))
        }
    finally:
        sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=4500, help="chunks embedded for speed")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "MODELS_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(speed(args.child[0], Path(args.child[1]), args.chunks)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            models_dir = Path(tmp) / model / "models"
            # First start: the model folder is built (a process of its own, so
            # the build's memory does not count as the model's).
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from pathlib import Path; "
                    "from streaming_importer.embedding.embedder import local_variant; "
                    "from streaming_importer.embedding.model_folder import ensure_model; "
                    "ensure_model(Path(sys.argv[1]), local_variant(sys.argv[2]))",
                    str(models_dir),
                    model,
                ],
                check=True,
                capture_output=True,
            )
            build_s = time.perf_counter() - started
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--chunks",
                    str(args.chunks),
                    "--child",
                    model,
                    str(models_dir),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            figures["build_s"] = round(build_s, 1)
            scores = quality(model, Path(tmp) / model)
            rows.append((model, figures, scores))
    print(f"\n{rows[0][1]['chunks']} corpus chunks, EMBED_BATCH_TOKENS=512, this machine\n")
    print(
        "| EMBEDDING_MODEL | first start: build s | load s | tokens/s | RSS loaded / peak MB "
        "| session@1 | session@5 | answer@3 | JA→EN session@1 / @5 / answer@3 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model, f, s in rows:
        en, ja = s["en"], s["ja"]
        print(
            f"| {model} | {f['build_s']} | {f['load_s']} | {f['tokens_per_s']:,} | "
            f"{f['loaded_rss_mb']} / {f['peak_rss_mb']} | "
            f"{en[0]:.2f} | {en[1]:.2f} | {en[2]:.2f} | {ja[0]:.2f} / {ja[1]:.2f} / {ja[2]:.2f} |"
        )


if __name__ == "__main__":
    main()
