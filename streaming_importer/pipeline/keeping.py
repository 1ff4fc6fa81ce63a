"""The intake's copies into the archive: each slice as it is read, and what came before.

A slice's bytes are kept before its mark goes down the pipeline, so the
archive never trails the checkpoint. Nothing of a refused session (excluded,
forgotten, ``#no-index``) is kept, nor a file restored from the archive
(``reindex``). Transcripts imported before the archive was (an upgrade, or
``ARCHIVE`` turned on) are kept after the first pass, once per run, from the
agents' folders while those still have them. Blocking I/O runs in worker
threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import anyio
import anyio.to_thread

from streaming_importer.pipeline.tracking import Cursor
from streaming_importer.sources.files import SourceFile
from streaming_importer.sources.messages import FileContext
from streaming_importer.state.archive import Archive
from streaming_importer.state.privacy import Privacy

__all__ = ["Keeper"]


class Keeper:
    """What the intake keeps in the archive."""

    def __init__(self, archive: Archive, privacy: Privacy, stop: anyio.Event) -> None:
        self._archive = archive
        self._privacy = privacy
        self._stop = stop

    def wants(self, f: SourceFile, context: FileContext) -> bool:
        """Whether ``f``'s bytes are kept: archive on, not restored from it, not refused."""
        return (
            self._archive.enabled
            and not f.archived
            and self._privacy.allows_session(context.session_id, context.project)
        )

    async def keep(self, f: SourceFile, start: int, end: int, context: FileContext) -> None:
        """Keep ``f``'s bytes from ``start`` to ``end`` (read whole: all of it)."""
        if self.wants(f, context):
            await anyio.to_thread.run_sync(
                functools.partial(
                    self._archive.keep,
                    f.rel_path,
                    f.path,
                    start,
                    end,
                    context.to_json(),
                    whole=f.whole,
                )
            )

    async def keep_imported(
        self,
        cursors: Mapping[str, Cursor],
        files: Mapping[str, SourceFile],
        unreadable: Callable[[str, OSError], None],
    ) -> None:
        """Keep what the cursors count and the archive does not have yet."""
        for rel_path, cursor in list(cursors.items()):
            f = files.get(rel_path)
            if self._stop.is_set() or f is None or not self.wants(f, cursor.context):
                continue
            if f.whole and f.size != cursor.offset:
                continue  # rewritten since: the next pass reads and keeps it
            kept = await anyio.to_thread.run_sync(self._archive.end, rel_path)
            if kept < cursor.offset:
                try:
                    await self.keep(f, kept, cursor.offset, cursor.context)
                except OSError as e:
                    unreadable(rel_path, e)
