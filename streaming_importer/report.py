"""The ``status`` report, one definition for the CLI and the running importer."""

from __future__ import annotations

from typing import Any

from streaming_importer.checkpoint import Checkpoint
from streaming_importer.config import Settings
from streaming_importer.source import scan
from streaming_importer.values import mask_url

__all__ = ["status_report"]


def status_report(
    settings: Settings, state: Checkpoint, points: int | None, model: dict[str, Any] | None
) -> dict[str, Any]:
    """What is imported and what is pending. Scans the folder (blocking I/O)."""
    files = scan(settings.conversations_dir) if settings.conversations_dir.is_dir() else []
    done = pending = 0
    for f in files:
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
        "points": points,
        "quarantined": state.totals.quarantined,
        "secrets_redacted": state.totals.secrets_redacted,
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
    }
