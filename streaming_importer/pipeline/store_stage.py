"""The store stage: upsert, and only then let the ledger advance.

For each batch it upserts the points in requests of ``UPSERT_BATCH_POINTS``;
once the sink has acknowledged them, it hands the batch's events to the
:class:`~streaming_importer.pipeline.ledger.Ledger` in order, first doing on the
store what an event asks (a moved transcript's points follow it, a replaced
one's are deleted, a forgotten session's are deleted). It saves the
checkpoint after each file, after each control, and every
``CHECKPOINT_EVERY_LINES`` lines, flushing the store first: so the checkpoint
is never ahead of the store.

Between batches it builds the embedded store's index when one is due
(:meth:`~streaming_importer.store.Sink.index_due`) and no live append is on
its way (:class:`~streaming_importer.pipeline.items.LiveWork`): a build holds
the GIL for seconds, so an append that arrived during it would wait that long
to become searchable. After a live append it first waits for ``QUIET_S``
without a batch. Only at memory's bound (``OVERDUE_FACTOR`` times
``STORE_INDEX_POINTS`` unindexed points) does a build go ahead regardless.

While the store is unreachable, writes are retried with backoff and nothing
behind them moves; after ``STORE_RETRY_TIMEOUT_S`` the error propagates
(exit 1; a restart policy resumes from the checkpoint). Every store call runs
in the one store thread.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import ObjectReceiveStream

from streaming_importer.errors import StoreUnavailableError
from streaming_importer.ops.metrics import Metrics
from streaming_importer.pipeline.items import Batch, Forget, LiveWork, Mark
from streaming_importer.pipeline.ledger import Ledger
from streaming_importer.pipeline.tracking import Control
from streaming_importer.store import Sink

__all__ = ["QUIET_S", "StoreStage"]

logger = logging.getLogger(__name__)

#: After a live append is stored, a due index build waits this long without a
#: batch, in seconds: appends come in bursts, and a build holds every thread.
QUIET_S = 1.0
#: Backoff between retries of an unreachable store, in seconds.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0


class StoreStage:
    """Writes batches to the sink and reports what it acknowledged to the ledger."""

    def __init__(
        self,
        sink: Sink,
        ledger: Ledger,
        *,
        source: str,
        upsert_points: int,
        retry_timeout_s: float,
        store_thread: anyio.CapacityLimiter,
        metrics: Metrics,
        after_batch: Callable[[Batch], None] = lambda _batch: None,
        live: LiveWork | None = None,
    ) -> None:
        self._sink = sink
        self._live = live or LiveWork()
        self._ledger = ledger
        self._source = source
        self._upsert_points = upsert_points
        self._retry_timeout = retry_timeout_s
        self._store_thread = store_thread
        self._metrics = metrics
        self._after_batch = after_batch
        #: Monotonic time since which the store has not answered, or None.
        self.down_since: float | None = None
        self._saving = anyio.Lock()

    async def run(self, recv: ObjectReceiveStream[Batch]) -> None:
        """Store batches until ``recv`` ends, building the index between them; closes it."""
        async with recv:
            after_live = False
            while True:
                batch = None
                if self._may_build():
                    if after_live:
                        # Appends come in bursts: a build waits for a quiet moment.
                        with anyio.move_on_after(QUIET_S):
                            batch = await _receive(recv)
                            if batch is None:
                                return
                    if batch is None:
                        await anyio.to_thread.run_sync(
                            self._sink.build_index, limiter=self._store_thread
                        )
                        after_live = False
                        continue
                if batch is None and (batch := await _receive(recv)) is None:
                    return
                after_live = await self._store(batch)

    def _may_build(self) -> bool:
        """An index build is due and no live append waits (or memory's bound is reached)."""
        if not self._sink.index_due():
            return False
        return self._live.waiting == 0 or self._sink.index_overdue()

    async def _store(self, batch: Batch) -> bool:
        """Store one batch, then advance the ledger; True if it ended a live slice."""
        # A point of something forgotten after its line was read (it
        # passed the intake before the tombstone) goes no further.
        points = [p for p in batch.points if not self._ledger.refuses(p.payload)]
        if len(points) < len(batch.points):
            batch = dataclasses.replace(batch, points=points)
        size = self._upsert_points
        for i in range(0, len(points), size):
            await self.write(self._sink.upsert, points[i : i + size])
        # Acknowledged: now, and only now, the events may advance.
        self._ledger.stored(batch)
        save = live = False
        for event in batch.events:
            if isinstance(event, Mark):
                self._ledger.apply(event)
                save = save or event.file_done
                live = live or event.live
            elif isinstance(event, Forget):
                await self._forget(event)
                save = True
            else:
                await self._execute(event)
                save = True
        if save or self._ledger.save_due():
            await self.save()
        for event in batch.events:
            if isinstance(event, Forget):
                event.done.set()  # deleted, and the tombstone saved
            elif isinstance(event, Mark) and event.live:
                self._live.end()  # stored and searchable
        self._after_batch(batch)
        return live

    async def forget_now(self, forget: Forget) -> None:
        """Forget directly, when no pipeline runs to carry ``forget``."""
        await self._forget(forget)
        await self.save()
        forget.done.set()

    async def save(self) -> None:
        """Flush the store, then save the checkpoint; one save at a time."""
        async with self._saving:
            await anyio.to_thread.run_sync(self._sink.flush, limiter=self._store_thread)
            await anyio.to_thread.run_sync(self._ledger.save)

    async def write(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a store write in the store thread; while the store is unreachable, retry.

        Nothing after it moves until it succeeds. After ``STORE_RETRY_TIMEOUT_S``
        without success the StoreUnavailableError propagates.
        """
        delay = RETRY_FIRST_S
        while True:
            started = time.perf_counter()
            try:
                await anyio.to_thread.run_sync(fn, *args, limiter=self._store_thread)
            except StoreUnavailableError as e:
                now = time.monotonic()
                if self.down_since is None:
                    self.down_since = now
                    logger.warning("%s; retrying for up to %.0f s", e, self._retry_timeout)
                down = now - self.down_since
                if down > self._retry_timeout:
                    logger.error("the store stayed unreachable for %.0f s: giving up", down)
                    raise
                await anyio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._metrics.store_seconds.observe(time.perf_counter() - started)
            if self.down_since is not None:
                down = time.monotonic() - self.down_since
                logger.warning("the store answers again after %.0f s", down)
                self.down_since = None
            return

    async def _forget(self, forget: Forget) -> None:
        """Delete the points, then record the tombstone (saved with the checkpoint)."""
        sessions: set[str] = set()

        def delete() -> None:
            sessions.update(forget.delete_points(self._sink, self._source))

        await self.write(delete)
        self._ledger.forgotten(forget, sessions)
        # The archived transcripts too; a walk of the archive, so not on the event loop.
        await anyio.to_thread.run_sync(
            self._ledger.archive.remove_forgotten, self._ledger.state.forgotten
        )

    async def _execute(self, control: Control) -> None:
        """Do on the store what a transcript's identity change asks, then tell the ledger."""
        if control.action == "reset":
            await self.write(self._sink.delete_path, self._source, control.rel_path)
        elif control.action == "move":
            assert control.new_path is not None
            await self.write(self._sink.move_path, self._source, control.rel_path, control.new_path)
        elif control.delete_points:
            await self.write(self._sink.delete_path, self._source, control.rel_path)
        self._ledger.control(control)


async def _receive(recv: ObjectReceiveStream[Batch]) -> Batch | None:
    """The next batch, or None once the stream has ended."""
    try:
        return await recv.receive()
    except anyio.EndOfStream:
        return None
