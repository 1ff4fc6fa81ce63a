"""The messages around a search hit, read from its transcript (MCP ``expand``). Blocking I/O.

A hit names its transcript (``path``, as stored), the byte offset of its line
and its ``turn``. A transcript the agent deleted is read from the state
folder's archive (:mod:`~streaming_importer.state.archive`), byte for byte
the same. A transcript that is a log (Claude Code, Codex) is read
around the offset, at most :data:`WINDOW_BYTES` each way; one read whole (a
Gemini CLI chat) is parsed whole and cut around the hit's turn. What the
importer would not store (an excluded project, a forgotten or ``#no-index``
session) is not shown either, and texts are redacted as when stored.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, BinaryIO

from streaming_importer.ops.config import Settings
from streaming_importer.sources import Parser, parser_for
from streaming_importer.sources.discover import start_context
from streaming_importer.sources.files import SourceFile, locate
from streaming_importer.sources.messages import FileContext, Message, ParseLimits, file_context_for
from streaming_importer.state.archive import Archive
from streaming_importer.state.privacy import Privacy, Tombstones
from streaming_importer.store import Sink, Where

__all__ = [
    "STORED_POINTS",
    "WINDOW_BYTES",
    "ExpandError",
    "Transcript",
    "messages_around",
    "open_transcript",
    "stored_around",
]

#: Bytes read around a hit, each way, at most.
WINDOW_BYTES = 4 << 20
#: Stored chunks read around a hit whose transcript is on another machine, at most.
STORED_POINTS = 1000


class ExpandError(Exception):
    """The hit's transcript cannot be read: not one of ours, or gone."""


@dataclasses.dataclass(slots=True)
class Transcript:
    """A transcript opened to be read as it was stored (redacted, rules applied)."""

    path: Path
    #: Read whole (a Gemini chat), not by lines.
    whole: bool
    context: FileContext
    limits: ParseLimits
    privacy: Privacy
    parse: Parser
    #: Read from the state folder's archive: the agent deleted the file.
    archive: Archive | None = None

    @property
    def archived(self) -> bool:
        return self.archive is not None

    def open(self) -> BinaryIO:
        """The transcript's bytes: the file, or what the archive kept of it."""
        if self.archive is not None:
            return self.archive.open(self.context.rel_path)
        return self.path.open("rb")

    def size(self) -> int:
        """The transcript's length in bytes."""
        if self.archive is not None:
            return self.archive.end(self.context.rel_path)
        return self.path.stat().st_size

    def document(self, max_bytes: int) -> list[Message]:
        """Every message of a transcript read whole that may be shown."""
        if self.size() > max_bytes:
            raise ExpandError(f"{self.context.rel_path!r} is larger than MAX_DOCUMENT_BYTES")
        with self.open() as f:
            result = self.parse(f.read(), self.context, self.limits)
        return self.shown(result.messages, self.context)

    def shown(
        self, messages: tuple[Message, ...], context: FileContext, kinds: tuple[str, ...] = ()
    ) -> list[Message]:
        """The messages that may be shown (of ``kinds``, if given).

        A ``#no-index`` prompt hides its session from then on.
        """
        for m in messages:
            if self.privacy.marks_no_index(m):
                self.privacy.tombstones.add_session(m.session_id)
        return [
            m
            for m in messages
            if self.privacy.allows(m, context.rel_path) and (not kinds or m.kind in kinds)
        ]


def open_transcript(settings: Settings, tombstones: Tombstones, path: str) -> Transcript:
    """The transcript stored as ``path``; ExpandError if it is not one of ours, or gone."""
    found = locate(settings.source_folders, path)
    if found is None:
        raise ExpandError(f"{path!r} is not a transcript in a folder that is read")
    file, whole = found
    archive = None
    if not file.is_file():
        archive = Archive(settings.archive_dir)
        if archive.get(path) is None:
            raise ExpandError(f"{path!r} does not exist (moved or deleted?) and is not archived")
    limits = ParseLimits(
        tool_result_max_chars=settings.tool_result_max_chars,
        tool_call_max_chars=settings.tool_call_max_chars,
        redact_secrets=settings.redact_secrets,
    )
    context = file_context_for(path)
    transcript = Transcript(
        file,
        whole,
        context,
        limits,
        Privacy(settings.exclude_projects, tombstones),
        parser_for(context),
        archive,
    )
    transcript.context = _resolved_context(settings, transcript)
    return transcript


