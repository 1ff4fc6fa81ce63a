"""The lifecycle: startup, the import pipeline, shutdown.

Stages meet only here, joined by bounded streams::

    intake ──items──▶ embed ──batches──▶ store
    (scan, tail,       (one model        (upsert, then advance and
     parse, chunk)      thread)           save the checkpoint)

*intake* scans the folder, works out which files grew, moved, shrank or were
replaced (:mod:`~streaming_importer.tracking`; identity changes travel down
the pipeline as :class:`~streaming_importer.tracking.Control` items), reads
each file from its offset, parses and chunks the new lines (in a worker
thread), and sends the chunks, every 64 or so followed by a :class:`Mark`
that says "the lines up to this offset are all in the chunks before me".
*embed* gathers a window of chunks, reuses cached vectors of texts seen
before, sorts the rest by length, cuts batches of at most
``EMBED_BATCH_TOKENS`` padded tokens and runs the model on their token ids in
one worker thread. *store* upserts the points, and only once the sink has
acknowledged them applies the marks and controls that came with them; it
saves the checkpoint after each file and every ``CHECKPOINT_EVERY_LINES``
lines. So the checkpoint is never ahead of the store.

Between batches the store stage also checks memory against
``OPERATIONAL_MEMORY_MB``; over it, the run stops as on SIGTERM and exits 75.

``--once`` is the same pipeline with a different stop condition: intake ends
after one pass instead of watching for changes.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread
import orjson
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream
from watchfiles import awatch

from streaming_importer import checkpoint as ckpt
from streaming_importer import control, memory, metrics
from streaming_importer.chunk import Chunk, Chunker
from streaming_importer.config import Settings
from streaming_importer.embed import Embedder, VectorCache, padded_batches
from streaming_importer.errors import ExitCode, StoreUnavailableError
from streaming_importer.health import Snapshot, assess
from streaming_importer.lexical import Bm25Encoder
from streaming_importer.parse import FileContext, ParseLimits, parse_line
from streaming_importer.points import to_point
from streaming_importer.privacy import Privacy, Tombstones
from streaming_importer.redact import redact
from streaming_importer.report import status_report
from streaming_importer.search import SearchQuery, find, session_summary
from streaming_importer.sink import Point, Sink, Sparse, Where
from streaming_importer.source import HEAD_BYTES, TAIL_BYTES, SourceFile, digest, read_span, scan
from streaming_importer.tail import Line, read_line_blocks
from streaming_importer.tracking import Control, Cursor, plan

__all__ = ["Importer", "Progress", "Stats"]

logger = logging.getLogger(__name__)

#: Chunks gathered before they are sorted by length and cut into batches.
_EMBED_WINDOW_CHUNKS = 256
#: Chunks between two marks within a block.
_MARK_EVERY_CHUNKS = 64
#: Embedded windows waiting for the store.
_BATCH_QUEUE = 4
#: Backoff between retries of an unreachable store, in seconds.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0
#: Quarantine log size past which only counting goes on, in bytes.
_QUARANTINE_MAX_BYTES = 16 << 20
#: Seconds between two health snapshots.
_HEARTBEAT_S = 1.0
_MIB = 1 << 20


def _unix_time(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


@dataclasses.dataclass(slots=True)
class _WorkChunk:
    chunk: Chunk
    rel_path: str
    #: Byte offset of the line the chunk came from.
    offset: int
    #: The chunk's BM25 vector.
    sparse: Sparse | None = None


@dataclasses.dataclass(slots=True)
class Mark:
    """Lines of ``rel_path`` up to ``end`` are all in the chunks sent before this mark."""

    rel_path: str
    end: int
    context: FileContext
    device: int
    inode: int
    size: int
    lines: int
    chunks: int
    #: Bad lines among them: (offset, length in bytes, reason).
    quarantined: list[tuple[int, int, str]]
    #: Secrets replaced by markers in their text.
    redacted: int = 0
    head_len: int = 0
    head_hash: str = ""
    tail_len: int = 0
    tail_hash: str = ""
    #: The file was read to its end.
    file_done: bool = False


@dataclasses.dataclass(slots=True)
class Forget:
    """Delete a session's or a project's points, then keep its tombstone.

    Travels down the pipeline after the chunks before it, so nothing queued
    earlier is stored after the deletion.
    """

    session: str | None = None
    project: str | None = None
    #: Set once the points are deleted and the tombstone saved.
    done: anyio.Event = dataclasses.field(default_factory=anyio.Event)

    def delete_points(self, sink: Sink, source: str) -> None:
        """Delete the points (blocking; the store thread's work).

        A project's sessions are deleted whole, so lines that came before the
        session's first working directory (a summary, with no project) go too.
        """
        if self.session is not None:
            sink.delete_where(Where({"source": source, "session_id": self.session}))
            return
        assert self.project is not None
        key = "project" if "/" in self.project else "project_name"
        of_project = Where({"source": source, key: self.project})
        sessions = {str(h.payload.get("session_id")) for h in sink.scroll(of_project, 1 << 20)}
        sink.delete_where(of_project)
        if sessions:
            sink.delete_where(Where({"source": source, "session_id": tuple(sorted(sessions))}))


_Item = _WorkChunk | Mark | Control | Forget


def _mark(f: SourceFile, cursor: Cursor, seg: _Segment, *, file_done: bool = False) -> Mark:
    """The mark that follows a segment's chunks: the file's state after its lines."""
    return Mark(
        f.rel_path,
        seg.end,
        seg.context,
        f.device,
        f.inode,
        f.size,
        lines=seg.lines,
        chunks=len(seg.chunks),
        quarantined=seg.quarantined,
        redacted=seg.redacted,
        head_len=cursor.head_len,
        head_hash=cursor.head_hash,
        tail_len=seg.tail_len,
        tail_hash=seg.tail_hash,
        file_done=file_done,
    )


@dataclasses.dataclass(slots=True)
class _Segment:
    """Consecutive lines of one block, their chunks, and the state after them."""

    chunks: list[_WorkChunk]
    quarantined: list[tuple[int, int, str]]
    lines: int
    end: int
    context: FileContext
    tail_len: int
    tail_hash: str
    redacted: int = 0
    #: Sessions found marked #no-index in these lines.
    forgets: list[Forget] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class _Batch:
    points: list[Point]
    #: Tokens the model computed, and tokens whose vectors came from the cache.
    tokens: int
    #: Applied in order once the points are acknowledged.
    events: list[Mark | Control | Forget]
    reused: int = 0


@dataclasses.dataclass(slots=True)
class _FileWatch:
    """Memory and time of one file's import, for its log line (MiB, seconds)."""

    start_rss: float
    start_anon: float
    started: float
    peak_rss: float
    peak_anon: float
    chunks: int = 0
    tokens: int = 0

    @classmethod
    def start(cls) -> _FileWatch:
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


@dataclasses.dataclass(slots=True)
class Stats:
    """Counters of one run; logged at the end and by the progress reporter."""

    files_seen: int = 0
    files_imported: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    lines: int = 0
    chunks: int = 0
    points: int = 0
    tokens_embedded: int = 0
    tokens_reused: int = 0
    embed_seconds: float = 0.0
    quarantined: int = 0
    secrets_redacted: int = 0
    #: Messages not embedded: excluded projects, #no-index and forgotten sessions.
    excluded: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def tokens_per_s(self) -> float:
        return self.tokens_embedded / max(self.elapsed(), 1e-9)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["started"]
        data["seconds"] = round(self.elapsed(), 3)
        data["embed_seconds"] = round(self.embed_seconds, 3)
        return data

    def __str__(self) -> str:
        return (
            f"{self.files_imported} files imported, {self.files_unchanged} unchanged, "
            f"{self.files_failed} failed; {self.lines} lines, {self.chunks} chunks, "
            f"{self.tokens_embedded} tokens embedded in {self.elapsed():.1f} s "
            f"({self.tokens_per_s():.0f} tokens/s), {self.tokens_reused} tokens reused from "
            f"the cache, {self.embed_seconds:.1f} s in the model; {self.quarantined} quarantined, "
            f"{self.secrets_redacted} secrets redacted"
        )


class Progress(Protocol):
    """Shown while importing; the CLI picks a bar on a terminal, log lines elsewhere."""

    def update(self, stats: Stats) -> None: ...


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
    ) -> None:
        self.settings = settings
        self._early_stop = early_stop
        self.stats = Stats()
        self._embedder = embedder
        self._sink = sink
        self._state = state
        self._progress = progress
        self._limits = ParseLimits(
            tool_result_max_chars=settings.tool_result_max_chars,
            tool_call_max_chars=settings.tool_call_max_chars,
        )
        self._chunker = Chunker(
            tokenizer=embedder.tokenizer(),
            max_tokens=settings.chunk_max_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            special_tokens=embedder.special_tokens,
        )
        # One thread each: the model, the parser/tokenizer, the store. They
        # overlap, and none of them ever runs on the event loop.
        self._model_thread = anyio.CapacityLimiter(1)
        self._parse_thread = anyio.CapacityLimiter(1)
        self._store_thread = anyio.CapacityLimiter(1)
        self._stop = anyio.Event()
        self._lines_since_save = 0
        self._unreadable: set[str] = set()
        # The intake's own view of each file; the checkpoint (``state``)
        # trails it by whatever is still in flight.
        self._cursors = {rel: Cursor.from_state(fs) for rel, fs in state.files.items()}
        self._cache = VectorCache(settings.embed_cache_entries, embedder.identity.fingerprint)
        self._lexical = Bm25Encoder()
        # The intake's own copy of the tombstones: it refuses a forgotten
        # session at once, while the checkpoint records it only once the
        # points are deleted.
        self._privacy = Privacy(
            settings.exclude_projects,
            Tombstones(set(state.forgotten.sessions), set(state.forgotten.projects)),
        )
        self._items_send: ObjectSendStream[_Item] | None = None
        # Per file in flight: memory and time when its reading started, and
        # the peak seen since (for the one log line per file).
        self._file_watch: dict[str, _FileWatch] = {}
        #: (rss, anon) in MiB when the memory ceiling was crossed.
        self._over_ceiling: tuple[float, float] | None = None
        #: Monotonic time since which the store has not answered, or None.
        self._store_down_since: float | None = None
        self._retry_timeout = settings.store_retry_timeout_s
        # What health and metrics report: file sizes at the last scan, when
        # the checkpoint was last saved (Unix s), since when bytes wait.
        self._sizes: dict[str, int] = {}
        self._last_checkpoint = _unix_time(state.last_import)
        self._pending_since: float | None = None
        self._snapshot = self._take_snapshot()
        self.metrics = metrics.Metrics(self._reading)
        #: Where ``/metrics`` and ``/health`` are served while running, if anywhere.
        self.metrics_port: int | None = None

    # -- lifecycle ---------------------------------------------------------

    def request_stop(self) -> None:
        """Stop taking new work; what is in flight is finished and checkpointed."""
        if not self._stop.is_set():
            logger.info("stopping: finishing what is in flight")
            self._stop.set()

    async def run(
        self, *, once: bool, handle_signals: bool = False, serve_control: bool = False
    ) -> ExitCode:
        """Import until done (``once``) or until asked to stop.

        With ``handle_signals``, the first SIGINT or SIGTERM asks for a
        graceful stop (finish and acknowledge what is in flight, checkpoint)
        that must end within ``SHUTDOWN_TIMEOUT_S``; a second one exits at
        once, which is safe because the checkpoint is never ahead of the store.
        With ``serve_control``, search and status are answered on the local
        control port while it runs.
        """
        mem = memory.sample()
        logger.info(
            "importing %s (rss %.0f MiB, anon %.0f MiB)",
            self.settings.conversations_dir,
            mem.rss_mb,
            mem.anon_mb,
        )
        items_send, items_recv = anyio.create_memory_object_stream[_Item](
            self.settings.queue_max_items
        )
        server = None
        if self.settings.metrics_port is not None:
            server, _ = metrics.serve(
                self.settings.metrics_host, self.settings.metrics_port, self.metrics, self.health
            )
            self.metrics_port = server.server_port
        try:
            code = await self._run(once, handle_signals, serve_control, items_send, items_recv)
        finally:
            if server is not None:
                # In a thread: shutdown() waits for the serving loop's next poll.
                await anyio.to_thread.run_sync(server.shutdown)
                server.server_close()
        return code

    async def _run(
        self,
        once: bool,
        handle_signals: bool,
        serve_control: bool,
        items_send: ObjectSendStream[_Item],
        items_recv: MemoryObjectReceiveStream[_Item],
    ) -> ExitCode:
        self._items_send = items_send
        batch_send, batch_recv = anyio.create_memory_object_stream[_Batch](_BATCH_QUEUE)
        async with anyio.create_task_group() as outer:
            with anyio.CancelScope() as pipeline:
                if handle_signals:
                    outer.start_soon(self._watch_signals, pipeline)
                if serve_control:
                    await outer.start(
                        control.serve,
                        self.settings.control_port,
                        self.settings.runtime_path,
                        self._answer,
                    )
                outer.start_soon(self._summary_loop)
                outer.start_soon(self._heartbeat)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._intake, items_send, once)
                    tg.start_soon(self._embed_stage, items_recv, batch_send)
                    tg.start_soon(self._store_stage, batch_recv)
            outer.cancel_scope.cancel()
        if self._over_ceiling is not None:
            self._state.totals.memory_ceiling_exits += 1
        # Whatever was cancelled, the marks applied so far were acknowledged.
        await self._save_checkpoint()
        self._report()
        if self._over_ceiling is not None:
            rss, anon = self._over_ceiling
            logger.warning(
                "exiting at the memory ceiling: anonymous memory %.0f MiB (rss %.0f MiB) was over "
                "OPERATIONAL_MEMORY_MB=%d; everything in flight was stored and checkpointed, "
                "so running again continues where this run stopped",
                anon,
                rss,
                self.settings.operational_memory_mb,
            )
            return ExitCode.MEMORY_CEILING
        return ExitCode.OK

    async def _summary_loop(self) -> None:
        while True:
            await anyio.sleep(self.settings.summary_interval_s)
            mem = memory.sample()
            logger.info(
                "summary: %s; rss %.0f MiB, anon %.0f MiB", self.stats, mem.rss_mb, mem.anon_mb
            )

    # -- health and metrics -----------------------------------------------

    async def _heartbeat(self) -> None:
        """A snapshot a second: its age is how long the event loop has been stuck."""
        while True:
            self._snapshot = self._take_snapshot()
            await anyio.sleep(_HEARTBEAT_S)

    def _take_snapshot(self) -> Snapshot:
        files = self._state.files
        lag = 0
        for rel, size in self._sizes.items():
            saved = files.get(rel)
            lag += max(size - (saved.offset if saved is not None else 0), 0)
        wall = time.time()
        if lag == 0:
            self._pending_since = None
        elif self._pending_since is None:
            self._pending_since = wall
        down = self._store_down_since
        mem = memory.sample()
        return Snapshot(
            taken=time.monotonic(),
            rss_mb=mem.rss_mb,
            anon_mb=mem.anon_mb,
            ceiling_mb=self.settings.operational_memory_mb,
            lag_bytes=lag,
            last_checkpoint=self._last_checkpoint,
            pending_since=self._pending_since,
            store_down_s=None if down is None else time.monotonic() - down,
            stopping=self._stop.is_set(),
        )

    def health(self) -> dict[str, Any]:
        """The ``/health`` report; safe to call from any thread."""
        return assess(
            self._snapshot,
            now=time.monotonic(),
            wall=time.time(),
            stall_s=self.settings.health_stall_s,
            stale_s=self.settings.health_checkpoint_stale_s,
        )

    def _reading(self) -> metrics.Reading:
        """Counters and gauges for a scrape (from the metrics thread)."""
        snap, stats = self._snapshot, self.stats
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
                "memory_ceiling_exits": self._state.totals.memory_ceiling_exits,
            },
            gauges={
                "files": len(self._sizes),
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

    async def _watch_signals(self, pipeline: anyio.CancelScope) -> None:
        async with anyio.create_task_group() as tg:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                if self._early_stop is not None and self._early_stop.is_set():
                    self.request_stop()  # a signal came during start-up
                    tg.start_soon(self._deadline_then_cancel, pipeline)
                async for signum in signals:
                    name = signal.Signals(signum).name
                    if self._stop.is_set():
                        logger.warning("second %s: exiting now", name)
                        os._exit(128 + signum)
                    logger.info("%s received", name)
                    self.request_stop()
                    tg.start_soon(self._deadline_then_cancel, pipeline)

    async def _deadline_then_cancel(self, pipeline: anyio.CancelScope) -> None:
        await anyio.sleep(self.settings.shutdown_timeout_s)
        logger.error(
            "shutdown did not finish within SHUTDOWN_TIMEOUT_S=%s; abandoning what is in flight",
            self.settings.shutdown_timeout_s,
        )
        pipeline.cancel()

    # -- the control port --------------------------------------------------

    async def _answer(self, path: str, params: dict[str, str]) -> Any:
        if path == "/search":
            query = SearchQuery.from_params(params)
            dense = None
            if query.mode != "bm25":
                vectors = await anyio.to_thread.run_sync(
                    self._embedder.embed, [query.text], limiter=self._model_thread
                )
                dense = vectors[0]
            hits = await anyio.to_thread.run_sync(
                find, self._sink, self._lexical, query, dense, limiter=self._store_thread
            )
            return [h.to_json() for h in hits]
        if path == "/status":
            points = await anyio.to_thread.run_sync(self._sink.count, limiter=self._store_thread)
            report = await anyio.to_thread.run_sync(
                status_report,
                self.settings,
                self._state,
                points,
                self._embedder.identity.to_json(),
            )
            return {
                **report,
                "running": True,
                "health": self.health(),
                "run": self.stats.to_json(),
            }
        if path == "/health":
            return self.health()
        if path == "/session":
            session_id = params.get("id", "")
            if not session_id:
                raise ValueError("the parameter id is required")
            summary = await anyio.to_thread.run_sync(
                session_summary, self._sink, session_id, limiter=self._store_thread
            )
            if summary is None:
                raise LookupError(f"no session {session_id}")
            return summary
        if path == "/forget":
            session, project = params.get("session"), params.get("project")
            if bool(session) == bool(project):
                raise ValueError("give exactly one of session or project")
            await self.forget(Forget(session=session or None, project=project or None))
            return {"forgotten": {"session": session, "project": project}}
        raise KeyError(path)

    def _report(self) -> None:
        if self._progress is not None:
            self._progress.update(self.stats)
        mem = memory.sample()
        logger.info("done; rss %.0f MiB, anon %.0f MiB", mem.rss_mb, mem.anon_mb)

    # -- intake ------------------------------------------------------------

    async def _intake(self, send: ObjectSendStream[_Item], once: bool) -> None:
        async with send:
            await self._import_pass(send)
            if once or self._stop.is_set():
                return
            logger.info("caught up; watching %s for changes", self.settings.conversations_dir)
            async for _changes in awatch(
                self.settings.conversations_dir,
                stop_event=self._stop,
                rust_timeout=int(self.settings.rescan_interval_s * 1000),
                yield_on_timeout=True,
                recursive=True,
                debounce=200,
                step=20,
            ):
                await self._import_pass(send)
                if self._stop.is_set():
                    return

    async def _import_pass(self, send: ObjectSendStream[_Item]) -> None:
        """Read what is new, in rounds: a scan, then one slice of each file.

        A file bigger than ``FAIR_SLICE_BYTES`` takes several rounds, and each
        round scans again, so appends to other files wait one slice at most.
        """
        first = True
        failed: set[str] = set()  # unreadable now: tried again on the next pass
        while not self._stop.is_set():
            files = await anyio.to_thread.run_sync(scan, self.settings.conversations_dir)
            self._sizes = {f.rel_path: f.size for f in files}
            work = await anyio.to_thread.run_sync(
                plan, files, self._cursors, self.settings.delete_removed_files
            )
            if first:
                self.stats.files_seen = len(files)
                self.stats.files_unchanged += len(files) - len(work.to_read)
                first = False
            for rel, error in work.unreadable:
                self._warn_unreadable(rel, error)
            for change in work.controls:
                await send.send(change)
            to_read = [f for f in work.to_read if f.rel_path not in failed]
            if not to_read:
                return
            for f in to_read:
                cursor = self._cursors.get(f.rel_path)
                self.stats.bytes_total += f.size - (cursor.offset if cursor else 0)
            for f in to_read:
                if self._stop.is_set():
                    return
                if not await self._read_slice(send, f):
                    failed.add(f.rel_path)

    def _warn_unreadable(self, rel_path: str, error: OSError) -> None:
        # Logged once; later scans try again, quietly, until it is readable.
        if rel_path not in self._unreadable:
            logger.warning("cannot read %s: %s (trying again on later scans)", rel_path, error)
            self._unreadable.add(rel_path)

    async def _read_slice(self, send: ObjectSendStream[_Item], f: SourceFile) -> bool:
        """Read up to ``FAIR_SLICE_BYTES`` of complete lines from the cursor on.

        Returns False if the file could not be read.
        """
        cursor = self._cursors.get(f.rel_path)
        new = cursor is None
        if cursor is None:
            cursor = Cursor.new(f)
        start = cursor.offset
        budget = self.settings.fair_slice_bytes
        at_end = True
        if f.rel_path not in self._file_watch:
            self._file_watch[f.rel_path] = _FileWatch.start()
        try:
            async for lines in read_line_blocks(
                f.path,
                start,
                block_bytes=min(self.settings.read_block_bytes, budget),
                max_line_bytes=self.settings.max_line_bytes,
            ):
                segments = await anyio.to_thread.run_sync(
                    self._parse_block, f.path, lines, cursor, limiter=self._parse_thread
                )
                if new:
                    self._cursors[f.rel_path] = cursor
                    new = False
                for seg in segments:
                    for work in seg.chunks:
                        await send.send(work)
                    for forget in seg.forgets:
                        await send.send(forget)
                    await send.send(_mark(f, cursor, seg))
                if self._stop.is_set() or cursor.offset - start >= budget:
                    at_end = False
                    break
        except OSError as e:
            # Vanished since the scan, or unreadable: later scans try again.
            self._warn_unreadable(f.rel_path, e)
            self.stats.files_failed += 1
            return False
        self._unreadable.discard(f.rel_path)
        if not at_end:
            return True
        cursor.eof_size = f.size
        if new:  # a new file with no complete line yet (empty, say): recorded all the same
            self._cursors[f.rel_path] = cursor
        at_cursor = _Segment(
            [], [], 0, cursor.offset, cursor.context, cursor.tail_len, cursor.tail_hash
        )
        await send.send(_mark(f, cursor, at_cursor, file_done=True))
        return True

    def _parse_block(self, path: Path, lines: Sequence[Line], cursor: Cursor) -> list[_Segment]:
        """Parse and chunk one block; advance ``cursor``. Runs in the parse thread.

        The block is cut into segments of about ``_MARK_EVERY_CHUNKS`` chunks,
        each followed by its own mark, so a stop (signal, memory ceiling)
        loses at most that much finished work, never a whole block.
        """
        segments: list[_Segment] = []
        chunks: list[_WorkChunk] = []
        quarantined: list[tuple[int, int, str]] = []
        context = cursor.context
        first = redacted = 0
        forgets: list[Forget] = []
        for i, line in enumerate(lines):
            if line.overlong:
                quarantined.append((line.start, line.end - line.start, "line too long"))
            else:
                result = parse_line(line.data, context, self._limits)
                context = result.context
                if result.error is not None:
                    # Recorded; a torn line still yields the record salvaged from it.
                    quarantined.append((line.start, line.end - line.start, result.error))
                for message in result.messages:
                    allowed = self._privacy.allows(message, context.rel_path)
                    if allowed and self._privacy.marks_no_index(message):
                        # From now on nothing of this session is embedded, and
                        # what was stored of it before is deleted.
                        logger.info("session %s is marked #no-index", message.session_id)
                        self._privacy.tombstones.sessions.add(message.session_id)
                        forgets.append(Forget(session=message.session_id))
                        allowed = False
                    if not allowed:
                        self.stats.excluded += 1
                        continue
                    if self.settings.redact_secrets:
                        # Before chunking: no secret reaches the model or the store.
                        text, found = redact(message.text)
                        if found:
                            message = dataclasses.replace(message, text=text)
                            redacted += sum(found.values())
                    for chunk in self._chunker.chunk(message):
                        chunks.append(
                            _WorkChunk(
                                chunk,
                                context.rel_path,
                                line.start,
                                self._lexical.document(chunk.text),
                            )
                        )
            if len(chunks) >= _MARK_EVERY_CHUNKS or i == len(lines) - 1:
                tail = self._tail_before(path, line)
                segments.append(
                    _Segment(
                        chunks,
                        quarantined,
                        i + 1 - first,
                        line.end,
                        context,
                        len(tail),
                        digest(tail),
                        redacted,
                        forgets,
                    )
                )
                chunks, quarantined, first, redacted, forgets = [], [], i + 1, 0, []
        end = lines[-1].end
        # Identity hashes for the new offset (see tracking.py).
        if cursor.head_len < min(end, HEAD_BYTES):
            head = read_span(path, 0, min(end, HEAD_BYTES))
            cursor.head_len, cursor.head_hash = len(head), digest(head)
        cursor.tail_len, cursor.tail_hash = segments[-1].tail_len, segments[-1].tail_hash
        cursor.offset = end
        cursor.context = context
        return segments

    @staticmethod
    def _tail_before(path: Path, line: Line) -> bytes:
        """The bytes just before ``line.end``: the end of that line, newline included."""
        if line.overlong:
            n = min(TAIL_BYTES, line.end - line.start)
            return read_span(path, line.end - n, n)
        return (line.data + b"\n")[-TAIL_BYTES:]

    # -- embed -------------------------------------------------------------

    async def _embed_stage(
        self, recv: MemoryObjectReceiveStream[_Item], send: ObjectSendStream[_Batch]
    ) -> None:
        async with recv, send:
            window: list[_WorkChunk] = []
            events: list[Mark | Control | Forget] = []
            async for item in recv:
                if self._stop.is_set():
                    # Stopping: what is queued but not yet embedded is dropped.
                    # Its lines are after the last applied mark, so the next
                    # run reads them again from the checkpoint.
                    continue
                items = [item]
                # Gather what is already queued, without waiting for more: a
                # backfill fills whole windows, a live append goes at once.
                while len(window) + len(items) < _EMBED_WINDOW_CHUNKS:
                    try:
                        items.append(recv.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                for it in items:
                    if isinstance(it, _WorkChunk):
                        window.append(it)
                    elif isinstance(it, Mark):
                        events.append(it)
                    else:
                        # A control acts on points: everything before it is
                        # stored first, then it goes alone.
                        if window or events:
                            await send.send(await self._embed_window(window, events))
                            window, events = [], []
                        await send.send(_Batch([], 0, [it]))
                if window or events:
                    await send.send(await self._embed_window(window, events))
                    window, events = [], []

    async def _embed_window(
        self, window: list[_WorkChunk], events: list[Mark | Control | Forget]
    ) -> _Batch:
        if not window:
            return _Batch([], 0, events)
        started = time.perf_counter()
        vectors, computed, reused = await anyio.to_thread.run_sync(
            self._embed_sorted, [w.chunk for w in window], limiter=self._model_thread
        )
        seconds = time.perf_counter() - started
        self.stats.embed_seconds += seconds
        self._state.totals.embed_seconds += seconds
        source = self.settings.source_name
        points = [
            to_point(source, w.chunk, w.rel_path, w.offset, v, w.sparse)
            for w, v in zip(window, vectors, strict=True)
        ]
        return _Batch(points, computed, events, reused)

    def _embed_sorted(self, chunks: Sequence[Chunk]) -> tuple[list[list[float]], int, int]:
        """Vectors for ``chunks``, each text embedded once. Runs in the model thread.

        A text already in the cache (or twice in this window) is not computed
        again. The rest is embedded from its token ids in length-sorted
        batches of at most ``EMBED_BATCH_TOKENS`` padded tokens. Returns the
        vectors and the tokens computed and reused.
        """
        vectors: list[list[float] | None] = [None] * len(chunks)
        first_of: dict[str, int] = {}  # text -> the chunk that computes it
        reused = 0
        for i, chunk in enumerate(chunks):
            cached = self._cache.get(chunk.text)
            if cached is not None:
                vectors[i] = cached
                reused += chunk.n_tokens
            elif chunk.text in first_of:
                reused += chunk.n_tokens
            else:
                first_of[chunk.text] = i
        order = sorted(first_of.values(), key=lambda i: chunks[i].n_tokens)
        computed = 0
        lengths = [c.n_tokens for c in chunks]
        for batch in padded_batches(order, lengths, self.settings.embed_batch_tokens):
            started = time.perf_counter()
            embedded = self._embedder.embed_ids([chunks[i].token_ids for i in batch])
            self.metrics.embed_seconds.observe(time.perf_counter() - started)
            self.metrics.batch_tokens.observe(max(lengths[i] for i in batch) * len(batch))
            for i, vector in zip(batch, embedded, strict=True):
                vectors[i] = vector
                self._cache.put(chunks[i].text, vector)
                computed += chunks[i].n_tokens
        out: list[list[float]] = []
        for i, chunk in enumerate(chunks):
            # A repeat within this window takes the vector of its first.
            found = vectors[i] if vectors[i] is not None else vectors[first_of[chunk.text]]
            assert found is not None
            out.append(found)
        return out, computed, reused

    # -- store -------------------------------------------------------------

    async def _store_stage(self, recv: ObjectReceiveStream[_Batch]) -> None:
        async with recv:
            async for batch in recv:
                size = self.settings.upsert_batch_points
                for i in range(0, len(batch.points), size):
                    await self._in_store(self._sink.upsert, batch.points[i : i + size])
                # Acknowledged: now, and only now, the events may advance.
                for point in batch.points:
                    watch = self._file_watch.get(point.payload["path"])
                    if watch is not None:
                        watch.chunks += 1
                        watch.tokens += point.payload["tokens"]
                self.stats.points += len(batch.points)
                self.stats.chunks += len(batch.points)
                self.stats.tokens_embedded += batch.tokens
                self.stats.tokens_reused += batch.reused
                self._state.totals.tokens_reused += batch.reused
                self._state.totals.chunks += len(batch.points)
                self._state.totals.tokens_embedded += batch.tokens
                save = False
                for event in batch.events:
                    if isinstance(event, Mark):
                        self._apply(event)
                        save = save or event.file_done
                    elif isinstance(event, Forget):
                        await self._forget(event)
                        save = True
                    else:
                        await self._execute(event)
                        save = True
                if save or self._lines_since_save >= self.settings.checkpoint_every_lines:
                    await self._save_checkpoint()
                for event in batch.events:
                    if isinstance(event, Forget):
                        event.done.set()  # deleted, and the tombstone saved
                self._check_memory()
                if self._progress is not None:
                    self._progress.update(self.stats)

    def _check_memory(self) -> None:
        """A safe point between batches: track peaks, and stop at the ceiling."""
        mem = memory.sample()
        for watch in self._file_watch.values():
            watch.peak_rss = max(watch.peak_rss, mem.rss_mb)
            watch.peak_anon = max(watch.peak_anon, mem.anon_mb)
        ceiling = self.settings.operational_memory_mb
        if ceiling and mem.anon_mb > ceiling and self._over_ceiling is None:
            self._over_ceiling = (mem.rss_mb, mem.anon_mb)
            logger.warning(
                "anonymous memory %.0f MiB is over OPERATIONAL_MEMORY_MB=%d: finishing what is "
                "in flight, then exiting",
                mem.anon_mb,
                ceiling,
            )
            self.request_stop()

    async def _in_store(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a store write; while the store is unreachable, retry with backoff.

        Nothing after it (marks, checkpoint) moves until it succeeds. After
        ``STORE_RETRY_TIMEOUT_S`` without success the error propagates (exit 1;
        a restart policy resumes from the checkpoint).
        """
        delay = _RETRY_FIRST_S
        while True:
            started = time.perf_counter()
            try:
                await anyio.to_thread.run_sync(fn, *args, limiter=self._store_thread)
            except StoreUnavailableError as e:
                now = time.monotonic()
                if self._store_down_since is None:
                    self._store_down_since = now
                    logger.warning("%s; retrying for up to %.0f s", e, self._retry_timeout)
                down = now - self._store_down_since
                if down > self._retry_timeout:
                    logger.error("the store stayed unreachable for %.0f s: giving up", down)
                    raise
                await anyio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            self.metrics.store_seconds.observe(time.perf_counter() - started)
            if self._store_down_since is not None:
                down = time.monotonic() - self._store_down_since
                logger.warning("the store answers again after %.0f s", down)
                self._store_down_since = None
            return

    async def _forget(self, forget: Forget) -> None:
        """Delete the points, then record the tombstone (saved with the checkpoint)."""
        await self._in_store(forget.delete_points, self._sink, self.settings.source_name)
        forgotten = self._state.forgotten
        if forget.session is not None:
            forgotten.sessions.add(forget.session)
        if forget.project is not None:
            forgotten.projects.add(forget.project)
        logger.info(
            "forgot %s: its points are deleted and it will not be imported again",
            f"session {forget.session}" if forget.session else f"project {forget.project}",
        )

    async def forget(self, forget: Forget) -> None:
        """Forget a session or project while running (the control port's ``/forget``).

        New chunks of it are refused at once; the deletion travels down the
        pipeline behind what is already queued. Returns when it is done.
        """
        tombstones = self._privacy.tombstones
        if forget.session is not None:
            tombstones.sessions.add(forget.session)
        if forget.project is not None:
            tombstones.projects.add(forget.project)
        send = self._items_send
        try:
            if send is None:
                raise anyio.ClosedResourceError
            await send.send(forget)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            # The pipeline is not running (or done): delete directly.
            await self._forget(forget)
            await self._save_checkpoint()
            forget.done.set()
        await forget.done.wait()

    async def _execute(self, control: Control) -> None:
        source = self.settings.source_name
        files = self._state.files
        if control.action == "reset":
            await self._in_store(self._sink.delete_path, source, control.rel_path)
            files.pop(control.rel_path, None)
        elif control.action == "move":
            assert control.new_path is not None
            await self._in_store(self._sink.move_path, source, control.rel_path, control.new_path)
            moved = files.pop(control.rel_path, None)
            if moved is not None:
                moved.context = {**moved.context, "rel_path": control.new_path}
                files[control.new_path] = moved
        else:
            if control.delete_points:
                await self._in_store(self._sink.delete_path, source, control.rel_path)
            files.pop(control.rel_path, None)

    def _apply(self, mark: Mark) -> None:
        saved = self._state.files.get(mark.rel_path)
        if saved is None:
            saved = ckpt.FileState(offset=0, device=mark.device, inode=mark.inode, context={})
            self._state.files[mark.rel_path] = saved
        self.stats.bytes_done += max(mark.end - saved.offset, 0)
        saved.offset = mark.end
        saved.device, saved.inode = mark.device, mark.inode
        saved.size = max(mark.size, mark.end)
        saved.context = mark.context.to_json()
        saved.head_len, saved.head_hash = mark.head_len, mark.head_hash
        saved.tail_len, saved.tail_hash = mark.tail_len, mark.tail_hash
        saved.lines += mark.lines
        saved.chunks += mark.chunks
        self.stats.lines += mark.lines
        self._state.totals.lines += mark.lines
        self._lines_since_save += mark.lines
        self.stats.secrets_redacted += mark.redacted
        self._state.totals.secrets_redacted += mark.redacted
        if mark.quarantined:
            self.stats.quarantined += len(mark.quarantined)
            self._state.totals.quarantined += len(mark.quarantined)
            self._quarantine(mark.rel_path, mark.quarantined)
        if mark.file_done:
            self.stats.files_imported += 1
            memory.trim()
            watch = self._file_watch.pop(mark.rel_path, None)
            if watch is not None:
                watch.log(mark.rel_path)

    def _quarantine(self, rel_path: str, bad: list[tuple[int, int, str]]) -> None:
        path = self.settings.quarantine_path
        for offset, length, reason in bad:
            logger.warning(
                "quarantined %s at byte %d (%d bytes): %s", rel_path, offset, length, reason
            )
        try:
            if path.exists() and path.stat().st_size > _QUARANTINE_MAX_BYTES:
                return
            with path.open("ab") as f:
                for offset, length, reason in bad:
                    f.write(
                        orjson.dumps(
                            {"path": rel_path, "offset": offset, "length": length, "reason": reason}
                        )
                        + b"\n"
                    )
        except OSError as e:
            logger.warning("cannot write %s: %s", path, e)

    async def _save_checkpoint(self) -> None:
        await anyio.to_thread.run_sync(self._sink.flush, limiter=self._store_thread)
        self._state.last_import = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        await anyio.to_thread.run_sync(ckpt.save, self.settings.checkpoint_path, self._state)
        self._lines_since_save = 0
        self._last_checkpoint = time.time()
        self._snapshot = dataclasses.replace(self._snapshot, last_checkpoint=self._last_checkpoint)
