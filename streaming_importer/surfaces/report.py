"""The ``status`` report, one definition for the CLI and the running importer."""

from __future__ import annotations

import dataclasses
from typing import Any

from streaming_importer.ops.config import Settings
from streaming_importer.ops.values import mask_url
from streaming_importer.search.query import agent_where
from streaming_importer.sources.files import AGENTS, scan_all
from streaming_importer.sources.redact import RULESET
from streaming_importer.state.archive import Archive
from streaming_importer.state.checkpoint import Checkpoint
from streaming_importer.store import Sink

__all__ = [
    "MAX_SOURCES",
    "StoreCounts",
    "archive_status",
    "in_units",
    "redaction_status",
    "status_report",
    "store_counts",
]

#: Machines (``SOURCE_NAME``) a status lists, the ones with most points first.
MAX_SOURCES = 64


@dataclasses.dataclass(frozen=True, slots=True)
class StoreCounts:
    """Points in the collection: all, of each agent read here, of each machine."""

    points: int
    agents: dict[str, int]
    sources: dict[str, int]
    #: The redaction rule set the stored text was made under (None: not recorded).
    redaction: str | None = None


def store_counts(sink: Sink, settings: Settings) -> StoreCounts:
    """Count the collection's points (blocking; the store must be open)."""
    return StoreCounts(
        points=sink.count(),
        agents={AGENTS[name]: sink.count(agent_where(AGENTS[name])) for name in settings.sources},
        sources=sink.tally("source", MAX_SOURCES),
        redaction=sink.stored_redaction(),
    )


def redaction_status(settings: Settings, stored: str | None, points: int) -> dict[str, Any]:
    """Whether the stored text is redacted under the rules this version applies.

    ``current`` is False when text was stored under another rule set (or
    before rule sets were recorded): ``redact-again`` brings it up to date.
    """
    if not settings.redact_secrets:
        return {"rules": None, "stored": stored, "current": True, "note": "REDACT_SECRETS=false"}
    current = stored == RULESET or (stored is None and points == 0)
    note = (
        None
        if current
        else (
            f"stored text predates the redaction rules ({stored or 'not recorded'}); "
            "run `python -m streaming_importer redact-again`"
        )
    )
    return {"rules": RULESET, "stored": stored, "current": current, "note": note}


def status_report(
    settings: Settings,
    state: Checkpoint,
    counts: StoreCounts,
    model: dict[str, Any] | None,
) -> dict[str, Any]:
    """What is imported and what is pending. Scans the folders (blocking I/O).

    ``agents`` says, per agent read, its files, those imported, and (given
    ``counts``) its points; ``sources``, the points of each machine writing
    to the collection (``SOURCE_NAME``; several share a Qdrant server).
    """
    files = scan_all(settings.source_folders)
    agents: dict[str, dict[str, Any]] = {
        AGENTS[s.name]: {"folder": str(s.root), "files": 0, "files_imported": 0}
        for s in settings.source_folders
    }
    for agent, count in counts.agents.items():
        agents[agent]["points"] = count
    done = pending = 0
    for f in files:
        agents[f.agent]["files"] += 1
        agents[f.agent]["files_imported"] += f.rel_path in state.files
        saved = state.files.get(f.rel_path)
        fits = saved is not None and saved.identity.inode == f.inode and saved.offset <= f.size
        offset = saved.offset if saved is not None and fits else 0
        done += offset
        pending += f.size - offset
    return {
        "conversations_dir": str(settings.conversations_dir),
        "files": len(files),
        "files_imported": sum(1 for f in files if f.rel_path in state.files),
        "bytes_done": done,
        "pending_bytes": pending,
        "points": counts.points,
        "agents": agents,
        "source_name": settings.source_name,
        "sources": counts.sources,
        "quarantined": state.totals.quarantined,
        "secrets_redacted": state.totals.secrets_redacted,
        "redaction": redaction_status(settings, counts.redaction, counts.points),
        "forgotten_sessions": len(state.forgotten.sessions),
        "forgotten_projects": len(state.forgotten.projects),
        "lines": state.totals.lines,
        "chunks": state.totals.chunks,
        "tokens_embedded": state.totals.tokens_embedded,
        "tokens_reused": state.totals.tokens_reused,
        "embed_seconds": round(state.totals.embed_seconds, 3),
        "model": model,
        "collection": settings.collection_name,
        "store": mask_url(settings.qdrant_url) if settings.qdrant_url else str(settings.store_dir),
        "last_import": state.last_import,
        "archive": archive_status(settings, {f.rel_path for f in files}),
    }


def archive_status(settings: Settings, present: set[str]) -> dict[str, Any]:
    """What the archive keeps: transcripts, of them the agents deleted, bytes on disk."""
    if settings.archive_dir is None:
        return {"enabled": False, "transcripts": 0, "deleted_by_agent": 0, "bytes": 0}
    sizes = Archive(settings.archive_dir).sizes()
    return {
        "enabled": True,
        "folder": str(settings.archive_dir),
        "transcripts": len(sizes),
        "deleted_by_agent": sum(rel_path not in present for rel_path in sizes),
        "bytes": sum(sizes.values()),
    }


def in_units(size: float) -> str:
    """``size`` bytes as a person reads them: ``812 B``, ``12.2 KiB``, ``6.9 MiB``, ``1.4 GiB``."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
