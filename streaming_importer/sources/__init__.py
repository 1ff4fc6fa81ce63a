"""Where transcripts come from: each agent's format, read into messages.

One module per agent format (:mod:`~.claude`, :mod:`~.codex`, :mod:`~.codex_legacy`,
:mod:`~.gemini`), each a pure :data:`Parser` chosen here by :func:`parser_for`;
what they share (:mod:`~.assemble`, :mod:`~.records`, :mod:`~.text`, :mod:`~.redact`);
the message types every later stage knows (:mod:`~.messages`); finding the files and
their identity (:mod:`~.files`, :mod:`~.discover`); reading lines (:mod:`~.tail`).
Imports nothing of the package but :mod:`streaming_importer.errors`.
"""

from __future__ import annotations

from collections.abc import Callable

from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.codex import parse_codex_line
from streaming_importer.sources.codex_legacy import parse_codex_document
from streaming_importer.sources.gemini import parse_gemini_document
from streaming_importer.sources.messages import FileContext, ParseLimits, ParseResult

__all__ = ["Parser", "parser_for"]

#: A parser of one line (or whole document) of one agent's transcripts.
Parser = Callable[[bytes, FileContext, ParseLimits], ParseResult]


def parser_for(context: FileContext) -> Parser:
    """How the lines of the file ``context`` describes are parsed: by agent and format."""
    if context.agent == "codex":
        return parse_codex_document if context.rel_path.endswith(".json") else parse_codex_line
    if context.agent == "gemini-cli":
        return parse_gemini_document
    return parse_line
