"""Watching the import run: health, metrics readings, summaries and the memory guard.

- A snapshot a second (:class:`~streaming_importer.ops.health.Snapshot`), taken on
  the event loop: ``/health`` judges its age, so a stuck loop is reported by
  the metrics thread rather than left unanswered.
- Counters and gauges for a Prometheus scrape, read from the run's stats, the
  ledger and the latest snapshot.
- A summary log line every ``SUMMARY_INTERVAL_S``, and one line per file with
  its memory and time.
- The memory guard: after each stored batch (a safe point), anonymous memory
  is compared with ``OPERATIONAL_MEMORY_MB``; over it, the run is asked to
  stop as on SIGTERM, and exits 75 once what is in flight is stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import anyio
import anyio.to_thread

from streaming_importer.ops import memory, metrics
from streaming_importer.ops.config import Settings
from streaming_importer.ops.health import Snapshot, assess
from streaming_importer.pipeline.intake import Intake
from streaming_importer.pipeline.items import Batch, Mark
from streaming_importer.pipeline.ledger import Ledger
from streaming_importer.state.counters import Stats

__all__ = ["Monitor", "Progress"]

logger = logging.getLogger(__name__)

#: Seconds between two health snapshots.
HEARTBEAT_S = 1.0
_MIB = 1 << 20


class Progress(Protocol):
    """Shown while importing; the CLI picks a bar on a terminal, log lines elsewhere."""

    def update(self, stats: Stats) -> None: ...


@dataclasses.dataclass(slots=True)
class FileWatch:
    """Memory and time of one file's import, for its log line (MiB, seconds)."""

    start_rss: float
    start_anon: float
    started: float
    peak_rss: float
    peak_anon: float
    chunks: int = 0
    tokens: int = 0

    @classmethod
    def start(cls) -> FileWatch:
        mem = memory.sample()
        return cls(mem.rss_mb, mem.anon_mb, time.monotonic(), mem.rss_mb, mem.anon_mb)

    def log(self, rel_path: str) -> None:
        mem = memory.sample()
        logger.info(
            "file %s: START rss %.0f MiB, FINISH rss %.0f MiB, delta %+.0f MiB, peak %.0f MiB; "
            "anon START %.0f, FINISH %.0f, peak %.0f MiB; %d chunks, %d tokens, %.2f s",
            rel_path,
            self.start_rss,
            mem.rss_mb,
            mem.rss_mb - self.start_rss,
            max(self.peak_rss, mem.rss_mb),
            self.start_anon,
            mem.anon_mb,
            max(self.peak_anon, mem.anon_mb),
            self.chunks,
            self.tokens,
            time.monotonic() - self.started,
        )