def _resolved_context(settings: Settings, transcript: Transcript) -> FileContext:
    """The file's project and session as the importer resolves them, for any line of it.

    A Gemini chat's project comes from ``projects.json`` (the importer's own
    :func:`~streaming_importer.sources.discover.start_context`); a Codex
    rollout's from its first line, its ``session_meta``, which a page or a hit
    in the middle of the file would otherwise never see. Without them an
    excluded or forgotten project would be judged by a folder's name.
    """
    context, path = transcript.context, transcript.context.rel_path
    if context.agent == "gemini-cli":
        found = SourceFile(path, transcript.path, 0, 0, 0, 0, context.agent, transcript.whole)
        return start_context(found, settings.source_folders, settings.max_line_bytes)
    if context.agent != "codex" or transcript.whole:
        return context
    with transcript.open() as f:
        first = f.readline(settings.max_line_bytes + 1)
    if not first.endswith(b"\n"):
        return context
    learned = transcript.parse(first, context, transcript.limits).context
    return dataclasses.replace(
        context,
        session_id=learned.session_id,
        project=learned.project,
        git_branch=learned.git_branch,
        named=learned.named,
    )


def messages_around(
    settings: Settings,
    tombstones: Tombstones,
    path: str,
    offset: int,
    before: int,
    after: int,
    turn: int | None = None,
) -> list[dict[str, Any]]:
    """The ``before`` messages before the hit and the hit's with ``after`` more."""
    transcript = open_transcript(settings, tombstones, path)
    if transcript.whole:
        shown = transcript.document(settings.max_document_bytes)
        at = next((i for i, m in enumerate(shown) if turn is None or m.turn >= turn), len(shown))
        return [_public(m) for m in shown[max(at - before, 0) : at + after + 1]]
    with transcript.open() as f:
        start = max(offset - WINDOW_BYTES, 0)
        f.seek(start)
        earlier = f.read(offset - start).split(b"\n")
        if start > 0:
            earlier = earlier[1:]  # a partial first line
        later = f.read(WINDOW_BYTES).split(b"\n")
    previous, context = _read(transcript, earlier, transcript.context)
    following, _ = _read(transcript, later, context, enough=after + 1)
    # The hit's own line starts ``following``: it is shown with ``after`` more.
    return [_public(m) for m in (previous[-before:] if before else []) + following[: after + 1]]


def stored_around(
    sink: Sink, source: str, path: str, offset: int, before: int, after: int, turn: int | None
) -> list[dict[str, Any]]:
    """Like :func:`messages_around`, from the text stored in the collection.

    For a hit written on another machine (``source``), whose transcript is
    not here: the stored chunks of its transcript within :data:`WINDOW_BYTES`
    of the hit, joined into their messages (a long message's chunks overlap a
    little), each marked ``"from": "stored text"``. What was never stored
    (tool output past its cut, thinking not kept, forgotten sessions) is not
    there.
    """
    where = Where(
        {"source": source, "path": path},
        offsets=(max(offset - WINDOW_BYTES, 0), offset + WINDOW_BYTES),
    )
    chunks = sorted(
        (h.payload for h in sink.scroll(where, STORED_POINTS)),
        key=lambda p: (
            p.get("offset", 0),
            p.get("turn") or 0,
            p.get("part") or 0,
            p.get("chunk_index", 0),
        ),
    )
    messages: dict[tuple[Any, ...], dict[str, Any]] = {}
    for p in chunks:
        key = (p.get("offset"), p.get("turn"), p.get("part"), p.get("message_uuid"))
        if key in messages:
            messages[key]["text"] += " " + str(p.get("text", ""))
            continue
        messages[key] = {
            **{field: p.get(field) for field in _SHOWN},
            "text": str(p.get("text", "")),
            "from": "stored text",
        }
    if not messages:
        raise ExpandError(f"nothing of {path!r} from {source!r} is stored")
    keys = list(messages)
    at = next(
        (
            i
            for i, k in enumerate(keys)
            if k[0] >= offset and (turn is None or k[0] > offset or (k[1] or 0) >= turn)
        ),
        len(keys),
    )
    return [messages[k] for k in keys[max(at - before, 0) : at + after + 1]]


def _read(
    transcript: Transcript, lines: list[bytes], context: FileContext, *, enough: int | None = None
) -> tuple[list[Message], FileContext]:
    """The messages of ``lines`` that may be shown (stopping at ``enough``), and the context."""
    found: list[Message] = []
    for line in lines:
        if line.strip():
            result = transcript.parse(line, context, transcript.limits)
            context = result.context
            found.extend(transcript.shown(result.messages, context))
            if enough is not None and len(found) >= enough:
                break
    return found, context


#: What ``expand`` shows of a message, read from its transcript or from its payload.
_SHOWN = ("kind", "role", "timestamp", "message_uuid", "turn", "text")


def _public(m: Message) -> dict[str, Any]:
    return {field: getattr(m, field) for field in _SHOWN}
