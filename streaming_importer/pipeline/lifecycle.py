"""The lifecycle: build the stages, join them by bounded streams, run, stop, exit code.

The data's way through the program, each stage in its own module::

    intake ──Item──▶ embed ──Batch──▶ store ──▶ ledger
    (scan, tail,      (window, cache,    (upsert with    (marks -> checkpoint,
     segment)          token budgets)     retry, forget)  quarantine, tombstones)

:class:`Importer` holds no stage logic. It builds the stages over one frozen
:class:`~streaming_importer.ops.config.Settings`, the two streams between them
(``QUEUE_MAX_ITEMS`` items, :data:`BATCH_QUEUE` batches) and the worker
threads they share (one each for the model, the parser and the store, so none
of them ever runs on the event loop); it runs them in one task group beside
the :class:`~streaming_importer.pipeline.monitor.Monitor` and the :class:`Service`
objects it is given (the control socket and the web page, which the surfaces
build from it); it owns the signals, the shutdown deadline and the exit code.

Stopping (a signal, the memory ceiling, :meth:`Importer.request_stop`): the
intake stops reading, the embed stage drops what is queued but not embedded
(those lines are after the last applied mark), the store stage finishes the
batches in flight, and the checkpoint is saved. ``--once`` is the same
pipeline with a different stop condition: the intake ends after one pass.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import anyio
import anyio.abc

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.chunk import Chunker
from streaming_importer.embedding.embedder import Embedder
from streaming_importer.errors import ExitCode, ImporterError
from streaming_importer.ops import memory
from streaming_importer.ops.config import Settings
from streaming_importer.ops.metrics import Metrics
from streaming_importer.pipeline.embed_stage import EmbedStage
from streaming_importer.pipeline.intake import Intake
from streaming_importer.pipeline.items import Batch, Item, LiveWork
from streaming_importer.pipeline.ledger import Ledger
from streaming_importer.pipeline.monitor import Monitor, Progress
from streaming_importer.pipeline.segment import Rules
from streaming_importer.pipeline.store_stage import StoreStage
from streaming_importer.pipeline.tracking import Cursor
from streaming_importer.sources.files import SourceFile
from streaming_importer.sources.messages import ParseLimits
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.archive import Archive
from streaming_importer.state.counters import Counts, Stats
from streaming_importer.state.privacy import Privacy, Tombstones
from streaming_importer.store import Sink

__all__ = ["BATCH_QUEUE", "Importer", "Service"]

logger = logging.getLogger(__name__)

#: Embedded windows waiting for the store.
BATCH_QUEUE = 4


class Service(Protocol):
    """Something served beside the pipeline while it runs: the control socket, the web page."""

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start serving in ``task_group``; returns once it is listening."""

    async def stop(self, timeout_s: float) -> None:
        """The pipeline has stopped: answer what was asked (within ``timeout_s``), then close."""


