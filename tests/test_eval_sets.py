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
from benchmarks.eval_set_3 import CLASSES as HARDER_CLASSES
from benchmarks.eval_set_3 import HARDER
from benchmarks.splits import half
from streaming_importer.ops.config import Settings
from streaming_importer.sources import parser_for
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.discover import start_context
from streaming_importer.sources.files import scan_all
from streaming_importer.sources.messages import ParseLimits, file_context_for

from .conftest import ROOT

SHARED = ROOT.parent / "shared" / "corpus"
#: The harder set's corpus 3: the second corpus with Codex's and Gemini's files.
CORPUS_3 = {
    "CONVERSATIONS_DIR": "claude-projects-2",
    "CODEX_HOME": "other-agents/codex",
    "GEMINI_DIR": "other-agents/gemini-2",
}


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


def agents_session_texts(env: dict[str, str]) -> dict[str, str]:
    """Every session's text in the folders ``env`` names, of every agent, lower-cased."""
    settings = Settings.from_env(env)
    sources = settings.source_folders
    limits = ParseLimits(tool_result_max_chars=10**9)
    texts: dict[str, list[str]] = {}
    for f in scan_all(sources):
        context = start_context(f, sources, settings.max_line_bytes)
        parse = parser_for(context)
        data = f.path.read_bytes()
        for line in [data] if f.whole else data.splitlines():
            result = parse(line, context, limits)
            context = result.context
            for message in result.messages:
                texts.setdefault(message.session_id, []).append(message.text.lower())
    return {session: "\n".join(parts) for session, parts in texts.items()}


def test_every_harder_question_has_its_answer_in_its_session() -> None:
    corpora = {1: {"CONVERSATIONS_DIR": str(SHARED / "claude-projects")}}
    corpora[3] = {k: str(SHARED / v) for k, v in CORPUS_3.items()}
    texts = {c: agents_session_texts(env) for c, env in corpora.items()}
    assert len({q.text for q in HARDER}) == len(HARDER) >= 60
    for q in HARDER:
        assert q.kind in HARDER_CLASSES, q
        assert q.session in texts[q.corpus], q
        for term in q.terms:
            assert term.lower() in texts[q.corpus][q.session], (q.text, term)
        assert q.text.lower() not in texts[q.corpus][q.session], q.text
    # Every class has at least eight questions, and some in each half.
    for kind in HARDER_CLASSES:
        asked = [q for q in HARDER if q.kind == kind]
        assert len(asked) >= 8, kind
        assert {half(q.text) for q in asked} == {"dev", "test"}, kind
