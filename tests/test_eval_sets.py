"""The evaluation questions stay honest: each names a real session that holds its answer terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.eval_set_2 import CLASSES, CORPUS_NAME, QUESTIONS_2
from streaming_importer.parse import parse_line
from streaming_importer.transcript import ParseLimits, file_context_for

from .conftest import ROOT


def session_texts(corpus: Path) -> dict[str, str]:
    """Every session's searchable text (what the importer would chunk), lower-cased."""
    texts: dict[str, list[str]] = {}
    for path in sorted(corpus.rglob("*.jsonl")):
        context = file_context_for(str(path.relative_to(corpus)))
        for line in path.read_bytes().splitlines():
            result = parse_line(line, context, ParseLimits(tool_result_max_chars=10**9))
            context = result.context
            for message in result.messages:
                texts.setdefault(message.session_id, []).append(message.text.lower())
    return {session: "\n".join(parts) for session, parts in texts.items()}


def test_every_question_of_the_second_corpus_has_its_answer_in_its_session() -> None:
    corpus = ROOT.parent / "shared" / "corpus" / CORPUS_NAME
    if not corpus.is_dir():
        pytest.fail(f"the shared corpus is missing at {corpus}")
    texts = session_texts(corpus)
    assert len(QUESTIONS_2) >= 40
    assert len({q.text for q in QUESTIONS_2}) == len(QUESTIONS_2)
    for q in QUESTIONS_2:
        assert q.kind in CLASSES, q
        assert q.session in texts, q
        for term in q.terms:
            assert term.lower() in texts[q.session], (q.text, term)
        # Asked in the developer's words, not copied from the transcript.
        assert q.text.lower() not in texts[q.session], q.text