class Importer:
    """The import pipeline over one conversations folder."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        sink: Sink,
        state: ckpt.Checkpoint,
        *,
        progress: Progress | None = None,
        early_stop: threading.Event | None = None,
        scan: Callable[[], list[SourceFile]] | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.sink = sink
        self.stats = Stats()
        self._early_stop = early_stop
        self._stop = anyio.Event()
        # One worker thread each for the model and the store: searches served
        # beside the import queue behind a batch rather than run beside it.
        self.model_thread = anyio.CapacityLimiter(1)
        self.store_thread = anyio.CapacityLimiter(1)
        self.metrics = Metrics(lambda: self.monitor.reading())
        self.archive = Archive(settings.archive_dir)
        self.ledger = Ledger(
            state,
            self.stats,
            checkpoint_path=settings.checkpoint_path,
            quarantine_path=settings.quarantine_path,
            save_every_lines=settings.checkpoint_every_lines,
            archive=self.archive,
        )
        rules = Rules(
            limits=ParseLimits(
                tool_result_max_chars=settings.tool_result_max_chars,
                tool_call_max_chars=settings.tool_call_max_chars,
                redact_secrets=settings.redact_secrets,
            ),
            chunker=Chunker(
                tokenizer=embedder.tokenizer(),
                max_tokens=settings.chunk_max_tokens,
                overlap_tokens=settings.chunk_overlap_tokens,
                special_tokens=embedder.special_tokens,
            ),
            # The intake's own copy of the tombstones: it refuses a forgotten
            # session at once, while the checkpoint records it only once the
            # points are deleted.
            privacy=Privacy(
                settings.exclude_projects,
                Tombstones(set(state.forgotten.sessions), set(state.forgotten.projects)),
            ),
            lexical=Bm25Encoder(),
        )
        self.intake = Intake(
            settings,
            rules,
            {rel: Cursor.from_state(fs) for rel, fs in state.files.items()},
            self.stats,
            self._stop,
            on_file_start=lambda rel: self.monitor.file_started(rel),
            live=LiveWork(),
            archive=self.archive,
            scan=scan,
        )
        self.embed = EmbedStage(
            embedder,
            source=settings.source_name,
            batch_tokens=settings.embed_batch_tokens,
            cache_entries=settings.embed_cache_entries,
            model_thread=self.model_thread,
            metrics=self.metrics,
            stop=self._stop,
        )
        self.store = StoreStage(
            sink,
            self.ledger,
            source=settings.source_name,
            upsert_points=settings.upsert_batch_points,
            retry_timeout_s=settings.store_retry_timeout_s,
            store_thread=self.store_thread,
            metrics=self.metrics,
            after_batch=lambda batch: self.monitor.after_batch(batch),
            live=self.intake.live,
        )
        self.monitor = Monitor(
            settings,
            self.stats,
            self.ledger,
            self.intake,
            lambda: self.store.down_since,
            self._stop,
            registry=self.metrics,
            request_stop=self.request_stop,
            progress=progress,
        )

    @property
    def metrics_port(self) -> int | None:
        """Where ``/metrics`` and ``/health`` are served while running, if anywhere."""
        return self.monitor.metrics_port

    def health(self) -> dict[str, object]:
        """The ``/health`` report; safe to call from any thread."""
        return self.monitor.health()

    def request_stop(self) -> None:
        """Stop taking new work; what is in flight is finished and checkpointed."""
        if not self._stop.is_set():
            logger.info("stopping: finishing what is in flight")
            self._stop.set()

    async def run(
        self,
        *,
        once: bool,
        handle_signals: bool = False,
        services: Sequence[Service] = (),
        serve_only: bool = False,
    ) -> ExitCode:
        """Import until done (``once``) or until asked to stop; returns the exit code.

        With ``handle_signals``, the first SIGINT or SIGTERM asks for a
        graceful stop that must end within ``SHUTDOWN_TIMEOUT_S``; a second one
        exits at once, which is safe because the checkpoint is never ahead of
        the store. The ``services`` are served meanwhile, started in their order
        and stopped once the pipeline has; ``serve_only`` serves them without
        importing, until stopped.
        """
        mem = memory.sample()
        logger.info(
            "importing %s (rss %.0f MiB, anon %.0f MiB)",
            ", ".join(f"{s.name} {s.root}" for s in self.settings.source_folders),
            mem.rss_mb,
            mem.anon_mb,
        )
        try:
            await self._run(once, handle_signals, services, serve_only)
        except BaseExceptionGroup as group:
            # anyio wraps what a task raised; an error the program knows (the
            # store lost past its retry window, an unwritable checkpoint) is
            # reported as itself, with its exit code.
            known = _known_error(group)
            if known is None:
                raise
            raise known from None
        return ExitCode.MEMORY_CEILING if self.monitor.over_ceiling else ExitCode.OK

    async def _run(
        self, once: bool, handle_signals: bool, services: Sequence[Service], serve_only: bool
    ) -> None:
        settings = self.settings
        async with self.monitor.serving():
            items_send, items_recv = anyio.create_memory_object_stream[Item](
                settings.queue_max_items
            )
            batch_send, batch_recv = anyio.create_memory_object_stream[Batch](BATCH_QUEUE)
            async with anyio.create_task_group() as outer:
                with anyio.CancelScope() as pipeline:
                    if handle_signals:
                        outer.start_soon(self._watch_signals, pipeline)
                    for service in services:
                        await service.start(outer)
                    outer.start_soon(self.monitor.run)
                    if serve_only:
                        await self._stop.wait()
                    else:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(self.intake.run, items_send, once)
                            tg.start_soon(self.embed.run, items_recv, batch_send)
                            tg.start_soon(self.store.run, batch_recv)
                for service in services:
                    await service.stop(settings.shutdown_timeout_s)
                outer.cancel_scope.cancel()
            if self.monitor.over_ceiling is not None:
                self.ledger.count(Counts(memory_ceiling_exits=1))
            # Whatever was cancelled, the marks applied so far were acknowledged.
            await self.store.save()
            self.monitor.finish()

    async def _watch_signals(self, pipeline: anyio.CancelScope) -> None:
        try:
            async with anyio.create_task_group() as tg:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    if self._early_stop is not None and self._early_stop.is_set():
                        self.request_stop()  # a signal came during start-up
                        tg.start_soon(self._deadline_then_cancel, pipeline)
                    async for signum in signals:
                        if self._stop.is_set():
                            _exit_now(signum)
                        logger.info("%s received", signal.Signals(signum).name)
                        self.request_stop()
                        tg.start_soon(self._deadline_then_cancel, pipeline)
        finally:
            if self._stop.is_set():
                # The receiver is closed while the run winds down; a second
                # signal from now until the process ends still exits at once
                # (the default handler would raise KeyboardInterrupt mid-teardown).
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda signum, _frame: _exit_now(signum))

    async def _deadline_then_cancel(self, pipeline: anyio.CancelScope) -> None:
        await anyio.sleep(self.settings.shutdown_timeout_s)
        logger.error(
            "shutdown did not finish within SHUTDOWN_TIMEOUT_S=%s; abandoning what is in flight",
            self.settings.shutdown_timeout_s,
        )
        pipeline.cancel()


def _exit_now(signum: int) -> None:
    """A second stop signal: exit at once (safe: the checkpoint is never ahead of the store)."""
    logger.warning("second %s: exiting now", signal.Signals(signum).name)
    os._exit(128 + signum)


def _known_error(group: BaseExceptionGroup[BaseException]) -> ImporterError | None:
    """The first error of the program's own tree in ``group`` (at any depth), if any."""
    for error in group.exceptions:
        if isinstance(error, ImporterError):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _known_error(error)
            if found is not None:
                return found
    return None
