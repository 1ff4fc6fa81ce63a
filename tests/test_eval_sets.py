"""The evaluation questions stay honest: each names a real session that holds its answer terms."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.eval_set import QUESTIONS
from benchmarks.eval_set_2 import (
    CLASSES,
    CORPUS_NAME,
    MORE_QUESTIONS_1,
    QUESTIONS_2,
    ClassedQuestion,
)
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import ParseLimits, file_context_for

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


@pytest.mark.parametrize(
    ("corpus_name", "questions"),
    [(CORPUS_NAME, QUESTIONS_2), ("claude-projects", MORE_QUESTIONS_1)],
)
def test_every_new_question_has_its_answer_in_its_session(
    corpus_name: str, questions: tuple[ClassedQuestion, ...]
) -> None:
    corpus = ROOT.parent / "shared" / "corpus" / corpus_name
    if not corpus.is_dir():
        pytest.fail(f"the shared corpus is missing at {corpus}")
    texts = session_texts(corpus)
    assert len({q.text for q in questions}) == len(questions)
    for q in questions:
        assert q.kind in CLASSES, q
        assert q.session in texts, q
        for term in q.terms:
            assert term.lower() in texts[q.session], (q.text, term)
        # Asked in the developer's words, not copied from the transcript.
        assert q.text.lower() not in texts[q.session], q.text


def test_the_project_has_150_questions_of_its_own() -> None:
    assert len(QUESTIONS) + len(QUESTIONS_2) + len(MORE_QUESTIONS_1) >= 150


def test_the_split_is_fixed() -> None:
    from benchmarks.splits import split

    everything = [*QUESTIONS, *QUESTIONS_2, *MORE_QUESTIONS_1]
    dev, test = split(everything)
    # Pinned: a change of seed or hashing would mix the halves, and fails here.
    assert (len(dev), len(test)) == (76, 75)
    assert QUESTIONS[0] in dev and QUESTIONS_2[0] in test
    assert set(map(id, dev)).isdisjoint(map(id, test))
