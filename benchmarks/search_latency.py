"""Warm search latency through the running importer, on the shared corpus.

Starts ``python -m streaming_importer`` (daemon mode) on
``../shared/corpus/claude-projects`` with an empty state folder, waits until
it has imported everything, asks one query to warm up (the model is loaded at
start, so this only excludes first-call effects), then asks each of the own
questions about that corpus ``--rounds`` times through the control socket, as
the CLI and the MCP server do (default limit 10: two store queries, the
fusion, and each result's context). Prints p50, p95 and max.

    python benchmarks/search_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.own import ALL  # noqa: E402
from streaming_importer.control_client import query_running  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
TARGET_P95_S = 0.300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [q.text for q in ALL if q.corpus == 1]
    with tempfile.TemporaryDirectory(prefix="search-latency-") as tmp:
        state = Path(tmp) / "state"
        env = {
            **os.environ,
            "CONVERSATIONS_DIR": str(CORPUS),
            "STATE_DIR": str(state),
            "LOG_LEVEL": "WARNING",
        }
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "streaming_importer"], env=env, cwd=ROOT)
        try:
            runtime = state / "importer.json"
            deadline = time.monotonic() + 600
            while not runtime.exists() or query_running(runtime, "/status", {})["pending_bytes"]:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the importer did not start or catch up")
                time.sleep(0.5)
            print(f"caught up in {time.monotonic() - started:.0f} s", flush=True)
            query_running(runtime, "/search", {"q": "warm up"})
            latencies = []
            for _ in range(args.rounds):
                for text in questions:
                    began = time.perf_counter()
                    hits = query_running(runtime, "/search", {"q": text, "limit": "10"})
                    latencies.append(time.perf_counter() - began)
                    assert isinstance(hits, list) and hits, text
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"queries: {len(latencies)} ({len(questions)} questions x {args.rounds})")
    print(
        f"p50: {statistics.median(latencies) * 1000:.0f} ms  p95: {p95 * 1000:.0f} ms  "
        f"max: {latencies[-1] * 1000:.0f} ms"
    )
    print(
        f"target p95 <= {TARGET_P95_S * 1000:.0f} ms: {'met' if p95 <= TARGET_P95_S else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
