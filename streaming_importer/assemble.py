"""The searchable parts of one record -> messages: shared by every agent's parser. Pure.

Each parser (:mod:`~streaming_importer.parse` for Claude Code,
:mod:`~streaming_importer.codex`, :mod:`~streaming_importer.gemini`) says what
a record holds as :data:`Part` tuples and what it knows about the record
(:class:`Origin`); :func:`assemble` stores the texts (secrets replaced, then
cut to their cap), numbers the record among the file's records with text, and
builds the :class:`~streaming_importer.transcript.Message` objects.
"""

from __future__ import annotations

import dataclasses

from streaming_importer.stored_text import as_stored
from streaming_importer.transcript import FileContext, Message, ParseLimits

__all__ = ["Origin", "Part", "assemble"]

#: One searchable part of a record: kind, role, text, and its cap in characters (0: none).
Part = tuple[str, str, str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """What a parser knows about one record besides its parts."""

    #: Stable identity of the record within its session (a uuid, or a hash).
    key: str
    timestamp: str | None = None
    cwd: str | None = None
    #: The record's own session id where it names one (else the file's).
    session_id: str | None = None
    parent_session_id: str | None = None
    agent_id: str | None = None
    message_uuid: str | None = None
    is_sidechain: bool = False
    is_compact_summary: bool = False


def assemble(
    parts: list[Part], origin: Origin, context: FileContext, limits: ParseLimits
) -> tuple[tuple[Message, ...], FileContext]:
    """The messages of one record's ``parts``, and the context after it.

    A record with no parts yields nothing and leaves the context as it was.
    """
    if not parts:
        return (), context
    context = dataclasses.replace(context, turn=context.turn + 1)
    stored = [as_stored(text, cap, limits) for _, _, text, cap in parts]
    messages = tuple(
        Message(
            kind=kind,
            role=role,
            text=stored[i][0],
            record_key=origin.key,
            part=i,
            session_id=origin.session_id or context.session_id,
            parent_session_id=context.parent_session_id or origin.parent_session_id,
            agent_id=origin.agent_id,
            project=context.project or origin.cwd,
            cwd=origin.cwd,
            git_branch=context.git_branch,
            timestamp=origin.timestamp,
            message_uuid=origin.message_uuid,
            is_sidechain=origin.is_sidechain,
            is_compact_summary=origin.is_compact_summary,
            redacted=stored[i][1],
            turn=context.turn,
            agent=context.agent,
        )
        for i, (kind, role, _, _) in enumerate(parts)
    )
    return messages, context
