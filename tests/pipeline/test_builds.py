"""Index builds wait for live appends: the store stage builds between batches, never
while a live slice is on its way, and after a live one only once the stream is quiet."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
import numpy as np
import pytest

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.pipeline.items import Batch, LiveWork, Mark
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.pipeline.store_stage import QUIET_S, StoreStage
from streaming_importer.sources.files import FileIdentity
from streaming_importer.sources.messages import file_context_for
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store import Point
from streaming_importer.store.edge import EdgeSink
from streaming_importer.store.layout import OVERDUE_FACTOR
from tests.scale_writer import IDENTITY, point

from ..conftest import settings_for
from ..ops.test_metrics import wait_until
from .test_live import BLOG, record
from .test_stages import fresh_ledger, no_metrics

INDEX_POINTS = 512


class BuildingSink(EdgeSink):
    """The embedded store, logging each index build with the live slices then waiting (our seam).

    ``armed`` makes a build due whatever was written (cleared by the build); storing a
    point whose text holds ``arm_on`` arms it.
    """

    def __init__(self, folder: Path, live: LiveWork) -> None:
        super().__init__(folder, "conversations", index_points=INDEX_POINTS)
        self.live = live
        #: (monotonic time, live slices waiting) of each build.
        self.log: list[tuple[float, int]] = []
        self.built = threading.Event()
        self.armed = False
        #: A text whose upsert arms a build.
        self.arm_on: str | None = None
        #: (monotonic time, text) of each point upserted.
        self.upserted: list[tuple[float, str]] = []

    def upsert(self, points: Sequence[Point]) -> None:
        super().upsert(points)
        self.upserted.extend((time.monotonic(), p.payload["text"]) for p in points)
        if self.arm_on is not None and any(self.arm_on in p.payload["text"] for p in points):
            self.armed = True

    def index_due(self) -> bool:
        return self.armed or super().index_due()

    def build_index(self) -> None:
        self.log.append((time.monotonic(), self.live.waiting))
        self.armed = False
        super().build_index()
        self.built.set()


class Run:
    """A store stage on a real embedded store, fed by hand."""

    def __init__(self, tmp_path: Path) -> None:
        self.live = LiveWork()
        self.sink = BuildingSink(tmp_path / "qdrant", self.live)
        self.sink.open(IDENTITY)
        self.stored: list[tuple[float, Batch]] = []
        self.rng = np.random.default_rng(0)
        self.next_point = 0
        self.stage = StoreStage(
            self.sink,
            fresh_ledger(tmp_path),
            source="local",
            upsert_points=64,
            retry_timeout_s=60,
            store_thread=anyio.CapacityLimiter(1),
            metrics=no_metrics(),
            after_batch=self._stored,
            live=self.live,
        )
        self._waiting: tuple[int, anyio.Event] | None = None

    def _stored(self, batch: Batch) -> None:
        self.stored.append((time.monotonic(), batch))
        if self._waiting is not None and len(self.stored) >= self._waiting[0]:
            self._waiting[1].set()

    def batch(self, points: int, *, live: bool = False) -> Batch:
        start, self.next_point = self.next_point, self.next_point + points
        chosen = [point(i, self.rng) for i in range(start, self.next_point)]
        rel = f"{'live' if live else 'backfill'}-{start}.jsonl"
        mark = Mark(rel, 1, file_context_for(rel), FileIdentity(0, 0), 1, 1, 1, [], live=live)
        return Batch(chosen, 0, [mark])

    async def stored_count(self, count: int) -> None:
        """Wait until ``count`` batches were stored."""
        if len(self.stored) >= count:
            return
        self._waiting = (count, anyio.Event())
        with anyio.fail_after(60):
            await self._waiting[1].wait()


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


async def test_a_due_build_waits_for_the_live_append_then_for_a_quiet_moment(run: Run) -> None:
    send, recv = anyio.create_memory_object_stream[Batch](4)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run.stage.run, recv)
            run.live.begin()  # an append is being read
            for _ in range(10):  # 640 points: a build is due after the 8th batch
                await send.send(run.batch(64))
            await run.stored_count(10)
            assert run.sink.index_due() and run.sink.log == []  # it waits for the append
            await send.send(run.batch(1, live=True))
            await run.stored_count(11)
            assert run.live.waiting == 0
            with anyio.fail_after(30):
                await anyio.to_thread.run_sync(run.sink.built.wait)
            ((built_at, waiting),) = run.sink.log
            assert waiting == 0
            assert built_at - run.stored[-1][0] >= QUIET_S  # no batch for QUIET_S first
            await send.aclose()
        assert run.sink.count() == 641 and not run.sink.index_due()
    finally:
        run.sink.close()


async def test_after_a_backfill_batch_it_builds_at_once(run: Run) -> None:
    send, recv = anyio.create_memory_object_stream[Batch](4)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run.stage.run, recv)
            for _ in range(8):
                await send.send(run.batch(64))
            with anyio.fail_after(30):
                await anyio.to_thread.run_sync(run.sink.built.wait)
            ((built_at, waiting),) = run.sink.log
            # The build came right after the batch that made it due, no quiet wait.
            assert waiting == 0 and built_at - run.stored[-1][0] < QUIET_S
            await send.aclose()
    finally:
        run.sink.close()


async def test_at_memorys_bound_a_build_goes_ahead_all_the_same(run: Run) -> None:
    send, recv = anyio.create_memory_object_stream[Batch](4)
    bound = OVERDUE_FACTOR * INDEX_POINTS // 64
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run.stage.run, recv)
            run.live.begin()  # an append that never comes
            for _ in range(bound - 1):
                await send.send(run.batch(64))
            await run.stored_count(bound - 1)
            assert run.sink.log == []
            await send.send(run.batch(64))
            with anyio.fail_after(30):
                await anyio.to_thread.run_sync(run.sink.built.wait)
            assert [waiting for _, waiting in run.sink.log] == [1]
            await send.aclose()
    finally:
        run.sink.close()


async def test_an_append_while_watching_is_live_and_a_build_waits_until_it_is_stored(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    settings = settings_for(demo_copy, tmp_path / "state")
    sink = BuildingSink(settings.store_dir, LiveWork())
    sink.open(embedder.identity)
    importer = Importer(settings, embedder, sink, ckpt.Checkpoint())
    sink.live = importer.intake.live
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: importer.run(once=False))
            await wait_until(lambda: importer.stats.files_imported == 5, 60, "the first pass")
            assert sink.log == []  # the demo's few points: no build due
            sink.arm_on = "zebra live append"  # storing it makes a build due
            with (demo_copy / BLOG).open("ab") as f:
                f.write(record("9f0e0000-0000-4000-8000-000000000001", "zebra live append"))
            with anyio.fail_after(60):
                await anyio.to_thread.run_sync(sink.built.wait)
            (stored_at,) = [t for t, text in sink.upserted if "zebra live append" in text]
            ((built_at, waiting),) = sink.log
            # The append was a live slice: the build waited for a quiet moment after it.
            assert waiting == 0 and importer.intake.live.waiting == 0
            assert built_at - stored_at >= QUIET_S
            importer.request_stop()
    finally:
        sink.close()
