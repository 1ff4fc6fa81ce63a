"""Lines in, chunks and marks out: one block of a transcript, segmented. Pure.

For each line: parse it (:mod:`~streaming_importer.sources.claude` for Claude Code,
:mod:`~streaming_importer.sources.codex`, :mod:`~streaming_importer.sources.gemini`; with
``REDACT_SECRETS`` secrets are replaced by markers there, before any cap, so no
secret reaches the model or the store), drop the messages that must not be
embedded (:mod:`~streaming_importer.state.privacy`: excluded projects, tombstones, a
``#no-index`` prompt, which also asks that what was stored of its session be
deleted), cut the messages into chunks that fit the model
(:mod:`~streaming_importer.embedding.chunk`) and give each its BM25 vector.

The block is cut into segments of about :data:`MARK_EVERY_CHUNKS` chunks,
each to be followed by its own mark, so a stop (signal, memory ceiling) loses
at most that much finished work, never a whole block. Each segment carries the
hash of the bytes just before its end, and the block the hash of the file's
first bytes: the identity that the tracker checks later
(:mod:`~streaming_importer.pipeline.tracking`).

The only I/O is reading those few bytes, through the ``read`` function the
caller passes in; nothing here mutates its arguments.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.chunk import Chunker
from streaming_importer.pipeline.items import Forget, Quarantined, WorkChunk
from streaming_importer.sources import parser_for
from streaming_importer.sources.files import HEAD_BYTES, TAIL_BYTES, FileIdentity, digest
from streaming_importer.sources.messages import FileContext, ParseLimits
from streaming_importer.sources.tail import Line
from streaming_importer.state.privacy import Privacy

__all__ = [
    "MARK_EVERY_CHUNKS",
    "Block",
    "Reader",
    "Rules",
    "Segment",
    "segment_block",
]

logger = logging.getLogger(__name__)

#: Chunks between two marks within a block.
MARK_EVERY_CHUNKS = 64

#: ``read(start, length)``: up to ``length`` bytes of the file from ``start``.
Reader = Callable[[int, int], bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Rules:
    """What segmenting needs besides the lines; the same for every block of a run."""

    limits: ParseLimits
    chunker: Chunker
    privacy: Privacy
    lexical: Bm25Encoder


@dataclasses.dataclass(slots=True)
class Segment:
    """Consecutive lines of one block, their chunks, and the state after them."""

    chunks: list[WorkChunk]
    quarantined: list[Quarantined]
    lines: int
    #: Byte offset just after the segment's last line.
    end: int
    context: FileContext
    tail_len: int
    tail_hash: str
    #: Secrets replaced by markers.
    redacted: int = 0
    #: Sessions found marked #no-index in these lines.
    forgets: list[Forget] = dataclasses.field(default_factory=list)
    #: Messages not embedded (excluded, forgotten or marked).
    excluded: int = 0


@dataclasses.dataclass(slots=True)
class Block:
    """A block's segments and the file's state after its last line."""

    segments: list[Segment]
    end: int
    context: FileContext
    #: The identity at ``end``: the head hash grows with the file, the tail is the last segment's.
    identity: FileIdentity

    @property
    def marked(self) -> list[str]:
        """Sessions marked #no-index in this block."""
        return [f.session for s in self.segments for f in s.forgets if f.session is not None]


def segment_block(
    lines: Sequence[Line],
    context: FileContext,
    identity: FileIdentity,
    rules: Rules,
    read: Reader,
) -> Block:
    """Segment ``lines`` (at least one, consecutive) of a file read so far with ``context``.

    ``identity`` is the file's as of the first line's start. Never raises on
    bad input: a bad line is listed in its segment's ``quarantined``.
    """
    segments: list[Segment] = []
    chunks: list[WorkChunk] = []
    quarantined: list[Quarantined] = []
    first = redacted = excluded = 0
    forgets: list[Forget] = []
    marked: set[str] = set()
    for i, line in enumerate(lines):
        if line.overlong:
            reason = "file over MAX_DOCUMENT_BYTES" if line.whole else "line too long"
            quarantined.append((line.start, line.end - line.start, reason))
        else:
            result = parser_for(context)(line.data, context, rules.limits)
            context = result.context
            if result.error is not None:
                # Recorded; a torn line still yields the record salvaged from it.
                quarantined.append((line.start, line.end - line.start, result.error))
            # A forked Codex session's copy of its parent's records: read for
            # the context, stored only with the parent (see ``discover``).
            replayed = line.start < context.replay_end
            for message in () if replayed else result.messages:
                allowed = message.session_id not in marked and rules.privacy.allows(
                    message, context.rel_path
                )
                if allowed and rules.privacy.marks_no_index(message):
                    # From now on nothing of this session is embedded, and
                    # what was stored of it before is deleted.
                    logger.info("session %s is marked #no-index", message.session_id)
                    marked.add(message.session_id)
                    forgets.append(Forget(session=message.session_id))
                    allowed = False
                if not allowed:
                    excluded += 1
                    continue
                # Secrets were replaced while parsing (before any cap), so none
                # reaches the model or the store.
                redacted += message.redacted
                for chunk in rules.chunker.chunk(message):
                    chunks.append(
                        WorkChunk(
                            chunk, context.rel_path, line.start, rules.lexical.document(chunk.text)
                        )
                    )
        if len(chunks) >= MARK_EVERY_CHUNKS or i == len(lines) - 1:
            tail = _tail_before(read, line)
            segments.append(
                Segment(
                    chunks,
                    quarantined,
                    i + 1 - first,
                    line.end,
                    context,
                    len(tail),
                    digest(tail),
                    redacted,
                    forgets,
                    excluded,
                )
            )
            chunks, quarantined, first, redacted, forgets, excluded = [], [], i + 1, 0, [], 0
    end = lines[-1].end
    if identity.head_len < min(end, HEAD_BYTES):
        head = read(0, min(end, HEAD_BYTES))
        identity = dataclasses.replace(identity, head_len=len(head), head_hash=digest(head))
    last = segments[-1]
    identity = dataclasses.replace(identity, tail_len=last.tail_len, tail_hash=last.tail_hash)
    return Block(segments, end, context, identity)


def _tail_before(read: Reader, line: Line) -> bytes:
    """The bytes just before ``line.end``: the end of that line, newline included."""
    if line.whole and not line.overlong:
        return line.data[-TAIL_BYTES:]
    if line.overlong:
        n = min(TAIL_BYTES, line.end - line.start)
        return read(line.end - n, n)
    return (line.data + b"\n")[-TAIL_BYTES:]
