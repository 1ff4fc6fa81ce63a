"""What an import did, counted once and added up in two places.

:class:`Counts` is the one counter type: the checkpoint keeps one for the
state folder's whole life (``status``), and a run's :class:`Stats` extends it
with what only a run has (files seen, bytes, points). The ledger adds each
acknowledged batch's counts to both, so they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

__all__ = ["Counts", "Stats"]


@dataclasses.dataclass(slots=True)
class Counts:
    """Work acknowledged by the store (``embed_seconds`` in seconds of model time)."""

    lines: int = 0
    chunks: int = 0
    tokens_embedded: int = 0
    tokens_reused: int = 0
    embed_seconds: float = 0.0
    quarantined: int = 0
    secrets_redacted: int = 0
    #: Runs that stopped at OPERATIONAL_MEMORY_MB (exit 75).
    memory_ceiling_exits: int = 0

    def add(self, other: Counts) -> None:
        """Add ``other``'s counts to these."""
        for field in _COUNT_FIELDS:
            setattr(self, field, getattr(self, field) + getattr(other, field))


_COUNT_FIELDS = tuple(f.name for f in dataclasses.fields(Counts))


@dataclasses.dataclass(slots=True)
class Stats(Counts):
    """Counters of one run; logged at the end, periodically, and by the progress display."""

    files_seen: int = 0
    files_imported: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    #: Bytes to read this run, and bytes whose lines are acknowledged.
    bytes_total: int = 0
    bytes_done: int = 0
    points: int = 0
    #: Messages not embedded: excluded projects, #no-index and forgotten sessions.
    excluded: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        """Seconds since the run started."""
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
