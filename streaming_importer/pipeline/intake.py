"""The intake stage: which transcripts grew, read in fair slices, segmented.

A pass scans the folder, asks the tracker what changed since the cursors
(:func:`~streaming_importer.pipeline.tracking.plan`; identity changes go down the
pipeline as :class:`~streaming_importer.pipeline.tracking.Control` items), then reads
one slice of at most ``FAIR_SLICE_BYTES`` of each file that grew, and scans
again: so a big backfill never makes an append to another file wait more than
one slice. Each block of complete lines is segmented in the parse thread
(:func:`~streaming_importer.pipeline.segment.segment_block`), and its chunks are sent
each segment followed by its :class:`~streaming_importer.pipeline.items.Mark`;
before the marks go, the block's bytes are kept in the archive
(:mod:`~streaming_importer.pipeline.keeping`).

The cursors are the intake's own view of each file; the checkpoint trails it
by whatever is still in flight. ``--once`` ends after one pass; otherwise the
intake waits for changes (``awatch``, with a rescan every
``RESCAN_INTERVAL_S``) until asked to stop.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable

import anyio
import anyio.to_thread
from anyio.abc import ObjectSendStream
from watchfiles import awatch

from streaming_importer.ops.config import Settings
from streaming_importer.pipeline.items import Forget, Item, LiveWork, Mark
from streaming_importer.pipeline.keeping import Keeper
from streaming_importer.pipeline.segment import Block, Rules, Segment, segment_block
from streaming_importer.pipeline.tracking import Cursor, plan
from streaming_importer.sources.discover import start_context
from streaming_importer.sources.files import FileIdentity, SourceFile, read_span, scan_all
from streaming_importer.sources.tail import Line, read_document, read_line_blocks
from streaming_importer.state.archive import Archive
from streaming_importer.state.counters import Stats

__all__ = ["Intake"]

logger = logging.getLogger(__name__)


class Intake:
    """Reads new lines of the transcripts and sends them down the pipeline."""

    def __init__(
        self,
        settings: Settings,
        rules: Rules,
        cursors: dict[str, Cursor],
        stats: Stats,
        stop: anyio.Event,
        *,
        on_file_start: Callable[[str], None] = lambda _rel: None,
        live: LiveWork | None = None,
        archive: Archive | None = None,
        scan: Callable[[], list[SourceFile]] | None = None,
    ) -> None:
        self._settings = settings
        #: Keeps each slice's bytes in the archive as it is read (off: ``Archive(None)``).
        self._keeper = Keeper(archive or Archive(None), rules.privacy, stop)
        self._scan = scan or functools.partial(scan_all, settings.source_folders)
        #: The last scan's transcripts by relative path.
        self._files: dict[str, SourceFile] = {}
        #: Live slices in flight (index builds wait for them to be stored).
        self.live = live or LiveWork()
        #: Set once the first pass caught up: slices after it may be live.
        self._watching = False
        self._rules = rules
        self._cursors = cursors
        self._stats = stats
        self._stop = stop
        self._on_file_start = on_file_start
        self._parse_thread = anyio.CapacityLimiter(1)
        self._unreadable: set[str] = set()
        self._send: ObjectSendStream[Item] | None = None
        #: File sizes at the last scan (for the lag that health reports), in bytes.
        self.sizes: dict[str, int] = {}

    async def run(self, send: ObjectSendStream[Item], once: bool) -> None:
        """Import until done (``once``) or until the stop event; closes ``send``."""
        self._send = send
        async with send:
            await self._import_pass(send)
            await self._keeper.keep_imported(self._cursors, self._files, self._warn_unreadable)
            if once or self._stop.is_set():
                return
            self._watching = True
            # Every source's folder that exists (one created later is seen
            # after a restart).
            folders = [s.root for s in self._settings.source_folders if s.root.is_dir()]
            logger.info("caught up; watching %s for changes", ", ".join(map(str, folders)))
            async for _changes in awatch(
                *folders,
                stop_event=self._stop,
                rust_timeout=int(self._settings.rescan_interval_s * 1000),
                yield_on_timeout=True,
                recursive=True,
                debounce=200,
                step=20,
            ):
                await self._import_pass(send)
                if self._stop.is_set():
                    return

    def refuse(self, forget: Forget) -> None:
        """From now on, read nothing more of what ``forget`` names."""
        tombstones = self._rules.privacy.tombstones
        if forget.session is not None:
            tombstones.add_session(forget.session)
        if forget.project is not None:
            tombstones.add_project(forget.project)

    async def submit(self, forget: Forget) -> bool:
        """Send ``forget`` down the pipeline behind what is queued; False if it is not running."""
        if self._send is None:
            return False
        try:
            await self._send.send(forget)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        return True

    async def _import_pass(self, send: ObjectSendStream[Item]) -> None:
        """Read what is new, in rounds: a scan, then one slice of each file."""
        first = True
        failed: set[str] = set()  # unreadable now: tried again on the next pass
        while not self._stop.is_set():
            files = await anyio.to_thread.run_sync(self._scan)
            self.sizes = {f.rel_path: f.size for f in files}
            self._files = {f.rel_path: f for f in files}
            work = await anyio.to_thread.run_sync(
                plan, files, self._cursors, self._settings.delete_removed_files
            )
            if first:
                self._stats.files_seen = len(files)
                self._stats.files_unchanged += len(files) - len(work.to_read)
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
                self._stats.bytes_total += f.size - (cursor.offset if cursor else 0)
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

    async def _read_slice(self, send: ObjectSendStream[Item], f: SourceFile) -> bool:
        """Read up to ``FAIR_SLICE_BYTES`` of complete lines from the cursor on.

        Returns False if the file could not be read.
        """
        cursor = self._cursors.get(f.rel_path)
        start = 0 if cursor is None else cursor.offset
        budget = self._settings.fair_slice_bytes
        live = self._watching and f.size - start <= budget
        if live:
            self.live.begin()
        done: bool | None = None
        try:
            done = await self._read(send, f, cursor, start, budget, live=live)
        finally:
            if live and not done:
                self.live.end()  # its last mark, the one counted down, was not sent
        return done is not None

    async def _read(
        self,
        send: ObjectSendStream[Item],
        f: SourceFile,
        cursor: Cursor | None,
        start: int,
        budget: int,
        *,
        live: bool,
    ) -> bool | None:
        """:meth:`_read_slice`'s work: True if its last mark (``live`` if so) was sent,
        False if it stopped before the file's end, None if the file could not be read."""
        new = cursor is None
        at_end = True
        self._on_file_start(f.rel_path)
        read = functools.partial(read_span, f.path)
        try:
            if cursor is None:
                context = await anyio.to_thread.run_sync(
                    start_context, f, self._settings.source_folders, self._settings.max_line_bytes
                )
                cursor = Cursor.new(f, context)
            async for lines in self._blocks(f, start, budget):
                block = await anyio.to_thread.run_sync(
                    segment_block,
                    lines,
                    cursor.context,
                    cursor.identity,
                    self._rules,
                    read,
                    limiter=self._parse_thread,
                )
                if not (f.whole and lines[0].overlong):
                    # Kept before its mark is sent: the archive never trails the checkpoint.
                    await self._keeper.keep(f, cursor.offset, block.end, block.context)
                self._advance(cursor, block)
                if new:
                    self._cursors[f.rel_path] = cursor
                    new = False
                for seg in block.segments:
                    for work in seg.chunks:
                        await send.send(work)
                    for forget in seg.forgets:
                        await send.send(forget)
                    await send.send(_mark(f, block.identity, seg))
                if self._stop.is_set() or cursor.offset - start >= budget:
                    at_end = False
                    break
        except OSError as e:
            # Vanished since the scan, or unreadable: later scans try again.
            self._warn_unreadable(f.rel_path, e)
            self._stats.files_failed += 1
            return None
        self._unreadable.discard(f.rel_path)
        if not at_end:
            return False
        cursor.eof_size = f.size
        if f.whole and cursor.offset == f.size:
            # Read as the scan saw it: any later change to it is a rewrite.
            cursor.size, cursor.mtime_ns = f.size, f.mtime_ns
        if new:  # a new file with no complete line yet (empty, say): recorded all the same
            self._cursors[f.rel_path] = cursor
        ident = cursor.identity
        at_cursor = Segment(
            [], [], 0, cursor.offset, cursor.context, ident.tail_len, ident.tail_hash
        )
        await send.send(_mark(f, ident, at_cursor, file_done=True, live=live))
        return True

    def _blocks(self, f: SourceFile, start: int, budget: int) -> AsyncIterator[list[Line]]:
        """The complete lines of ``f`` from ``start``; a file read whole as one line."""
        if f.whole:
            return read_document(f.path, start, max_bytes=self._settings.max_document_bytes)
        return read_line_blocks(
            f.path,
            start,
            block_bytes=min(self._settings.read_block_bytes, budget),
            max_line_bytes=self._settings.max_line_bytes,
        )

    def _advance(self, cursor: Cursor, block: Block) -> None:
        """Move ``cursor`` past ``block``, and refuse the sessions it marked #no-index."""
        cursor.offset = block.end
        cursor.context = block.context
        cursor.identity = block.identity
        for session in block.marked:
            self._rules.privacy.tombstones.add_session(session)
        self._stats.excluded += sum(seg.excluded for seg in block.segments)


def _mark(
    f: SourceFile,
    identity: FileIdentity,
    seg: Segment,
    *,
    file_done: bool = False,
    live: bool = False,
) -> Mark:
    """The mark that follows a segment's chunks: the file's state after its lines."""
    return Mark(
        f.rel_path,
        seg.end,
        seg.context,
        dataclasses.replace(
            identity,
            device=f.device,
            inode=f.inode,
            tail_len=seg.tail_len,
            tail_hash=seg.tail_hash,
        ),
        f.size,
        lines=seg.lines,
        chunks=len(seg.chunks),
        quarantined=seg.quarantined,
        redacted=seg.redacted,
        file_done=file_done,
        live=live,
    )
