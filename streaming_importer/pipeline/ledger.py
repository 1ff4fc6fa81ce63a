"""The ledger: what the store has acknowledged, written down.

The store stage hands it each batch once its points are acknowledged, then
the batch's events in order; only then do they reach the checkpoint:

- a :class:`~streaming_importer.pipeline.items.Mark` advances its file's
  :class:`~streaming_importer.state.checkpoint.FileState` (offset, identity, parser
  context) and the counters, and its bad lines go to the quarantine log;
- a :class:`~streaming_importer.pipeline.tracking.Control` moves or drops a file's state
  (after the store moved or deleted its points);
- a :class:`~streaming_importer.pipeline.items.Forget` becomes a tombstone (after the
  store deleted its points), so it is never imported again.

Counts go to the run's :class:`~streaming_importer.state.counters.Stats` and the
checkpoint's life totals at once. :meth:`Ledger.save` writes the checkpoint
atomically; the store stage calls it after flushing the store.
"""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path
from typing import Any

import orjson

from streaming_importer.pipeline.items import Batch, Forget, Mark, Quarantined
from streaming_importer.pipeline.tracking import Control
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.archive import Archive
from streaming_importer.state.counters import Counts, Stats

__all__ = ["QUARANTINE_MAX_BYTES", "Ledger"]

logger = logging.getLogger(__name__)

#: Quarantine log size past which only counting goes on, in bytes.
QUARANTINE_MAX_BYTES = 16 << 20


class Ledger:
    """Applies acknowledged work to the checkpoint and the counters."""

    def __init__(
        self,
        state: ckpt.Checkpoint,
        stats: Stats,
        *,
        checkpoint_path: Path,
        quarantine_path: Path,
        save_every_lines: int,
        archive: Archive | None = None,
    ) -> None:
        self.state = state
        self.archive = archive or Archive(None)
        self.stats = stats
        self._checkpoint_path = checkpoint_path
        self._quarantine_path = quarantine_path
        self._save_every_lines = save_every_lines
        self._lines_since_save = 0
        #: Unix time of the last save (this run, else the last import's), or None.
        self.last_checkpoint = _unix_time(state.last_import)

    def count(self, counts: Counts) -> None:
        """Add ``counts`` to this run's and to the state folder's."""
        self.stats.add(counts)
        self.state.totals.add(counts)

    def stored(self, batch: Batch) -> None:
        """Count ``batch``'s points: the store has acknowledged them."""
        n = len(batch.points)
        self.stats.points += n
        self.count(
            Counts(
                chunks=n,
                tokens_embedded=batch.tokens,
                tokens_reused=batch.reused,
                embed_seconds=batch.seconds,
            )
        )

    def apply(self, mark: Mark) -> None:
        """Advance the mark's file: its lines are all stored."""
        files = self.state.files
        saved = files.get(mark.rel_path)
        if saved is None:
            saved = ckpt.FileState(offset=0, identity=mark.identity, context={})
            files[mark.rel_path] = saved
        self.stats.bytes_done += max(mark.end - saved.offset, 0)
        saved.offset = mark.end
        saved.identity = mark.identity
        saved.size = max(mark.size, mark.end)
        saved.context = mark.context.to_json()
        saved.lines += mark.lines
        saved.chunks += mark.chunks
        self._lines_since_save += mark.lines
        self.count(
            Counts(
                lines=mark.lines,
                quarantined=len(mark.quarantined),
                secrets_redacted=mark.redacted,
            )
        )
        if mark.quarantined:
            self._quarantine(mark.rel_path, mark.quarantined)
        if mark.file_done:
            self.stats.files_imported += 1

    def control(self, control: Control) -> None:
        """Follow a file's identity change: the store has moved or deleted its points."""
        files = self.state.files
        if control.action == "move":
            assert control.new_path is not None
            moved = files.pop(control.rel_path, None)
            if moved is not None:
                moved.context = {**moved.context, "rel_path": control.new_path}
                files[control.new_path] = moved
            self.archive.move(control.rel_path, control.new_path)
        else:  # reset (read again from byte 0) or forget (the file is gone)
            files.pop(control.rel_path, None)
            if control.delete_points:  # DELETE_REMOVED_FILES: its archive goes too
                self.archive.remove(control.rel_path)

    def forgotten(self, forget: Forget, sessions: set[str]) -> None:
        """Keep the tombstone: the store has deleted the points of ``sessions``.

        A project's sessions are kept too, so a later point of one of them is
        refused even where it names no project (a summary line).
        """
        tombstones = self.state.forgotten
        for session in sessions:
            tombstones.add_session(session)
        if forget.project is not None:
            tombstones.add_project(forget.project)
        logger.info(
            "forgot %s: its points are deleted and it will not be imported again",
            forget.describe(),
        )

    def refuses(self, payload: dict[str, Any]) -> bool:
        """Whether a point with ``payload`` belongs to something forgotten."""
        return self.state.forgotten.cover(str(payload.get("session_id")), payload.get("project"))

    def save_due(self) -> bool:
        """Whether ``CHECKPOINT_EVERY_LINES`` lines were applied since the last save."""
        return self._lines_since_save >= self._save_every_lines

    def save(self) -> None:
        """Write the checkpoint (blocking). Raises CheckpointError if it cannot be written."""
        now = datetime.datetime.now(datetime.UTC)
        self.state.last_import = now.isoformat(timespec="seconds")
        ckpt.save(self._checkpoint_path, self.state)
        self._lines_since_save = 0
        self.last_checkpoint = time.time()

    def _quarantine(self, rel_path: str, bad: list[Quarantined]) -> None:
        path = self._quarantine_path
        for offset, length, reason in bad:
            logger.warning(
                "quarantined %s at byte %d (%d bytes): %s", rel_path, offset, length, reason
            )
        try:
            if path.exists() and path.stat().st_size > QUARANTINE_MAX_BYTES:
                return
            with path.open("ab") as f:
                for offset, length, reason in bad:
                    record = {"path": rel_path, "offset": offset, "length": length}
                    f.write(orjson.dumps({**record, "reason": reason}) + b"\n")
        except OSError as e:
            logger.warning("cannot write %s: %s", path, e)


def _unix_time(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None