class Monitor:
    """Health, metrics and memory of one run; it reads the stages, never drives them."""

    def __init__(
        self,
        settings: Settings,
        stats: Stats,
        ledger: Ledger,
        intake: Intake,
        store_down_since: Callable[[], float | None],
        stop: anyio.Event,
        *,
        registry: metrics.Metrics,
        request_stop: Callable[[], None],
        progress: Progress | None = None,
    ) -> None:
        self._settings = settings
        self._stats = stats
        self._ledger = ledger
        self._intake = intake
        self._store_down_since = store_down_since
        self._stop = stop
        self._request_stop = request_stop
        self._progress = progress
        # Per file in flight: memory and time when its reading started, and
        # the peak seen since (for the one log line per file).
        self._watches: dict[str, FileWatch] = {}
        #: (rss, anon) in MiB when the memory ceiling was crossed.
        self.over_ceiling: tuple[float, float] | None = None
        self._pending_since: float | None = None
        self._snapshot = self._take_snapshot()
        #: The histograms the stages observe; counters and gauges come from :meth:`reading`.
        self.metrics = registry
        #: Where ``/metrics`` and ``/health`` are served while running, if anywhere.
        self.metrics_port: int | None = None

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve ``/metrics`` and ``/health`` on ``METRICS_PORT`` (if set) meanwhile."""
        port = self._settings.metrics_port
        if port is None:
            yield
            return
        server, _ = metrics.serve(self._settings.metrics_host, port, self.metrics, self.health)
        self.metrics_port = server.server_port
        try:
            yield
        finally:
            # In a thread: shutdown() waits for the serving loop's next poll.
            await anyio.to_thread.run_sync(server.shutdown)
            server.server_close()

    async def run(self) -> None:
        """The heartbeat and the summary loop, until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeat)
            tg.start_soon(self._summary_loop)

    # -- per file and per batch ---------------------------------------------

    def file_started(self, rel_path: str) -> None:
        if rel_path not in self._watches:
            self._watches[rel_path] = FileWatch.start()

    def after_batch(self, batch: Batch) -> None:
        """A safe point between batches: per-file lines, memory peaks, the ceiling."""
        for point in batch.points:
            watch = self._watches.get(point.payload["path"])
            if watch is not None:
                watch.chunks += 1
                watch.tokens += point.payload["tokens"]
        for event in batch.events:
            if isinstance(event, Mark) and event.file_done:
                memory.trim()
                done = self._watches.pop(event.rel_path, None)
                if done is not None:
                    done.log(event.rel_path)
        self._check_memory()
        if self._progress is not None:
            self._progress.update(self._stats)

    def _check_memory(self) -> None:
        mem = memory.sample()
        for watch in self._watches.values():
            watch.peak_rss = max(watch.peak_rss, mem.rss_mb)
            watch.peak_anon = max(watch.peak_anon, mem.anon_mb)
        ceiling = self._settings.operational_memory_mb
        if ceiling and mem.anon_mb > ceiling and self.over_ceiling is None:
            self.over_ceiling = (mem.rss_mb, mem.anon_mb)
            logger.warning(
                "anonymous memory %.0f MiB is over OPERATIONAL_MEMORY_MB=%d: finishing what is "
                "in flight, then exiting",
                mem.anon_mb,
                ceiling,
            )
            self._request_stop()

    def finish(self) -> None:
        """The last progress update and memory line; the ceiling exit explained."""
        if self._progress is not None:
            self._progress.update(self._stats)
        mem = memory.sample()
        logger.info("done; rss %.0f MiB, anon %.0f MiB", mem.rss_mb, mem.anon_mb)
        if self.over_ceiling is not None:
            rss, anon = self.over_ceiling
            logger.warning(
                "exiting at the memory ceiling: anonymous memory %.0f MiB (rss %.0f MiB) was over "
                "OPERATIONAL_MEMORY_MB=%d; everything in flight was stored and checkpointed, "
                "so running again continues where this run stopped",
                anon,
                rss,
                self._settings.operational_memory_mb,
            )

    # -- health and metrics -------------------------------------------------

    async def _summary_loop(self) -> None:
        while True:
            await anyio.sleep(self._settings.summary_interval_s)
            mem = memory.sample()
            logger.info(
                "summary: %s; rss %.0f MiB, anon %.0f MiB", self._stats, mem.rss_mb, mem.anon_mb
            )

    async def _heartbeat(self) -> None:
        """A snapshot a second: its age is how long the event loop has been stuck."""
        while True:
            self._snapshot = self._take_snapshot()
            await anyio.sleep(HEARTBEAT_S)

    def _take_snapshot(self) -> Snapshot:
        files = self._ledger.state.files
        lag = 0
        for rel, size in self._intake.sizes.items():
            saved = files.get(rel)
            lag += max(size - (saved.offset if saved is not None else 0), 0)
        wall = time.time()
        if lag == 0:
            self._pending_since = None
        elif self._pending_since is None:
            self._pending_since = wall
        down = self._store_down_since()
        mem = memory.sample()
        return Snapshot(
            taken=time.monotonic(),
            rss_mb=mem.rss_mb,
            anon_mb=mem.anon_mb,
            ceiling_mb=self._settings.operational_memory_mb,
            lag_bytes=lag,
            last_checkpoint=self._ledger.last_checkpoint,
            pending_since=self._pending_since,
            store_down_s=None if down is None else time.monotonic() - down,
            stopping=self._stop.is_set(),
        )

    def _latest(self) -> Snapshot:
        # A save since the last snapshot counts at once (a float read: thread-safe).
        return dataclasses.replace(self._snapshot, last_checkpoint=self._ledger.last_checkpoint)

    def health(self) -> dict[str, Any]:
        """The ``/health`` report; safe to call from any thread."""
        return assess(
            self._latest(),
            now=time.monotonic(),
            wall=time.time(),
            stall_s=self._settings.health_stall_s,
            stale_s=self._settings.health_checkpoint_stale_s,
        )

    def reading(self) -> metrics.Reading:
        """Counters and gauges for a scrape (from the metrics thread)."""
        snap, stats = self._latest(), self._stats
        report = self.health()
        saved = snap.last_checkpoint
        return metrics.Reading(
            counters={
                "files_imported": stats.files_imported,
                "lines": stats.lines,
                "chunks": stats.chunks,
                "tokens_embedded": stats.tokens_embedded,
                "tokens_reused": stats.tokens_reused,
                "points_written": stats.points,
                "quarantined_lines": stats.quarantined,
                "secrets_redacted": stats.secrets_redacted,
                "memory_ceiling_exits": self._ledger.state.totals.memory_ceiling_exits,
            },
            gauges={
                "files": len(self._intake.sizes),
                "lag_bytes": snap.lag_bytes,
                "rss_bytes": snap.rss_mb * _MIB,
                "anon_bytes": snap.anon_mb * _MIB,
                "memory_ceiling_bytes": snap.ceiling_mb * _MIB,
                "last_checkpoint_timestamp_seconds": saved or 0.0,
                "checkpoint_age_seconds": time.time() - saved if saved else 0.0,
                "store_up": 1.0 if snap.store_down_s is None else 0.0,
                "loop_heartbeat_age_seconds": time.monotonic() - snap.taken,
                "healthy": 0.0 if report["status"] == "unhealthy" else 1.0,
            },
        )
