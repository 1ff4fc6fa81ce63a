"""The project's own 151 questions over both real corpora, split once into dev and test.

Each question has a corpus (1: ``claude-projects``, 2: ``claude-projects-2``)
and a class: the classes of ``eval_set_2.py``, or ``original`` for the 64 of
``eval_set.py`` (written before there were classes; the constants before
issue 14 were fitted on them). Scored as ``retrieval.py`` scores:

- session@1, session@5: the answering session is the first / among the
  first five results (one result per session);
- answer@3: a top-3 result from that session shows every answer term in what
  a person reads of it (the prompt, the chunk, its neighbours, the conclusion).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, TypeVar

from benchmarks.eval_set import QUESTIONS
from benchmarks.eval_set_2 import MORE_QUESTIONS_1, QUESTIONS_2
from benchmarks.eval_set_3 import HARDER as HARDER_SET
from benchmarks.splits import half
from streaming_importer.search.results import SessionHit

__all__ = ["ALL", "HARDER", "OwnQuestion", "Scores", "dev_test", "score", "shown_text"]


class OwnQuestion(NamedTuple):
    text: str
    session: str
    terms: tuple[str, ...]
    kind: str
    corpus: int


ALL: tuple[OwnQuestion, ...] = (
    *(OwnQuestion(q.text, q.session, q.terms, "original", 1) for q in QUESTIONS),
    *(OwnQuestion(*q, corpus=1) for q in MORE_QUESTIONS_1),
    *(OwnQuestion(*q, corpus=2) for q in QUESTIONS_2),
)


#: The harder set of issue 27 (``eval_set_3.py``), written before that issue's changes.
HARDER: tuple[OwnQuestion, ...] = tuple(OwnQuestion(*q) for q in HARDER_SET)


def dev_test(
    questions: Sequence[OwnQuestion] = ALL,
) -> tuple[list[OwnQuestion], list[OwnQuestion]]:
    """The fixed halves (``splits.half``): tune on the first, report the second."""
    return (
        [q for q in questions if half(q.text) == "dev"],
        [q for q in questions if half(q.text) == "test"],
    )


def shown_text(hit: SessionHit) -> str:
    """What a person reads of a result: asked, passage, neighbours, concluded, highlighted."""
    shown = (hit.prompt, hit.before, str(hit.best.payload.get("text", "")), hit.after)
    return " ".join((*shown, hit.conclusion, *(h.text for h in hit.highlight)))


class Scores(NamedTuple):
    n: int
    at1: float
    at5: float
    answer3: float


class Asked(Protocol):
    """What scoring needs of a question (``OwnQuestion``, ``eval_set.Question``)."""

    @property
    def text(self) -> str: ...
    @property
    def session(self) -> str: ...
    @property
    def terms(self) -> tuple[str, ...]: ...


_Q = TypeVar("_Q", bound=Asked)


def score(
    questions: Sequence[_Q], ask: Callable[[_Q], list[SessionHit]]
) -> tuple[Scores, list[_Q]]:
    """The three figures over ``questions``, and the questions whose session is not in the top 5."""
    at1 = at5 = ans3 = 0
    missed = []
    for q in questions:
        hits = ask(q)
        sessions = [h.best.payload["session_id"] for h in hits[:5]]
        at1 += sessions[:1] == [q.session]
        at5 += q.session in sessions
        ans3 += any(
            h.best.payload["session_id"] == q.session
            and all(t.lower() in shown_text(h).lower() for t in q.terms)
            for h in hits[:3]
        )
        if q.session not in sessions:
            missed.append(q)
    n = max(len(questions), 1)
    return Scores(len(questions), at1 / n, at5 / n, ans3 / n), missed
