"""What travels between the stages, in order::

    intake ──Item──▶ embed ──Batch──▶ store ──▶ ledger

An :data:`Item` is a chunk to embed, a :class:`Mark` ("the lines up to here
are all in the chunks before me"), a :class:`~streaming_importer.pipeline.tracking.Control`
(a transcript moved, shrank, was replaced or deleted) or a :class:`Forget`.
A :class:`Batch` is embedded points with the marks and controls that came
with them: the ledger applies those only once the store has acknowledged the
points, so the checkpoint is never ahead of the store.
"""

from __future__ import annotations

import dataclasses

import anyio

from streaming_importer.embedding.chunk import Chunk
from streaming_importer.pipeline.tracking import Control
from streaming_importer.sources.files import FileIdentity
from streaming_importer.sources.messages import FileContext
from streaming_importer.state.privacy import project_field
from streaming_importer.store import Point, Sink, Sparse, Where

__all__ = ["Batch", "Event", "Forget", "Item", "LiveWork", "Mark", "Quarantined", "WorkChunk"]

#: Points read at a time when a project is forgotten.
_PAGE_POINTS = 1000

#: A bad line: (byte offset, length in bytes, reason).
Quarantined = tuple[int, int, str]


@dataclasses.dataclass(slots=True)
class WorkChunk:
    """A chunk to embed, and where it came from."""

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
    #: The file and its content as of ``end``.
    identity: FileIdentity
    #: The file's size when it was read, in bytes.
    size: int
    lines: int
    chunks: int
    #: Bad lines among them.
    quarantined: list[Quarantined]
    #: Secrets replaced by markers in their text.
    redacted: int = 0
    #: The file was read to its end.
    file_done: bool = False
    #: It ends a live slice (see :class:`LiveWork`).
    live: bool = False


@dataclasses.dataclass(slots=True, eq=False)
class Forget:
    """Delete a session's or a project's points, then keep its tombstone.

    Travels down the pipeline after the chunks before it, so nothing queued
    earlier is stored after the deletion.
    """

    session: str | None = None
    project: str | None = None
    #: Set once the points are deleted and the tombstone saved, or on failure.
    done: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    #: Why it was not done, if it was not.
    error: str | None = None

    def __post_init__(self) -> None:
        # The project as search names it ("shop/" is "shop"), so the points
        # found and the tombstone kept are the same project a search shows.
        if self.project is not None:
            self.project = project_field(self.project)[1]

    def fail(self, reason: str) -> None:
        """Answer the forget with ``reason`` instead of doing it."""
        self.error = reason
        self.done.set()

    def describe(self) -> str:
        return f"session {self.session}" if self.session else f"project {self.project}"

    def delete_points(self, sink: Sink, source: str) -> set[str]:
        """Delete the points (blocking; the store thread's work); returns the sessions deleted.

        A project's sessions are deleted whole, so lines that came before the
        session's first working directory (a summary, with no project) go too.
        Its points are read a page at a time: each page's sessions are deleted,
        so the next page holds the rest, however large the project.
        """
        if self.session is not None:
            sink.delete_where(Where({"source": source, "session_id": self.session}))
            return {self.session}
        assert self.project is not None
        key, value = project_field(self.project)
        of_project = Where({"source": source, key: value})
        deleted: set[str] = set()
        while page := sink.scroll(of_project, _PAGE_POINTS):
            sessions = {str(h.payload.get("session_id")) for h in page} - deleted
            if not sessions:  # points of deleted sessions still listed: delete them plainly
                sink.delete_where(of_project)
                break
            sink.delete_where(Where({"source": source, "session_id": tuple(sorted(sessions))}))
            deleted |= sessions
        return deleted


#: What the intake sends to the embed stage.
Item = WorkChunk | Mark | Control | Forget
#: What rides along with a batch's points, applied in order once they are stored.
Event = Mark | Control | Forget


@dataclasses.dataclass(slots=True)
class Batch:
    """Embedded points and the events that follow them."""

    points: list[Point]
    #: Tokens the model computed.
    tokens: int
    events: list[Event]
    #: Tokens whose vectors came from the cache.
    reused: int = 0
    #: Seconds the model spent on these points.
    seconds: float = 0.0


class LiveWork:
    """Live slices read by the intake and not yet stored: index builds wait for none.

    A slice is live when the importer was watching, not catching up, and the
    whole rest of the file fits in it: an append a person may search for in
    a moment. It is counted from before its first line is read until the
    store stage has stored its last mark (a :class:`Mark` with ``live``).
    """

    def __init__(self) -> None:
        #: Live slices read or being read and not yet stored.
        self.waiting = 0

    def begin(self) -> None:
        """A live slice is about to be read."""
        self.waiting += 1

    def end(self) -> None:
        """A live slice was stored, or will not be."""
        self.waiting = max(0, self.waiting - 1)
