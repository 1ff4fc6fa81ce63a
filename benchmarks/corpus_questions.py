"""Questions drawn from the shared corpus, for tests and benchmarks.

The parser is used to read the transcripts, so a sentence is one the
importer stored; which sentences are picked does not depend on the store.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import Message, ParseLimits, file_context_for

__all__ = ["distinctive_sentences", "read_messages"]


def read_messages(path: Path, rel_path: str) -> list[Message]:
    """Every message of one transcript, parsed as the importer parses it."""
    context = file_context_for(rel_path)
    messages: list[Message] = []
    for raw in path.read_bytes().splitlines():
        result = parse_line(raw, context, ParseLimits())
        context = result.context
        messages.extend(result.messages)
    return messages


def distinctive_sentences(corpus: Path) -> list[tuple[str, str, str]]:
    """(file, session id, sentence): per file, its most distinctive prompt or answer sentence.

    Distinctive as a person would pick one: 8-40 words, at least two of which
    occur in no other session, the sentence with the most such words (ties:
    the rarest words overall). The greeting every warm-up subagent of a
    project opens with has none, so a file of nothing but that offers no
    sentence.
    """
    per_file: list[tuple[Path, list[Message]]] = []
    sessions_of: dict[str, set[str]] = {}
    for path in sorted(corpus.rglob("*.jsonl")):
        messages = read_messages(path, path.relative_to(corpus).as_posix())
        per_file.append((path, messages))
        for m in messages:
            for w in re.findall(r"\w+", m.text.lower()):
                sessions_of.setdefault(w, set()).add(m.session_id)
    n = len({s for ss in sessions_of.values() for s in ss})
    out = []
    for path, messages in per_file:
        best, best_score, session = "", (0, 0.0), ""
        for m in messages:
            if m.kind not in ("prompt", "answer"):
                continue
            for sentence in re.split(r"(?<=[.!?])\s+|\n+", m.text):
                words = re.findall(r"\w+", sentence.lower())
                if not 8 <= len(words) <= 40:
                    continue
                unique = len({w for w in words if len(sessions_of[w]) == 1})
                rarity = sum(math.log(n / len(sessions_of[w])) for w in words) / len(words)
                if unique >= 2 and (unique, rarity) > best_score:
                    best, best_score, session = sentence, (unique, rarity), m.session_id
        if best:
            out.append((path.name, session, best))
    return out
