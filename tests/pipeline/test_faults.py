"""Failing dependencies: keep going where it is safe, say what happened, lose nothing."""

from __future__ import annotations

import logging
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest

from streaming_importer.embedding.embedder import DEFAULT_VARIANT, FastEmbedEmbedder
from streaming_importer.errors import StoreUnavailableError
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store import Point
from streaming_importer.store.edge import EdgeSink

from ..conftest import run_cli, settings_for, start_cli, stored_points


class FlakySink(EdgeSink):
    """The edge sink, unreachable for its first ``failures`` writes (a seam we own)."""

    failures = 0
    attempts = 0

    def upsert(self, points: Sequence[Point]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("Qdrant at http://stand-in did not answer: refused")
        super().upsert(points)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_qdrant_down_at_start_exits_3_naming_the_url(demo_copy: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path / "s"), "QDRANT_URL": url}
    result = run_cli("--once", env=env)
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"cannot reach Qdrant at {url}" in result.stderr


async def test_store_lost_mid_run_is_retried_and_nothing_is_lost(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(demo_copy, tmp_path / "state", UPSERT_BATCH_POINTS="8")
    sink = FlakySink(settings.store_dir, "conversations")
    sink.failures = 3
    sink.open(embedder.identity)
    caplog.set_level(logging.WARNING)
    try:
        await Importer(settings, embedder, sink, ckpt.Checkpoint()).run(once=True)
    finally:
        sink.close()
    assert sink.attempts > 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("did not answer: refused; retrying" in m for m in messages)
    assert any("the store answers again" in m for m in messages)
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)
    from .test_live import run_once

    await run_once(demo_copy, clean, embedder)
    assert stored_points(tmp_path / "state") == stored_points(clean)


async def test_store_down_for_good_gives_up_without_advancing_the_checkpoint(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    settings = settings_for(demo_copy, tmp_path / "state", STORE_RETRY_TIMEOUT_S="1")
    sink = FlakySink(settings.store_dir, "conversations")
    sink.failures = 10**6
    sink.open(embedder.identity)
    try:
        with pytest.raises(BaseException) as failure:
            await Importer(settings, embedder, sink, ckpt.Checkpoint()).run(once=True)
    finally:
        sink.close()
    assert "did not answer" in repr(failure.value)
    state = ckpt.load(settings.checkpoint_path)
    # Empty files have no points to wait for; nothing else may be checkpointed.
    assert all(f.offset == 0 for f in state.files.values())


def test_a_model_that_cannot_be_loaded_exits_3_naming_it(demo_copy: Path, tmp_path: Path) -> None:
    env = {
        "CONVERSATIONS_DIR": str(demo_copy),
        "STATE_DIR": str(tmp_path / "s"),
        "EMBEDDING_MODEL": "nobody/no-such-model",
    }
    result = run_cli("--once", env=env)
    assert result.returncode == 3, result.stderr[-2000:]
    assert "cannot load embedding model 'nobody/no-such-model'" in result.stderr
    # A damaged default model folder names the folder.
    models = tmp_path / "d" / "models"
    env = {
        "CONVERSATIONS_DIR": str(demo_copy),
        "STATE_DIR": str(tmp_path / "d"),
        "MODELS_DIR": str(models),
    }
    assert run_cli("--once", env=env).returncode == 0
    onnx = models / DEFAULT_VARIANT / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:1000])
    broken = run_cli("--once", env=env)
    assert broken.returncode == 3, broken.stderr[-2000:]
    assert str(onnx.parent) in broken.stderr


def test_read_only_state_folder_keeps_the_checkpoint_intact(
    demo_copy: Path, tmp_path: Path
) -> None:
    """The checkpoint cannot be written: exit 1 loudly, old checkpoint whole, no litter."""
    import subprocess

    from .test_live import BLOG, drop_file_capabilities, record

    state = tmp_path / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state), "CONTROL_PORT": "0"}

    def run() -> subprocess.CompletedProcess[str]:
        return run_cli("--once", env=env, preexec_fn=drop_file_capabilities, timeout=300)

    assert run().returncode == 0
    before = (state / "checkpoint.json").read_bytes()
    with (demo_copy / BLOG).open("ab") as f:
        f.write(
            record("dddddddd-1111-4111-8111-000000000001", "a line that waits for a writable disk")
        )
    (state / "quarantine.jsonl").touch()
    state.chmod(0o555)
    try:
        failed = run()
    finally:
        state.chmod(0o755)
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "cannot write checkpoint" in failed.stderr
    assert (state / "checkpoint.json").read_bytes() == before
    assert not [p for p in state.iterdir() if p.name.endswith(".tmp")]
    again = run()
    assert again.returncode == 0, again.stderr[-2000:]
    saved = ckpt.load(state / "checkpoint.json").files[BLOG]
    assert saved.offset == (demo_copy / BLOG).stat().st_size


