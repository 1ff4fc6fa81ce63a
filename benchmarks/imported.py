"""What the retrieval benchmarks share: a folder imported by the real program, then searched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from streaming_importer.embedding.embedder import FastEmbedEmbedder, load_embedder
from streaming_importer.ops.config import Settings
from streaming_importer.store.edge import EdgeSink

__all__ = ["import_folder", "importer_running", "search_tools"]

ROOT = Path(__file__).resolve().parent.parent


def import_folder(conversations: Path, state: Path, more: Mapping[str, str] | None = None) -> float:
    """``python -m streaming_importer --once`` into ``state``; the seconds it took.

    ``more``: further variables (``CODEX_HOME``, ``GEMINI_DIR``) for other agents' files.
    """
    env = {
        **os.environ,
        "CONVERSATIONS_DIR": str(conversations),
        "STATE_DIR": str(state),
        **(more or {}),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "streaming_importer", "--once"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"the import failed:\n{result.stderr[-3000:]}")
    return time.monotonic() - started


@contextmanager
def importer_running(conversations: Path, state: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m streaming_importer`` (the daemon) on ``conversations`` into ``state``,
    logging warnings only; stopped with SIGTERM when the block ends."""
    env = {
        **os.environ,
        "CONVERSATIONS_DIR": str(conversations),
        "STATE_DIR": str(state),
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "streaming_importer"], env=env, cwd=ROOT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def search_tools(conversations: Path, state: Path) -> Iterator[tuple[FastEmbedEmbedder, EdgeSink]]:
    """The model and the imported store (checked to match), closed afterwards."""
    # EMBEDDING_MODEL and the like come from the environment, as for the import.
    env = {**os.environ, "CONVERSATIONS_DIR": str(conversations), "STATE_DIR": str(state)}
    settings = Settings.from_env(env)
    embedder = load_embedder(settings)
    sink = EdgeSink(settings.store_dir, settings.collection_name)
    sink.open(embedder.identity, create=False)
    try:
        yield embedder, sink
    finally:
        sink.close()
