"""What a search shows, through the real command line over the real corpus: the answer, or
"no confident match".

The questions are two of the dev half (``benchmarks/eval_set.py``,
``benchmarks/eval_set_3.py``) whose answer is in none of the chunk, its
neighbours, the prompt or the conclusion: only the highlight shows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import run_cli

QUALITY = "491e126e-1e71-469c-ade2-fcc8af567c74"
OTEL = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"


@pytest.mark.parametrize(
    ("question", "session", "answer"),
    [
        ("the epic id for setting up the quality tools", QUALITY, "spotter-0p7"),
        (
            "how did we set the trace propagators once the function for it turned out not to exist",
            OTEL,
            "app environment",
        ),
    ],
)
def test_the_highlight_shows_an_answer_the_passage_does_not(
    corpus: Path, corpus_state: Path, question: str, session: str, answer: str
) -> None:
    env = {"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(corpus_state)}
    out = run_cli("search", question, "--json", "--limit", "3", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    top = json.loads(out.stdout)[0]
    assert top["session_id"] == session
    passage = " ".join(
        top[k] for k in ("prompt", "context_before", "text", "context_after", "conclusion")
    )
    assert answer.lower() not in passage.lower()
    assert answer.lower() in " ".join(h["text"] for h in top["highlight"]).lower()
    assert top["confident"] is True
    # Its place: the chunk it is in and where in that chunk's text.
    place = top["highlight"][0]
    assert place["kind"] and place["timestamp"] and place["start"] >= 0
    text = run_cli("search", question, "--limit", "3", env=env).stdout
    assert "» " in text and "no confident match" not in text


def test_a_question_the_history_cannot_answer_says_so(corpus: Path, corpus_state: Path) -> None:
    env = {"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(corpus_state)}
    question = "best hiking trails near the alps in winter"
    hits = json.loads(run_cli("search", question, "--json", env=env).stdout)
    assert hits and hits[0]["confident"] is False
    assert hits[0]["relevance"] is None or hits[0]["relevance"] < 0.46
    text = run_cli("search", question, env=env).stdout
    assert text.startswith("no confident match; closest:")