@pytest.mark.scenario
def test_qdrant_server_lost_mid_run_and_back_through_qdrant_client(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    """qdrant-client against a stand-in that fails on demand: retried, then completes."""
    import threading
    import time

    from ..qdrant_standin import QdrantStandIn

    with QdrantStandIn() as server:
        env = {
            "CONVERSATIONS_DIR": str(demo_copy),
            "STATE_DIR": str(tmp_path / "state"),
            "QDRANT_URL": server.url,
            "UPSERT_BATCH_POINTS": "4",
        }

        def outage() -> None:  # once the first points are in, fail the next requests
            deadline = time.monotonic() + 60
            while server.upserts < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            with server.lock:
                server.fail_next = 4

        threading.Thread(target=outage, daemon=True).start()
        result = run_cli("--once", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.failed == 4
        assert "answered 503; retrying" in result.stderr
        assert "the store answers again" in result.stderr
        clean = tmp_path / "clean"
        import anyio

        from .test_live import run_once

        anyio.run(run_once, demo_copy, clean, embedder)
        assert set(server.points) == set(stored_points(clean))

    with QdrantStandIn() as down:  # lost for good after the first points: exit 1
        env = {
            "CONVERSATIONS_DIR": str(demo_copy),
            "STATE_DIR": str(tmp_path / "state2"),
            "QDRANT_URL": down.url,
            "UPSERT_BATCH_POINTS": "4",
            "STORE_RETRY_TIMEOUT_S": "2",
        }

        def lost() -> None:
            deadline = time.monotonic() + 60
            while down.upserts < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            with down.lock:
                down.fail_next = 10**9

        threading.Thread(target=lost, daemon=True).start()
        result = run_cli("--once", env=env)
        assert result.returncode == 1, result.stderr[-2000:]
        assert "stayed unreachable" in result.stderr and "giving up" in result.stderr
        # Reported as itself, not as a bug with a traceback.
        assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr
        saved = ckpt.load(tmp_path / "state2" / "checkpoint.json")
        with_points = {p["path"] for p in down.points.values()}
        assert {rel for rel, f in saved.files.items() if f.offset > 0} <= with_points


def test_health_reports_a_lost_store_and_its_return(demo_copy: Path, tmp_path: Path) -> None:
    import json
    import signal
    import time

    from streaming_importer.surfaces.http.client import query_running

    from ..qdrant_standin import QdrantStandIn
    from .test_live import BLOG, record

    state = tmp_path / "state"
    with QdrantStandIn() as server:
        env = {
            "CONVERSATIONS_DIR": str(demo_copy),
            "STATE_DIR": str(state),
            "QDRANT_URL": server.url,
            "CONTROL_PORT": "0",
        }
        with start_cli(env=env) as proc:
            try:
                health = state / "importer.json"

                def ask() -> dict[str, object]:
                    answer = query_running(health, "/health", {})
                    assert isinstance(answer, dict)
                    return answer

                deadline = time.monotonic() + 60
                # Caught up: the write that fails below is the appended line's.
                while not (health.exists() and server.points and ask()["lag_bytes"] == 0):
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.1)
                assert ask()["status"] == "ok"
                with server.lock:
                    server.fail_next = 10**9
                with (demo_copy / BLOG).open("ab") as f:
                    f.write(
                        record(
                            "eeeeeeee-1111-4111-8111-000000000001", "written while Qdrant is down"
                        )
                    )
                while ask()["status"] != "degraded":
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                degraded = ask()
                assert degraded["store"] == "unreachable"
                assert "the store has not answered for" in str(degraded["problems"])
                with server.lock:
                    server.fail_next = 0
                while ask()["status"] != "ok":
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
                assert any(
                    p.get("message_uuid") == "eeeeeeee-1111-4111-8111-000000000001"
                    for p in server.points.values()
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0
    assert (
        json.loads((state / "checkpoint.json").read_text())["files"][BLOG]["offset"]
        == (demo_copy / BLOG).stat().st_size
    )
