"""Watching it run: /metrics, /health (also when the event loop is stuck), alert rules, logs."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.errors import StoreUnavailableError
from streaming_importer.ops.health import Snapshot, assess, memory_check
from streaming_importer.ops.metrics import EXPORTED
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store import Point
from streaming_importer.store.edge import EdgeSink

from ..conftest import ROOT, run_cli, settings_for

# -- the verdict, pure ------------------------------------------------------


def snapshot(**changes: Any) -> Snapshot:
    fields: dict[str, Any] = {
        "taken": 100.0,
        "rss_mb": 300.0,
        "anon_mb": 200.0,
        "ceiling_mb": 1000,
        "lag_bytes": 0,
        "last_checkpoint": 5000.0,
        "pending_since": None,
        "store_down_s": None,
        "stopping": False,
    }
    return Snapshot(**{**fields, **changes})


def verdict(snap: Snapshot, now: float = 101.0, wall: float = 5100.0) -> dict[str, Any]:
    return assess(snap, now=now, wall=wall, stall_s=30, stale_s=600)


def test_health_verdicts() -> None:
    assert verdict(snapshot())["status"] == "ok"
    stuck = verdict(snapshot(), now=140.0)
    assert stuck["status"] == "unhealthy"
    assert stuck["problems"] == ["the event loop has not run for 40 s"]
    # Idle for hours with nothing pending: healthy, however old the checkpoint.
    assert verdict(snapshot(last_checkpoint=0.0), wall=50_000.0)["status"] == "ok"
    # Bytes waiting: fine for a while, unhealthy once the checkpoint stands still too long.
    fresh = snapshot(lag_bytes=10, pending_since=5050.0, last_checkpoint=1000.0)
    assert verdict(fresh)["status"] == "ok"
    stale = verdict(fresh, wall=5700.0)
    assert stale["status"] == "unhealthy"
    assert "10 bytes pending and the checkpoint has not moved for 650 s" in stale["problems"]
    # A checkpoint save while bytes keep coming restarts the clock.
    moving = snapshot(lag_bytes=10, pending_since=1000.0, last_checkpoint=5650.0)
    assert verdict(moving, wall=5700.0)["status"] == "ok"
    down = verdict(snapshot(store_down_s=12.0))
    assert (down["status"], down["store"]) == ("degraded", "unreachable")


def test_memory_levels() -> None:
    assert memory_check(300, 690, 1000)["level"] == "normal"
    assert memory_check(300, 700, 1000)["level"] == "elevated"
    assert memory_check(300, 900, 1000)["level"] == "elevated"
    high = memory_check(300, 901, 1000)
    assert (high["level"], high["used"], high["ceiling_mb"]) == ("high", 0.901, 1000)
    assert memory_check(300, 5000, 0) == {
        "rss_mb": 300,
        "anon_mb": 5000,
        "ceiling_mb": None,
        "used": None,
        "level": "normal",
    }


# -- a real importer, its metrics port --------------------------------------


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def families(exposition: bytes) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(exposition.decode())}


async def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await anyio.to_thread.run_sync(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(0.1)


async def test_metrics_and_health_of_a_running_importer(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    settings = settings_for(
        demo_copy,
        tmp_path / "state",
        METRICS_PORT="0",
        HEALTH_STALL_S="1",
        OPERATIONAL_MEMORY_MB="65536",
    )
    sink = EdgeSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity)
    importer = Importer(settings, embedder, sink, ckpt.Checkpoint())
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: importer.run(once=False))
            await wait_until(lambda: importer.metrics_port is not None, 30, "the metrics port")
            base = f"http://127.0.0.1:{importer.metrics_port}"
            await wait_until(
                lambda: (
                    json.loads(get(base + "/health")[1])["lag_bytes"] == 0
                    and importer.stats.files_imported == 5
                ),
                60,
                "the demo import",
            )
            code, body = await anyio.to_thread.run_sync(get, base + "/metrics")
            assert code == 200
            found = families(body)
            assert {f"streaming_importer_{n}".removesuffix("_total") for n in EXPORTED} <= set(
                found
            )

            def value(name: str) -> float:
                return float(found[f"streaming_importer_{name}"].samples[0].value)

            stats = importer.stats
            assert value("chunks") == stats.chunks > 40
            assert value("lines") == stats.lines
            assert value("tokens_embedded") == stats.tokens_embedded
            assert value("files_imported") == 5
            assert value("files") == 5
            assert value("lag_bytes") == 0
            assert value("store_up") == 1
            assert value("healthy") == 1
            assert value("anon_bytes") > 50 << 20
            embeds = {
                s.name: s.value for s in found["streaming_importer_embed_batch_seconds"].samples
            }
            assert embeds["streaming_importer_embed_batch_seconds_count"] > 0
            tokens = found["streaming_importer_embed_batch_tokens"].samples
            # No batch over EMBED_BATCH_TOKENS (512): every batch is in the le=512 bucket.
            buckets = {s.labels["le"]: s.value for s in tokens if s.name.endswith("_bucket")}
            assert buckets["512.0"] == buckets["+Inf"] > 0

            health = json.loads(get(base + "/health")[1])
            assert health["status"] == "ok" and health["memory"]["level"] == "normal"
            assert health["last_checkpoint"] > time.time() - 60
            assert get(base + "/nothing")[0] == 404

            # Block the event loop: the metrics thread still answers, and says so.
            answers: list[tuple[int, bytes]] = []

            def ask_repeatedly() -> None:
                for _ in range(12):
                    answers.append(get(base + "/health"))
                    time.sleep(0.2)

            asker = threading.Thread(target=ask_repeatedly)
            asker.start()
            time.sleep(2.5)  # noqa: ASYNC251 - on purpose: a stuck event loop
            await anyio.to_thread.run_sync(asker.join)
            stuck = [json.loads(body) for code, body in answers if code == 503]
            assert stuck and "the event loop has not run for" in stuck[0]["problems"][0]
            await wait_until(lambda: get(base + "/health")[0] == 200, 10, "recovery")
            importer.request_stop()
    finally:
        sink.close()
    # Stopped: the port is closed.
    with pytest.raises(urllib.error.URLError):
        await anyio.to_thread.run_sync(get, f"http://127.0.0.1:{importer.metrics_port}/health")


class DownSink(EdgeSink):
    """The edge sink with the store unreachable for every write (a seam we own)."""

    def upsert(self, points: Sequence[Point]) -> None:
        raise StoreUnavailableError("Qdrant at http://stand-in did not answer: refused")


async def test_health_turns_unhealthy_when_bytes_wait_and_the_checkpoint_stands_still(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    settings = settings_for(
        demo_copy, tmp_path / "state", HEALTH_CHECKPOINT_STALE_S="1.5", STORE_RETRY_TIMEOUT_S="600"
    )
    sink = DownSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity)
    importer = Importer(settings, embedder, sink, ckpt.Checkpoint())
    seen: list[dict[str, Any]] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: importer.run(once=False))
            await wait_until(lambda: importer.health()["status"] == "degraded", 30, "degraded")
            seen.append(importer.health())
            await wait_until(lambda: importer.health()["status"] == "unhealthy", 10, "unhealthy")
            seen.append(importer.health())
            importer.request_stop()  # lets the file watcher go at once
            tg.cancel_scope.cancel()
    finally:
        sink.close()
    degraded, unhealthy = seen
    assert degraded["lag_bytes"] > 0 and degraded["store"] == "unreachable"
    assert "bytes pending and the checkpoint has not moved" in unhealthy["problems"][0]
    sizes = await anyio.to_thread.run_sync(
        lambda: sum(f.stat().st_size for f in demo_copy.rglob("*.jsonl"))
    )
    assert unhealthy["lag_bytes"] == sizes


# -- alert rules -------------------------------------------------------------


def test_alert_rules_name_only_exported_metrics() -> None:
    rules = yaml.safe_load((ROOT / "monitoring" / "alerts.yaml").read_text())
    (group,) = rules["groups"]
    names = set()
    for rule in group["rules"]:
        assert rule["alert"].startswith("StreamingImporter")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        used = re.findall(r"\bstreaming_importer_[a-z_]+", rule["expr"])
        assert used, rule["alert"]
        for metric in used:
            base = re.sub(r"_(bucket|sum|count)$", "", metric.removeprefix("streaming_importer_"))
            assert base in EXPORTED, (rule["alert"], metric)
        names.add(rule["alert"])
    # The situations the rules must cover.
    assert {
        "StreamingImporterMemoryHigh",
        "StreamingImporterMemoryGrowing",
        "StreamingImporterCeilingExitsRepeating",
        "StreamingImporterCheckpointStale",
        "StreamingImporterLagGrowing",
    } <= names


# -- logs and the state folder ------------------------------------------------


def test_json_logs_without_chunk_text_and_a_private_state_folder(
    demo_copy: Path, tmp_path: Path
) -> None:
    state = tmp_path / "new" / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state), "LOG_FORMAT": "json"}
    result = run_cli("--once", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("summary:" in r["message"] for r in records)
    # Text of the conversations (a phrase from a demo answer) stays out of the log.
    assert "loadFixture" not in result.stderr
    assert state.stat().st_mode & 0o777 == 0o700
    bad = run_cli("--once", env={**env, "LOG_FORMAT": "xml"})
    assert bad.returncode == 2 and "LOG_FORMAT='xml' is not valid" in bad.stderr


@pytest.mark.parametrize("variable", ["METRICS_PORT", "HEALTH_STALL_S"])
def test_bad_monitoring_settings_name_the_variable(variable: str, tmp_path: Path) -> None:
    result = run_cli("status", env={"STATE_DIR": str(tmp_path), variable: "-5"})
    assert result.returncode == 2
    assert f"{variable}='-5' is not valid" in result.stderr
