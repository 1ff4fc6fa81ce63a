"""One transcript line -> the JSON records on it. Pure; never raises.

A line normally holds one record. Real files also hold lines with several
complete records and no newline between them (``...}{...``, written so by
Claude Code itself), and lines where a writer died mid-record and the next
record was appended onto the fragment (a torn line). :func:`records_of`
returns every whole record of a line, each with its own bytes, and says why
the line is bad input when part of it is not a record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from streaming_importer.sources.messages import FileContext, Message, ParseLimits, ParseResult

__all__ = ["RecordParser", "parse_records", "records_of"]

#: Places tried when looking for a whole record at the end of a torn line.
_SALVAGE_TRIES = 64
#: Longer damaged lines are quarantined without a salvage attempt (bytes).
_SALVAGE_MAX_BYTES = 4 << 20
#: Records read from one line at most (a line of thousands of tiny glued
#: objects is not a transcript).
_GLUED_MAX = 64

Record = tuple[bytes, dict[str, Any]]
#: One agent's parser of one record: (record, its bytes, context, limits) ->
#: (its messages, the context after it).
RecordParser = Callable[
    [dict[str, Any], bytes, FileContext, ParseLimits], tuple[tuple[Message, ...], FileContext]
]


def parse_records(
    line: bytes, context: FileContext, limits: ParseLimits, parse: RecordParser
) -> ParseResult:
    """The messages of every record of ``line`` (without its newline), by ``parse``. Never raises.

    A line with several records glued together yields the messages of each,
    in order; a damaged part is reported as the line's error (quarantined),
    while the whole records on it are kept.
    """
    if not line.strip():
        return ParseResult((), context)
    records, error = records_of(line)
    messages: list[Message] = []
    for raw, record in records:
        try:
            found, context = parse(record, raw, context, limits)
        except RecursionError:
            # Pathologically deep nesting inside a message's content.
            return ParseResult(tuple(messages), context, "nested too deeply")
        messages.extend(found)
    return ParseResult(tuple(messages), context, error)


def records_of(line: bytes) -> tuple[list[Record], str | None]:
    """The records of ``line`` (each with its own bytes), and why it is bad input, or None."""
    if b"\x00" in line:
        return [], "NUL bytes"
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    else:
        if not isinstance(record, dict):
            return [], "not a JSON object"
        return [(line, record)], None
    try:
        text: str | None = line.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if len(line) <= _SALVAGE_MAX_BYTES:
        glued = _glued(text) if text is not None else None
        if glued:
            records, whole = glued
            return records, None if whole else "torn line"
        salvaged = _salvage_torn(line)
        if salvaged is not None:
            # A record glued onto an unterminated line: keep the record,
            # report the damaged prefix.
            return [(line[salvaged[0] :], salvaged[1])], "torn line"
    return [], "not UTF-8" if text is None else "invalid JSON"


def _glued(text: str) -> tuple[list[Record], bool] | None:
    """Whole records one after another from the start of ``text``, and whether that is all of it.

    None if the line does not start with a whole record.
    """
    decoder = json.JSONDecoder()
    records: list[Record] = []
    pos = 0
    while pos < len(text) and len(records) < _GLUED_MAX:
        try:
            record, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            break
        if not isinstance(record, dict) or "type" not in record:
            break
        records.append((text[pos:end].encode(), record))
        pos = end
        while pos < len(text) and text[pos] in " \t\r":
            pos += 1
    if not records:
        return None
    return records, pos == len(text)


def _salvage_torn(line: bytes) -> tuple[int, dict[str, Any]] | None:
    """Find a whole JSON object at the end of a damaged line.

    A writer that died mid-line leaves a fragment; the next record is then
    appended onto it. Tries the last few places where an object could start.
    """
    starts: list[int] = []
    pos = len(line)
    while len(starts) < _SALVAGE_TRIES:
        pos = line.rfind(b'{"', 1, pos)
        if pos <= 0:
            break
        starts.append(pos)
    for start in reversed(starts):  # the longest candidate first
        try:
            record = orjson.loads(line[start:])
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and "type" in record:
            return start, record
    return None
