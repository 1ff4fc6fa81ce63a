"""What Claude Code wrote in the user's turn is never shown as the person's prompt."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.own import ALL
from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.search.find import search
from streaming_importer.search.query import SearchQuery
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import ParseLimits, file_context_for
from streaming_importer.sources.text import prompt_kind
from streaming_importer.store.edge import EdgeSink

from ..conftest import ROOT, import_once

CORPORA = [ROOT.parent / "shared" / "corpus" / n for n in ("claude-projects", "claude-projects-2")]

#: Written from what the transcripts hold, independently of ``injected.py``:
#: command wrappers and their output, task notifications, the compaction
#: instruction, caveats, system reminders, IDE notices, the subagent warm-up.
NOT_TYPED = re.compile(
    r"^\s*(<command-(name|message|args)>|<local-command-|<task-notification>|<system-reminder>"
    r"|<ide_|Caveat: The messages below|Your task is to create a detailed summary|Warmup\s*$)"
    r"|<command-name>|<system-reminder>|<task-notification>",
)


def prompts_of(corpus: Path) -> list[str]:
    texts = []
    for path in sorted(corpus.rglob("*.jsonl")):
        context = file_context_for(str(path.relative_to(corpus)))
        for line in path.read_bytes().splitlines():
            result = parse_line(line, context, ParseLimits())
            context = result.context
            texts.extend(m.text for m in result.messages if m.kind == "prompt")
    return texts


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.name)
def test_no_prompt_of_either_corpus_is_text_claude_code_wrote(corpus: Path) -> None:
    if not corpus.is_dir():
        pytest.fail(f"the shared corpus is missing at {corpus}")
    prompts = prompts_of(corpus)
    assert len(prompts) > 40
    assert [p[:80] for p in prompts if NOT_TYPED.search(p)] == []


def test_a_slash_command_typed_with_arguments_is_the_prompt_it_asked() -> None:
    wrapped = (
        "<command-message>orchestrator is running…</command-message>\n"
        "<command-name>/orchestrator</command-name>\n<command-args>create the beads</command-args>"
    )
    assert prompt_kind(wrapped) == ("prompt", "/orchestrator create the beads")
    bare = "<command-name>/clear</command-name>\n<command-message>clear</command-message>"
    assert prompt_kind(bare)[0] == "injected"
    reminded = "fix the test\n<system-reminder>todo list is empty</system-reminder>"
    assert prompt_kind(reminded) == ("prompt", "fix the test")
    assert prompt_kind("Warmup")[0] == "injected"
    assert prompt_kind("This session is being continued from a previous conversation")[0] == (
        "summary"
    )


def line(kind: str, uuid: str, when: str, content: object) -> str:
    role = "user" if kind == "user" else "assistant"
    record = {
        "type": kind,
        "uuid": uuid,
        "sessionId": "5e55a0c1-0000-4000-8000-000000000001",
        "cwd": "/home/dev/shop",
        "timestamp": when,
        "message": {"role": role, "content": content},
    }
    return json.dumps(record) + "\n"


async def test_a_hit_after_injected_turns_shows_what_the_person_typed(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    project = tmp_path / "conversations" / "-home-dev-shop"
    project.mkdir(parents=True)
    answer = "The invoice rounding bug came from float cents; we switched to integer cents."
    (project / "5e55a0c1-0000-4000-8000-000000000001.jsonl").write_text(
        line("user", "u1", "2026-10-01T10:00:00Z", "why are invoice totals off by a cent?")
        + line("user", "u2", "2026-10-01T10:00:01Z", "<task-notification>done</task-notification>")
        + line("user", "u3", "2026-10-01T10:00:02Z", "<command-name>/mcp</command-name>")
        + line("assistant", "a1", "2026-10-01T10:00:03Z", [{"type": "text", "text": answer}])
        + line("user", "u4", "2026-10-01T10:05:00Z", "Your task is to create a detailed summary")
    )
    _, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    try:
        query = SearchQuery("invoice rounding float cents", kinds=("answer",))
        (found,) = search(embedder, Bm25Encoder(), sink, query)
        assert found.prompt == "why are invoice totals off by a cent?"
        # The injected turns do not end the question's exchange either.
        query = SearchQuery("invoice totals off by a cent", kinds=("prompt",))
        (asked,) = search(embedder, Bm25Encoder(), sink, query)
        assert asked.best.payload["text"] == "why are invoice totals off by a cent?"
        assert asked.conclusion == answer
    finally:
        sink.close()


def test_no_shown_prompt_is_injected_over_the_first_corpus(
    corpus_state: Path, corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    sink = EdgeSink(corpus_state / "qdrant", "conversations")
    sink.open(embedder.identity, create=False)
    try:
        shown = []
        for q in (q for q in ALL if q.corpus == 1):
            for hit in search(embedder, Bm25Encoder(), sink, SearchQuery(q.text, limit=3)):
                shown.append(hit.prompt)
        assert len(shown) > 200 and any(shown)
        assert [p[:80] for p in shown if NOT_TYPED.search(p)] == []
    finally:
        sink.close()
