"""What the web page browses: sessions imported, a transcript a page at a time. Blocking I/O.

:func:`sessions` lists the transcripts the checkpoint knows and those only
the archive still has (``archived``: the agent deleted them), each with its
session, project, agent, size and last change, newest first, with the first
prompt read from the start of each file on the page asked for. :func:`page`
reads one transcript from a byte offset (a file read whole: from a message
index), at most ``limit`` messages, parsed and filtered exactly as when they
were stored (redacted; nothing of an excluded project or a forgotten or
``#no-index`` session), so long sessions load in pages, never whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from streaming_importer.ops.config import Settings
from streaming_importer.search.expand import ExpandError, open_transcript
from streaming_importer.search.results import resume_command
from streaming_importer.sources.files import locate
from streaming_importer.sources.messages import FileContext, Message
from streaming_importer.state.archive import Archive
from streaming_importer.state.checkpoint import FileState
from streaming_importer.state.privacy import Privacy, Tombstones

__all__ = ["MAX_PAGE", "page", "sessions"]

#: Messages (or sessions) per page at most.
MAX_PAGE = 200
#: Bytes read per page of a transcript at most (a page ends early past them).
_PAGE_BYTES = 1 << 20
#: Bytes read from a file's start to find its first prompt.
_HEAD_BYTES = 256 << 10


def sessions(
    settings: Settings,
    files: Mapping[str, FileState],
    tombstones: Tombstones,
    *,
    project: str | None = None,
    start: int = 0,
    limit: int = 50,
    archive: Archive | None = None,
) -> dict[str, Any]:
    """Sessions newest first (by their file's last change), ``limit`` from ``start``.

    ``archive``: one kept between calls remembers where its frames are.
    """
    if not 1 <= limit <= MAX_PAGE or start < 0:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, start at least 0")
    privacy = Privacy(settings.exclude_projects, tombstones)
    archive = archive or Archive(settings.archive_dir)
    # The checkpoint's transcripts, and those the agent deleted that the archive kept
    # (with the time of their last slice kept: their file is gone).
    known: dict[str, tuple[dict[str, Any], int, float | None]] = {
        rel: (state.context, state.offset, None) for rel, state in files.items()
    }
    for kept in archive.kept(besides=files):
        known[kept.rel_path] = (kept.context, kept.end, kept.mtime)
    rows: list[dict[str, Any]] = []
    for rel_path, (saved, size, kept_at) in known.items():
        context = FileContext.from_json(saved)
        if context.is_subagent or not privacy.allows_session(context.session_id, context.project):
            continue  # a subagent's transcript is not a session of its own
        if project and project not in (context.project, os.path.basename(context.project or "")):
            continue
        found = locate(settings.source_folders, rel_path)
        archived = False
        try:
            changed = found[0].stat().st_mtime if found else 0.0
        except OSError:
            if kept_at is None and (since := archive.get(rel_path)) is not None:
                kept_at = since.mtime  # deleted since the checkpoint last saw it
            archived, changed = kept_at is not None, kept_at or 0.0
        rows.append(
            {
                "path": rel_path,
                "session_id": context.session_id,
                "project": context.project,
                "agent": context.agent,
                "git_branch": context.git_branch,
                "bytes": size,
                "changed": changed,
                "archived": archived,
            }
        )
    rows.sort(key=lambda r: -r["changed"])
    shown = rows[start : start + limit]
    for row in shown:
        try:
            first = page(
                settings, tombstones, row["path"], 0, 1, kinds=("prompt",), window=_HEAD_BYTES
            )["messages"]
        except ExpandError:  # deleted since, and not archived
            first = []
        row["first_prompt"] = first[0]["text"] if first else None
        row["resume"] = resume_command(row)
    return {"sessions": shown, "total": len(rows), "start": start}


def page(
    settings: Settings,
    tombstones: Tombstones,
    path: str,
    offset: int,
    limit: int,
    *,
    kinds: tuple[str, ...] = (),
    window: int = _PAGE_BYTES,
) -> dict[str, Any]:
    """Up to ``limit`` messages of ``path`` from ``offset``, and where the next page starts.

    ``offset`` is a byte offset (a line's start, as a hit gives it), or for a
    file read whole the index of its first message. ``next`` is None at the end.
    """
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, offset at least 0")
    transcript = open_transcript(settings, tombstones, path)
    context = transcript.context
    shown: list[dict[str, Any]] = []
    if transcript.whole:
        messages = transcript.document(settings.max_document_bytes)
        kept = [_public(m, 0) for m in messages if not kinds or m.kind in kinds]
        end = offset + limit
        more = end if end < len(kept) else None
        return {"messages": kept[offset:end], "next": more, "archived": transcript.archived}
    with transcript.open() as f:
        f.seek(offset)
        data = f.read(window)
    position = offset
    # The last piece is a line cut by the window, or still being written.
    for line in data.split(b"\n")[:-1]:
        start, position = position, position + len(line) + 1
        if not line.strip():
            continue
        result = transcript.parse(line, context, transcript.limits)
        context = result.context
        shown.extend(_public(m, start) for m in transcript.shown(result.messages, context, kinds))
        if len(shown) >= limit:
            return {"messages": shown, "next": position, "archived": transcript.archived}
    at_end = len(data) < window
    if position == offset and not at_end:
        # One line longer than the window: step over it (its rest parses as
        # no record) rather than ask for the same page again.
        position = offset + len(data)
    more = None if at_end else position
    return {"messages": shown, "next": more, "archived": transcript.archived}


def _public(m: Message, offset: int) -> dict[str, Any]:
    return {
        "kind": m.kind,
        "role": m.role,
        "timestamp": m.timestamp,
        "turn": m.turn,
        "offset": offset,
        "part": m.part,
        "text": m.text,
    }
