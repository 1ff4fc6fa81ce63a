"""The invariant: after any appends, kills and restarts, the store equals one clean import.

A writer appends real corpus transcripts, Claude Code's and Codex CLI's
rollouts of every JSONL format, in random pieces (cut anywhere, even
mid-line, with pauses) while the real importer, as a subprocess, is killed
at random moments (mostly SIGKILL, sometimes SIGTERM) and restarted, at least
20 times. Once the writer is done and the importer has caught up, the
collection must hold exactly the point ids and payloads of one clean
``--once`` run over the final files.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ..conftest import OTHER_AGENTS, run_cli, start_cli, stored_points

#: Codex rollouts (under ``sessions/``): bare 0.2x, 0.77 and 0.135 enveloped.
CODEX = [
    "2025/08/23/rollout-2025-08-23T17-12-10-1025f95d-d65c-46f6-97b0-147c781d7d36.jsonl",
    "2025/08/24/rollout-2025-08-24T15-07-09-85554d39-882c-4ec2-9c71-b059343e433a.jsonl",
    "2025/08/25/rollout-2025-08-25T12-40-14-d7a9e0da-90d6-4fd8-bb06-4f3ccabcdf8a.jsonl",
    "2026/01/02/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl",
    "2026/06/05/rollout-2026-06-05T10-28-20-019e9625-802f-7e91-840a-cfe88d14117a.jsonl",
]
SOURCES = [
    "sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl",
    "sample-project/5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl",
    "sample-project/agent-test-hash-123.jsonl",
    "-home-dev-spotter/short.jsonl",
    "-home-dev-spotter/subagent.jsonl",
    "-home-dev-spotter/ae4a77f8-aedd-4bc1-888f-c94edc91af04/subagents/agent-aac57f5.jsonl",
    "-Users-user-project/b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl",
]
RESTARTS = 20


def writer(files: dict[Path, Path], seed: int, seconds: float, done: threading.Event) -> None:
    """Append every source file (key) to its destination (value) in random pieces."""
    rng = random.Random(seed)
    pending = {dest: source.read_bytes() for source, dest in files.items()}
    total = sum(len(b) for b in pending.values())
    pause = seconds / (total / 3000)  # about 3 KB per piece on average
    while pending:
        dest = rng.choice(sorted(pending))
        data = pending[dest]
        n = min(len(data), rng.randint(1, 6000))
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("ab") as f:
            f.write(data[:n])
        if n == len(data):
            del pending[dest]
        else:
            pending[dest] = data[n:]
        time.sleep(rng.uniform(0, 2 * pause))
    done.set()


def start(env: dict[str, str]) -> subprocess.Popen[str]:
    return start_cli(env=env)


@pytest.mark.scenario
def test_kills_and_restarts_converge_to_one_clean_import(corpus: Path, tmp_path: Path) -> None:
    seed = int(os.environ.get("INVARIANT_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    conversations = tmp_path / "conversations"
    conversations.mkdir()
    codex = tmp_path / "codex"
    (codex / "sessions").mkdir(parents=True)
    files = {corpus / rel: conversations / rel for rel in SOURCES}
    files |= {OTHER_AGENTS / "codex/sessions" / rel: codex / "sessions" / rel for rel in CODEX}
    state = tmp_path / "state"
    env = {
        "SOURCES": "claude,codex",
        "CODEX_HOME": str(codex),
        "CONVERSATIONS_DIR": str(conversations),
        "STATE_DIR": str(state),
        "CONTROL_PORT": "0",
        "RESCAN_INTERVAL_S": "1",
        "CHECKPOINT_EVERY_LINES": "50",
        # Index builds (sealing and merging segments) every few hundred
        # points, so that kills land in the middle of them too.
        "STORE_INDEX_POINTS": "256",
    }
    done = threading.Event()
    thread = threading.Thread(target=writer, args=(files, seed, 40.0, done), daemon=True)
    thread.start()
    kills = terms = 0
    while kills + terms < RESTARTS or not done.is_set():
        proc = start(env)
        time.sleep(rng.uniform(0.3, 3.0))
        if rng.random() < 0.2:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, f"seed {seed}: SIGTERM did not exit cleanly"
            terms += 1
        else:
            proc.kill()
            proc.wait()
            kills += 1
    thread.join()
    assert kills + terms >= RESTARTS

    # Files no longer change: let a daemon catch up, then stop it.
    proc = start(env)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            out = run_cli("status", "--json", env=env)
            if out.returncode == 0:
                status = json.loads(out.stdout)
                if status.get("running") and status["pending_bytes"] == 0:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError(f"seed {seed}: the importer did not catch up")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    clean_state = tmp_path / "clean"
    clean = run_cli("--once", env={**env, "STATE_DIR": str(clean_state)})
    assert clean.returncode == 0, clean.stderr[-2000:]
    final, expected = stored_points(state), stored_points(clean_state)
    assert len(expected) > 500
    assert sum(p["agent"] == "codex" for p in expected.values()) > 100
    assert final.keys() == expected.keys(), f"seed {seed}: point ids differ"
    assert final == expected, f"seed {seed}: payloads differ"
    for source, dest in files.items():  # the writer really wrote everything
        assert dest.read_bytes() == source.read_bytes()
