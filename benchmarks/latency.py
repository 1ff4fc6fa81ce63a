"""Append-to-searchable latency of the running importer.

Starts ``python -m streaming_importer`` (daemon mode) on a copy of the demo
transcripts, waits until it has caught up, then, N times: appends one
complete line with a unique sentence to a watched transcript and polls the
importer's control socket with ``/search`` until that line's message is the top
hit. Prints p50, p95 and max over the appends.

With ``--agent codex`` the appends go to a real Codex CLI rollout (copied from
``../shared/corpus/other-agents``) as the prompt events Codex writes, read
with ``SOURCES=claude,codex`` beside the demo transcripts.

    python benchmarks/latency.py            # 100 appends
    python benchmarks/latency.py --appends 300
    python benchmarks/latency.py --agent codex
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming_importer.surfaces.http.client import query_running  # noqa: E402

DEMO = ROOT / "demo" / "claude-projects"
TARGET = "-home-dev-blog/7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036.jsonl"
CODEX = ROOT.parent / "shared" / "corpus" / "other-agents" / "codex"
CODEX_TARGET = (
    "sessions/2026/01/02/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"
)
#: p95 each agent's appends must stay under, in seconds.
TARGETS = {"claude-code": 1.0, "codex": 1.0}
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
    parser.add_argument("--agent", choices=sorted(TARGETS), default="claude-code")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="latency-") as tmp:
        conversations, state = Path(tmp) / "conversations", Path(tmp) / "state"
        shutil.copytree(DEMO, conversations)
        env = {
            **os.environ,
            "CONVERSATIONS_DIR": str(conversations),
            "STATE_DIR": str(state),
            "LOG_LEVEL": "WARNING",
            "SOURCES": "claude",
        }
        target, line_for = conversations / TARGET, claude_line
        if args.agent == "codex":
            shutil.copytree(CODEX, Path(tmp) / "codex")
            env.update(SOURCES="claude,codex", CODEX_HOME=str(Path(tmp) / "codex"))
            target, line_for = Path(tmp) / "codex" / CODEX_TARGET, codex_line
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
                measure(target, line_for, runtime, i, args.timeout) for i in range(args.appends)
            ]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    goal = TARGETS[args.agent]
    print(f"agent: {args.agent}  appends: {len(latencies)}")
    print(f"p50: {p50 * 1000:.0f} ms  p95: {p95 * 1000:.0f} ms  max: {latencies[-1] * 1000:.0f} ms")
    print(f"target p95 < {goal * 1000:.0f} ms: {'met' if p95 < goal else 'NOT met'}")


def claude_line(i: int, sentence: str) -> tuple[bytes, str]:
    """A Claude Code prompt record, and the session it is in."""
    record = {
        "type": "user",
        "uuid": str(uuid.uuid4()),
        "sessionId": f"latency-{i}",
        "cwd": "/home/dev/blog",
        "timestamp": "2026-11-22T12:00:00.000Z",
        "message": {"role": "user", "content": sentence},
    }
    return json.dumps(record).encode() + b"\n", f"latency-{i}"


def codex_line(i: int, sentence: str) -> tuple[bytes, str]:
    """A Codex CLI prompt event (as 0.3x and later write it), and the rollout's session."""
    record = {
        "timestamp": "2026-11-22T12:00:00.000Z",
        "type": "event_msg",
        "payload": {"type": "user_message", "message": sentence, "images": []},
    }
    return json.dumps(record).encode() + b"\n", "019b7f94-51b4-7593-922e-ba12b5b73b52"


def measure(
    path: Path,
    line_for: Callable[[int, str], tuple[bytes, str]],
    runtime: Path,
    i: int,
    timeout: float,
) -> float:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(5)]
    sentence = f"latency probe {i}: the {' '.join(words)} decision number {i}"
    line, session = line_for(i, sentence)
    with path.open("ab") as f:
        f.write(line)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        hits = get(runtime, "/search", q=sentence, limit="1")
        top = hits[0] if hits else {}  # type: ignore[index]
        if top.get("session_id") == session and top.get("text") == sentence:  # type: ignore[union-attr]
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"append {i} was not searchable within {timeout} s")


if __name__ == "__main__":
    main()
