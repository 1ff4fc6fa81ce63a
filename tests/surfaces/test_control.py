"""The control surface under failure and abuse: a request never takes the importer down.

The real importer in this process with the real model and engine; the store's
search fails through a sink subclass (a seam we own).
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.errors import ControlError, StoreUnavailableError
from streaming_importer.pipeline.items import Forget
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store import Hit, Sparse, Where
from streaming_importer.store.edge import EdgeSink
from streaming_importer.surfaces.http.client import query_running
from streaming_importer.surfaces.http.services import Surfaces
from streaming_importer.surfaces.http.serving import MAX_CONNECTIONS, READ_TIMEOUT_S, Unavailable

from ..conftest import settings_for
from ..ops.test_metrics import wait_until
from ..pipeline.test_live import BLOG, record

BLOG_SESSION = "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"


class FailingSearchSink(EdgeSink):
    """The embedded store whose next searches fail as listed (our seam)."""

    failures: list[BaseException]

    def search(
        self,
        limit: int,
        where: Where,
        *,
        dense: Sequence[float] | None = None,
        sparse: Sparse | None = None,
    ) -> list[Hit]:
        if self.failures:
            raise self.failures.pop(0)
        return super().search(limit, where, dense=dense, sparse=sparse)


#: How a test asks a running importer to forget: its control surface's route.
FORGET: dict[Importer, Callable[[Forget], Awaitable[None]]] = {}


@asynccontextmanager
async def running_importer(
    conversations: Path, state: Path, embedder: FastEmbedEmbedder, sink: EdgeSink
) -> AsyncIterator[Importer]:
    """The importer (live mode, control socket) until the block ends; caught up first."""
    settings = settings_for(conversations, state)
    sink.open(embedder.identity)
    importer = Importer(settings, embedder, sink, ckpt.Checkpoint())
    runtime = settings.runtime_path
    try:
        async with anyio.create_task_group() as tg:
            surfaces = Surfaces(importer)
            FORGET[importer] = surfaces.routes.forget
            tg.start_soon(lambda: importer.run(once=False, services=[surfaces]))
            await wait_until(lambda: runtime.exists(), 30, "the control socket")
            await wait_until(lambda: importer.health()["lag_bytes"] == 0, 60, "the import")
            yield importer
            importer.request_stop()
    finally:
        sink.close()


def ask(state: Path, path: str, **params: str) -> Any:
    return query_running(state / "importer.json", path, params)


async def test_a_failing_handler_answers_an_error_and_the_importer_goes_on(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    sink = FailingSearchSink(state / "qdrant", "conversations")
    sink.failures = [
        StoreUnavailableError("Qdrant did not answer (injected)"),
        RuntimeError("a bug (injected)"),
    ]
    async with running_importer(demo_copy, state, embedder, sink) as importer:
        with pytest.raises(ControlError, match="Qdrant did not answer"):
            await anyio.to_thread.run_sync(lambda: ask(state, "/search", q="webhook"))
        with pytest.raises(ControlError, match="internal error: RuntimeError"):
            await anyio.to_thread.run_sync(lambda: ask(state, "/search", q="webhook"))
        with pytest.raises(ValueError, match="limit=1000"):
            await anyio.to_thread.run_sync(lambda: ask(state, "/search", q="x", limit="1000"))
        # Still running, and still importing: an append is stored and found.
        hits = await anyio.to_thread.run_sync(lambda: ask(state, "/search", q="webhook"))
        assert hits
        with (demo_copy / BLOG).open("ab") as f:
            f.write(record("eeeeeeee-2222-4222-8222-000000000001", "quokka marmalade protocol"))
        await wait_until(
            lambda: any(
                "quokka" in h["text"]
                for h in ask(state, "/search", q="quokka marmalade protocol", mode="bm25")
            ),
            60,
            "the append",
        )
        assert importer.health()["status"] == "ok"


def slow_client(path: Path) -> socket.socket:
    """A client that connects and sends half a request, then nothing."""
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    client.sendall(b"GET /health HTTP/1.1\r\nHost: local")
    return client


def status_line(client: socket.socket) -> bytes:
    client.settimeout(READ_TIMEOUT_S * 3)
    return client.recv(64).split(b"\r\n", 1)[0]


async def test_slow_clients_are_cut_off_and_do_not_block_others(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    sink = EdgeSink(state / "qdrant", "conversations")
    async with running_importer(demo_copy, state, embedder, sink):
        path = state / "control.sock"
        slow = slow_client(path)
        # Another request is answered at once, beside the one that stalls.
        started = time.monotonic()
        assert (await anyio.to_thread.run_sync(lambda: ask(state, "/health")))["status"] == "ok"
        assert time.monotonic() - started < 2
        # Past the cap, a request is turned away at once rather than left waiting.
        more = [slow_client(path) for _ in range(MAX_CONNECTIONS - 1)]
        turned_away = slow_client(path)
        assert await anyio.to_thread.run_sync(status_line, turned_away) == (
            b"HTTP/1.1 503 Service Unavailable"
        )
        # The stalled ones are cut off after READ_TIMEOUT_S, and the port serves again.
        assert await anyio.to_thread.run_sync(status_line, slow) == (
            b"HTTP/1.1 408 Request Timeout"
        )
        for client in (slow, *more, turned_away):
            client.close()
        assert (await anyio.to_thread.run_sync(lambda: ask(state, "/health")))["status"] == "ok"


async def test_a_forget_while_stopping_is_done_or_refused_never_lost(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    sink = EdgeSink(state / "qdrant", "conversations")
    outcome: list[str] = []
    async with running_importer(demo_copy, state, embedder, sink) as importer:

        async def forget() -> None:
            try:
                await FORGET[importer](Forget(session=BLOG_SESSION))
                outcome.append("done")
            except Unavailable as e:
                outcome.append(f"refused: {e}")

        async with anyio.create_task_group() as tg:
            # The stop first: the embed stage drops what is queued, this too.
            importer.request_stop()
            tg.start_soon(forget)
        # After the pipeline ended, a forget is refused with a reason.
        await forget()
        deleted = not any(
            p.payload.get("session_id") == BLOG_SESSION
            for p in sink.scroll(Where({"session_id": BLOG_SESSION}), 10)
        )
    assert outcome[0] == "done" and deleted
    assert outcome[1] == "refused: the importer is stopping: nothing was forgotten, try again"
    saved = ckpt.load(state / "checkpoint.json")
    assert BLOG_SESSION in saved.forgotten.sessions
