"""Soak: backfill 1,000+ transcripts and watch the importer's memory.

Builds a folder of N transcripts from the shared corpus: each copy gets a new
file name, new session id and new record uuids (so every copy is new content
to the store), cycling through the corpus files of at most ``--max-kb``.
Runs ``python -m streaming_importer --once`` over it with the default settings,
samples the child's RSS and anonymous memory (RssAnon) every 0.25 s, and maps
samples to files done (from the per-file log lines). Prints the peak, and the
slope in MB per 100 files after warm-up (a least-squares line through the
anonymous memory at each file, after the first ``--warmup`` files).

    python benchmarks/soak.py                 # 1,000 files
    python benchmarks/soak.py --files 2000
    python benchmarks/soak.py --no-cache      # every chunk through the model
    python benchmarks/soak.py --files 3000 --no-cache --distinct   # no shared text

With ``--distinct`` every text of a copy starts with the copy's own tag, so no
two transcripts share a text (each chunk is new to the model, the cache and
BM25), as in a real history; the slope target is then 2 MB per 100 files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Where a message's text begins in a Claude Code record (a string content, a text block).
_TEXT = re.compile(rb'("(?:content|text|thinking)": ?")')


def build(target: Path, files: int, max_kb: int, *, distinct: bool = False) -> int:
    sources = sorted(p for p in CORPUS.rglob("*.jsonl") if 0 < p.stat().st_size <= max_kb * 1024)
    total = 0
    for i in range(files):
        src = sources[i % len(sources)]
        ns = uuid.uuid5(uuid.NAMESPACE_OID, f"soak-{i}")
        # Every uuid (session ids, record uuids, parents) mapped to a new one.
        data = _UUID.sub(
            lambda m, ns=ns: str(uuid.uuid5(ns, m.group().decode())).encode(), src.read_bytes()
        )
        if distinct:
            tag = f"copy{i} ".encode()
            data = _TEXT.sub(lambda m, tag=tag: m.group(1) + tag, data)
        session = uuid.uuid5(ns, "session")
        dest = target / f"-home-soak-project-{i % 20}" / f"{session}.jsonl"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        total += len(data)
    return total


def anon_mb(pid: int) -> tuple[float, float]:
    rss = anon = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("RssAnon:"):
            anon = int(line.split()[1]) / 1024
    return rss, anon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--max-kb", type=int, default=120, help="largest corpus file copied")
    parser.add_argument("--warmup", type=int, default=100, help="files before the slope is fit")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="EMBED_CACHE_ENTRIES=0: the copies share their text, so with the cache most "
        "chunks skip the model; without it every chunk goes through the model",
    )
    parser.add_argument(
        "--distinct", action="store_true", help="no text shared between transcripts"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        conversations, state = Path(tmp) / "conversations", Path(tmp) / "state"
        size = build(conversations, args.files, args.max_kb, distinct=args.distinct)
        print(f"{args.files} transcripts, {size / 1e6:.1f} MB", flush=True)
        env = {
            **os.environ,
            "CONVERSATIONS_DIR": str(conversations),
            "STATE_DIR": str(state),
            "CONTROL_PORT": "0",
        }
        env.pop("OPERATIONAL_MEMORY_MB", None)  # the default ceiling
        # The model folder is built first, apart (as the Docker image bakes
        # it): the first start's one-time build is not the importer's memory.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from streaming_importer.ops.config import Settings; "
                "from streaming_importer.embedding.embedder import load_embedder; import os; "
                "load_embedder(Settings.from_env(os.environ))",
            ],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        if args.no_cache:
            env["EMBED_CACHE_ENTRIES"] = "0"
        samples: list[tuple[float, float, float]] = []  # (time, rss, anon)
        done_at: list[float] = []  # time each file finished
        started = time.monotonic()
        with subprocess.Popen(
            [sys.executable, "-m", "streaming_importer", "--once"],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stderr is not None
            stderr = proc.stderr

            def read_log() -> None:
                for line in stderr:
                    if " INFO streaming_importer.pipeline.monitor: file " in line:
                        done_at.append(time.monotonic())
                    elif "WARNING" in line or "ERROR" in line:
                        print(line.rstrip(), flush=True)

            reader = threading.Thread(target=read_log, daemon=True)
            reader.start()
            while proc.poll() is None:
                try:
                    rss, anon = anon_mb(proc.pid)
                except (OSError, ValueError):
                    break
                samples.append((time.monotonic(), rss, anon))
                time.sleep(0.25)
            code = proc.wait()
            reader.join(timeout=5)
        wall = time.monotonic() - started
        status = json.loads(
            subprocess.run(
                [sys.executable, "-m", "streaming_importer", "status", "--json"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )

    peak_rss = max(s[1] for s in samples)
    peak_anon = max(s[2] for s in samples)
    # Anonymous memory at each file's end: the last sample before it.
    per_file = []
    for t in done_at:
        before = [s for s in samples if s[0] <= t]
        if before:
            per_file.append(before[-1][2])
    xs = list(range(len(per_file)))[args.warmup :]
    ys = per_file[args.warmup :]
    slope = _slope(xs, ys) * 100 if len(xs) > 2 else float("nan")
    print(f"exit code: {code} (75 would mean the default ceiling was reached)")
    print(f"files imported: {len(done_at)}, points: {status['points']}, wall: {wall:.0f} s")
    print(f"peak rss: {peak_rss:.0f} MB, peak anon: {peak_anon:.0f} MB")
    print(f"anon slope after {args.warmup} files: {slope:+.2f} MB per 100 files")
    bound = 2 if args.distinct else 5
    print(
        f"targets: peak rss < 600 MB {'met' if peak_rss < 600 else 'NOT met'}, "
        f"slope < {bound} MB/100 files {'met' if slope < bound else 'NOT met'}, "
        f"no exit 75 {'met' if code == 0 else 'NOT met'}"
    )


def _slope(xs: list[int], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


if __name__ == "__main__":
    main()
