"""Chunks -> points: deterministic ids and the payload a search shows.

Point identity: ``uuid5(source, session, record key, part, chunk index)``.
The record key is the record's own ``uuid`` (a ``summary`` line, which has
none, is keyed by its ``leafUuid``, anything else by a hash of its bytes).
So importing the same bytes twice writes the same ids (an upsert, never a
second point), a transcript that is renamed or moved keeps its ids (the path
is payload, not identity), and the source name keeps the points of importers
on different machines apart on one shared server. The session id is part of
the identity because a resumed session may copy records, uuid and all, into a
new file: each file's points then stand for that file.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from streaming_importer.embedding.chunk import Chunk
from streaming_importer.store import Point, Sparse

__all__ = ["NAMESPACE", "payload_for", "point_id"]

#: Fixed namespace of every point id (uuid5 of the project's name).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/streaming-importer/point-id/v1")


def point_id(source: str, chunk: Chunk) -> str:
    """The id of a chunk's point, a UUID string."""
    m = chunk.message
    name = "\x1f".join((source, m.session_id, m.record_key, str(m.part), str(chunk.index)))
    return str(uuid.uuid5(NAMESPACE, name))


def payload_for(source: str, chunk: Chunk, rel_path: str, offset: int) -> dict[str, Any]:
    """The payload stored with a chunk's vector.

    ``offset`` is the byte offset of the line the chunk came from, in the file
    at ``rel_path`` (relative to the conversations folder).
    """
    m = chunk.message
    return {
        "text": chunk.text,
        "source": source,
        "agent": m.agent,
        "project": m.project,
        "project_name": PurePosixPath(m.project).name if m.project else None,
        "cwd": m.cwd,
        "session_id": m.session_id,
        "parent_session_id": m.parent_session_id,
        "agent_id": m.agent_id,
        "role": m.role,
        "kind": m.kind,
        "timestamp": m.timestamp,
        "message_uuid": m.message_uuid,
        "git_branch": m.git_branch,
        "path": rel_path,
        "offset": offset,
        "part": m.part,
        "turn": m.turn,
        "chunk_index": chunk.index,
        "tokens": chunk.n_tokens,
        "is_sidechain": m.is_sidechain,
        "is_compact_summary": m.is_compact_summary,
    }


def to_point(
    source: str,
    chunk: Chunk,
    rel_path: str,
    offset: int,
    vector: list[float],
    sparse: Sparse | None = None,
) -> Point:
    """The point of a chunk: its id, dense vector, BM25 vector and payload."""
    payload = payload_for(source, chunk, rel_path, offset)
    return Point(point_id(source, chunk), vector, payload, sparse)
