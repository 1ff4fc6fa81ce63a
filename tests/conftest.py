"""Shared fixtures: the real corpus, the real model, real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from streaming_importer.embedding.embedder import FastEmbedEmbedder, load_embedder
from streaming_importer.errors import ExitCode
from streaming_importer.ops.config import Settings
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store import Sink
from streaming_importer.store.edge import EdgeSink
from streaming_importer.store.server import ServerSink

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
OTHER_AGENTS = ROOT.parent / "shared" / "corpus" / "other-agents"
PEER_FIXTURES = ROOT.parent / "shared" / "corpus" / "peer-fixtures"
DEMO = ROOT / "demo" / "claude-projects"
#: The Qdrant server the server-path tests write to: qdrant-client's
#: in-process ``:memory:`` engine, or the real server ``QDRANT_URL`` names
#: (with ``QDRANT_API_KEY``) when the suite is run with it. Read once here:
#: the programs the tests start never see these variables (:func:`clean_env`).
SERVER_URL = os.environ.get("QDRANT_URL") or ":memory:"
SERVER_API_KEY = os.environ.get("QDRANT_API_KEY")
#: Collections made on a real server by this run, deleted at its end.
_SERVER_COLLECTIONS: list[str] = []


def server_sink() -> ServerSink:
    """A sink on the test server (:data:`SERVER_URL`): on a real one, in a
    collection of its own, so tests and runs never share points."""
    if SERVER_URL == ":memory:":
        return ServerSink.from_url(SERVER_URL, None, "conversations")
    name = f"streaming-importer-test-{uuid.uuid4().hex[:12]}"
    _SERVER_COLLECTIONS.append(name)
    return ServerSink.from_url(SERVER_URL, SERVER_API_KEY, name)


def settings_for(conversations: Path, state: Path, **env: str) -> Settings:
    """Settings for an importer inside the test process.

    No memory ceiling unless a test sets one: this process's memory is the
    whole suite's (several models loaded), not one importer's; the ceiling is
    tested on the real program (tests/ops/test_memory.py).
    """
    return Settings.from_env(
        {
            "CONVERSATIONS_DIR": str(conversations),
            "STATE_DIR": str(state),
            "OPERATIONAL_MEMORY_MB": "0",
            # Never the Codex or Gemini history of whoever runs the tests.
            "SOURCES": "claude",
            **env,
        }
    )


#: One models folder for every program a test starts (set by a session fixture):
#: the shipped models are assembled once, not once per state folder.
SHARED_MODELS: list[Path] = []


def clean_env(**env: str) -> dict[str, str]:
    """This environment without the program's own variables, plus ``env``."""
    own = ("QDRANT_", "STATE_DIR", "CONVERSATIONS_DIR", "MODELS_DIR", "CODEX_HOME", "GEMINI_DIR")
    base = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    # Never the Codex or Gemini history of whoever runs the tests.
    base["SOURCES"] = "claude"
    if SHARED_MODELS:
        base["MODELS_DIR"] = str(SHARED_MODELS[0])
    return {**base, **env}


def run_cli(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 600,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m streaming_importer ARGS`` with ``env`` on top of a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "streaming_importer", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        preexec_fn=preexec_fn,
    )


def start_cli(*args: str, env: Mapping[str, str], capture: bool = False) -> subprocess.Popen[str]:
    """Start ``python -m streaming_importer ARGS`` (a daemon, say) without waiting.

    Its log is kept only with ``capture`` (read it, or a full pipe blocks it).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "streaming_importer", *args],
        env=clean_env(**env),
        cwd=ROOT,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
    )


@contextmanager
def running_importer(env: dict[str, str], *, caught_up: bool = True) -> Iterator[dict[str, str]]:
    """The real importer as a daemon on ``env``, answering (and, with ``caught_up``, with
    nothing pending); stopped with SIGTERM afterwards, which must end it cleanly."""
    proc = start_cli(env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = run_cli("status", "--json", env=env)
            status = json.loads(out.stdout) if out.returncode == 0 else {}
            if status.get("running") and (not caught_up or status["pending_bytes"] == 0):
                break
            time.sleep(0.3)  # polling a condition, with a deadline
        else:
            raise AssertionError("the importer did not start or catch up")
        yield env
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def all_points(sink: Sink) -> dict[str, dict[str, Any]]:
    """Every point id with its payload (scrolled through the engine)."""
    if isinstance(sink, EdgeSink):
        import qdrant_edge as qe

        shard = sink._shard  # a look inside a seam we own, for tests only
        out: dict[str, dict[str, Any]] = {}
        if shard is None:
            return out
        offset = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=1000, with_payload=True)
            )
            out.update({str(r.id): dict(r.payload or {}) for r in records})
            if offset is None:
                return out
    assert isinstance(sink, ServerSink)
    client = sink._client
    out = {}
    next_page = None
    while True:
        records, next_page = client.scroll(
            "conversations", limit=1000, offset=next_page, with_payload=True
        )
        out.update({str(r.id): dict(r.payload or {}) for r in records})
        if next_page is None:
            return out


async def import_once(
    conversations: Path,
    state: Path,
    embedder: FastEmbedEmbedder,
    sink: Sink | None = None,
    **env: str,
) -> tuple[Importer, Sink]:
    """Import ``conversations`` once in this process; the sink is left open."""
    settings = settings_for(conversations, state, **env)
    sink = sink or EdgeSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity)
    importer = Importer(settings, embedder, sink, ckpt.load(settings.checkpoint_path))
    assert await importer.run(once=True) == ExitCode.OK
    return importer, sink


def stored_points(state: Path) -> dict[str, dict[str, Any]]:
    """Every point id and payload in the embedded store of a state folder."""
    sink = EdgeSink(state / "qdrant", "conversations")
    sink.open(None, create=False)
    try:
        return all_points(sink)
    finally:
        sink.close()


@pytest.fixture(scope="session", autouse=True)
def _server_collections_deleted() -> Iterator[None]:
    yield
    for name in _SERVER_COLLECTIONS:
        sink = ServerSink.from_url(SERVER_URL, SERVER_API_KEY, name)
        sink.drop()
        sink.close()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session", autouse=True)
def model_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state folder whose models folder every test shares (assembled once)."""
    state = tmp_path_factory.mktemp("model-state")
    SHARED_MODELS.append(state / "models")
    yield state
    SHARED_MODELS.clear()


@pytest.fixture(scope="session")
def embedder(model_state: Path) -> FastEmbedEmbedder:
    """The real default model, assembled offline from the PyPI packages."""
    return load_embedder(settings_for(DEMO, model_state))


@pytest.fixture
def demo_copy(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the demo transcripts that a test may change."""
    import shutil

    target = tmp_path / "conversations"
    shutil.copytree(DEMO, target)
    yield target


@pytest.fixture(scope="session")
def corpus_state(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole corpus imported once by the real command line, with default settings."""
    state = tmp_path_factory.mktemp("corpus-state")
    env = {"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(state)}
    result = run_cli("--once", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "54 files imported" in result.stderr, result.stderr[-2000:]
    return state
