"""Append-to-searchable latency of the running importer.

Starts ``python -m streaming_importer`` (daemon mode) on a copy of the demo
transcripts, waits until it has caught up, then, N times: appends one
complete line with a unique sentence to a watched transcript and polls the
importer's control socket with ``/search`` until that line's message is the top
hit. Prints p50, p95 and max over the appends.

    python benchmarks/latency.py            # 100 appends
    python benchmarks/latency.py --appends 300
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming_importer.control_client import query_running  # noqa: E402

DEMO = ROOT / "demo" / "claude-projects"
TARGET = "-home-dev-blog/7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036.jsonl"
WORDS = (
    "amber basil cobalt dune ember fjord garnet harbor indigo juniper kelp lagoon marble "
    "nectar onyx pebble quartz raven saffron tundra umber velvet willow xenon yarrow zephyr"
).split()


def get(runtime: Path, path: str, **params: str) -> object:
    """Ask the running importer (its socket) as the CLI does."""
    return query_running(runtime, path, params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per append")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        conversations, state = Path(tmp) / "conversations", Path(tmp) / "state"
        shutil.copytree(DEMO, conversations)
        env = {
            **os.environ,
            "CONVERSATIONS_DIR": str(conversations),
            "STATE_DIR": str(state),
            "LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen([sys.executable, "-m", "streaming_importer"], env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 120
            while not (state / "importer.json").exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the importer did not start")
                time.sleep(0.1)
            runtime = state / "importer.json"
            while get(runtime, "/status")["pending_bytes"]:  # type: ignore[index]
                time.sleep(0.2)
            latencies = [
                measure(conversations / TARGET, runtime, i, args.timeout)
                for i in range(args.appends)
            ]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"appends: {len(latencies)}")
    print(f"p50: {p50 * 1000:.0f} ms  p95: {p95 * 1000:.0f} ms  max: {latencies[-1] * 1000:.0f} ms")
    print(f"target p95 < 2000 ms: {'met' if p95 < 2.0 else 'NOT met'}")


def measure(path: Path, runtime: Path, i: int, timeout: float) -> float:
    message_uuid = str(uuid.uuid4())
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(5)]
    sentence = f"latency probe {i}: the {' '.join(words)} decision number {i}"
    record = {
        "type": "user",
        "uuid": message_uuid,
        "sessionId": f"latency-{i}",
        "cwd": "/home/dev/blog",
        "timestamp": "2026-11-22T12:00:00.000Z",
        "message": {"role": "user", "content": sentence},
    }
    line = json.dumps(record).encode() + b"\n"
    with path.open("ab") as f:
        f.write(line)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        hits = get(runtime, "/search", q=sentence, limit="1")
        if hits and hits[0].get("message_uuid") == message_uuid:  # type: ignore[index,union-attr]
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"append {i} was not searchable within {timeout} s")


if __name__ == "__main__":
    main()
