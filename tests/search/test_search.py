"""Search: filters, one result per session with its context, recency, resume command."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.search.find import search
from streaming_importer.search.query import SearchQuery, parse_kinds, parse_when
from streaming_importer.search.ranking import (
    Ranking,
    fuse,
    rank_chunks,
    rank_sessions,
    recency_factor,
)
from streaming_importer.search.results import exchange_bounds, neighbours
from streaming_importer.store import Hit, Sink
from streaming_importer.store.edge import EdgeSink
from streaming_importer.store.server import ServerSink

from ..conftest import all_points, import_once, run_cli, server_sink

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
WEBHOOK = "9d2c47e1-0b6a-4f3e-8c5d-71a9e3b2f608"  # shop-api, 2026-10-02, fix/flaky-webhook-test
BLOG = "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"  # blog, 2026-08-03


# -- pure parts -------------------------------------------------------------


def test_times_parse_as_durations_dates_and_instants() -> None:
    assert parse_when("7d", NOW) == "2026-10-25T12:00:00.000Z"
    assert parse_when("90m", NOW) == "2026-11-01T10:30:00.000Z"
    assert parse_when("2026-10-02T14:30+02:00", NOW) == "2026-10-02T12:30:00.000Z"
    local = dt.datetime(2026, 10, 2).astimezone()
    assert parse_when("2026-10-02", NOW) == parse_when(local.isoformat(), NOW)
    # --until a date includes that whole day.
    assert parse_when("2026-10-02", NOW, end=True) == parse_when(
        (local + dt.timedelta(days=1)).isoformat(), NOW
    )
    for bad in ("yesterday", "7", "-3d", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_when(bad, NOW)


def test_query_checks_its_fields_and_survives_the_control_port() -> None:
    assert parse_kinds("prompt, Tool-Call,tool result") == ("prompt", "tool_call", "tool_result")
    with pytest.raises(ValueError, match="kind 'tools'"):
        SearchQuery("x", kinds=("tools",))
    with pytest.raises(ValueError, match="limit=0"):
        SearchQuery("x", limit=0)
    with pytest.raises(ValueError, match="empty"):
        SearchQuery("  ")
    query = SearchQuery(
        "webhook",
        limit=3,
        project="shop-api",
        session=WEBHOOK,
        kinds=("prompt", "answer"),
        since="2026-10-01T00:00:00.000Z",
        until="2026-10-03T00:00:00.000Z",
        half_life_s=86400.0,
    )
    assert SearchQuery.from_params(query.to_params()) == query
    where = query.where()
    assert where.equals == {
        "project_name": "shop-api",
        "session_id": WEBHOOK,
        "kind": ("prompt", "answer"),
    }
    assert SearchQuery("x", project="/home/dev/shop-api/").where().equals == {
        "project": "/home/dev/shop-api"
    }


def hit(session: str, score: float, when: str | None, **payload: object) -> Hit:
    return Hit(f"{session}-{score}", score, {"session_id": session, "timestamp": when, **payload})


def test_recency_reorders_near_ties_but_never_buries_a_clear_match() -> None:
    old, new = "2025-11-01T12:00:00Z", "2026-10-31T12:00:00Z"
    assert recency_factor(NOW.isoformat(), NOW, 86400) == 1.0
    assert recency_factor("2026-10-31T12:00:00Z", NOW, 86400) == 0.75
    assert recency_factor(None, NOW, 86400) == 0.5
    close = [hit("old", 0.62, old), hit("new", 0.60, new)]
    assert [r.session_id for r in rank_sessions(close, 5, NOW, None)] == ["old", "new"]
    ranked = rank_sessions(close, 5, NOW, 30 * 86400)
    assert [r.session_id for r in ranked] == ["new", "old"]
    assert ranked[0].score < 0.60  # a weight, not a bonus
    clear = [hit("old", 0.9, old), hit("new", 0.3, new)]
    ranked = rank_sessions(clear, 5, NOW, 30 * 86400)
    assert [r.session_id for r in ranked] == ["old", "new"]


def test_grouping_keeps_the_best_chunk_per_session_and_counts_the_rest() -> None:
    hits = [hit("a", 0.9, None), hit("a", 0.8, None), hit("b", 0.7, None), hit("c", 0.6, None)]
    grouped = rank_sessions(hits, 2, NOW, None, Ranking(spread=0.0, neighbours=0.0))
    assert [(g.best.id, g.matches) for g in grouped] == [("a-0.9", 2), ("b-0.7", 1)]
    assert grouped[0].score == 0.9


def test_a_session_that_matches_in_several_places_beats_one_lucky_chunk() -> None:
    hits = [hit("once", 0.9, None), hit("often", 0.8, None), hit("often", 0.7, None)]
    assert [r.session_id for r in rank_sessions(hits, 2, NOW, None, Ranking(spread=0.0))] == [
        "once",
        "often",
    ]
    spread = rank_sessions(hits, 2, NOW, None, Ranking(spread=0.25))
    assert [r.session_id for r in spread] == ["often", "once"]
    assert spread[0].score == pytest.approx(0.8 + 0.25 * 0.7)


def test_tool_output_is_weighed_down_but_still_found() -> None:
    hits = [hit("docs", 0.9, None, kind="tool_result"), hit("said", 0.8, None, kind="answer")]
    ranked = rank_sessions(hits, 5, NOW, None, Ranking(tool_weight=0.7, spread=0.0))
    assert [r.session_id for r in ranked] == ["said", "docs"]
    only = rank_sessions(hits[:1], 5, NOW, None, Ranking(tool_weight=0.7))
    assert [r.session_id for r in only] == ["docs"]


def test_records_next_to_each_other_support_each_other() -> None:
    def at(session: str, score: float, turn: int) -> Hit:
        role = "user" if turn % 2 else "assistant"
        return hit(session, score, None, path=f"{session}.jsonl", turn=turn, role=role)

    # "lone" has the best single chunk; "pair" a question and the answer it got.
    hits = [at("lone", 0.9, 7), at("pair", 0.8, 3), at("pair", 0.6, 4), at("far", 0.85, 2)]
    plain = rank_chunks(hits, Ranking(neighbours=0.0))
    assert [h.id for h in plain] == ["lone-0.9", "far-0.85", "pair-0.8", "pair-0.6"]
    supported = rank_chunks(hits, Ranking(neighbours=0.75))
    assert [h.id for h in supported][:2] == ["pair-0.8", "pair-0.6"]
    assert supported[0].score == pytest.approx(0.8 + 0.75 * 0.6)
    # Not neighbours: another file's turn 4, or two records apart.
    apart = [at("pair", 0.8, 3), at("other", 0.6, 4), at("pair", 0.6, 5)]
    assert [h.score for h in rank_chunks(apart, Ranking(neighbours=0.5))] == [0.8, 0.6, 0.6]
    # Prompts typed one after another do not support each other: the exact
    # match stays first (an appended line is found by its own words).
    typed = [at("a", 1.0, 1), at("b", 0.75, 2), at("c", 0.6, 3)]
    typed = [
        dataclasses.replace(h, payload={**h.payload, "path": "one.jsonl", "role": "user"})
        for h in typed
    ]
    assert [h.score for h in rank_chunks(typed, Ranking(neighbours=0.75))] == [1.0, 0.75, 0.6]


def test_fusion_adds_weighted_reciprocal_ranks_and_keeps_a_single_list_as_it_is() -> None:
    a, b, c = hit("a", 0.9, None), hit("b", 0.8, None), hit("c", 7.0, None)
    fused = fuse([a, b], [c, b], Ranking(rrf_k=2.0, dense_weight=1.0, bm25_weight=1.5))
    assert [h.id for h in fused] == ["b-0.8", "c-7.0", "a-0.9"]
    assert fused[0].score == pytest.approx(1 / 4 + 1.5 / 4)
    assert fuse([a, b], []) == [a, b]
    assert fuse([], [c]) == [c]


def test_an_exchange_begins_at_the_latest_prompt_before_a_hit_and_ends_at_the_next() -> None:
    prompts = [
        hit("s", 0, "2026-10-01T10:00:00Z", chunk_index=0, text="first question"),
        hit("s", 1, "2026-10-01T10:00:00Z", chunk_index=1, text="its second chunk"),
        hit("s", 2, "2026-10-01T11:00:00Z", chunk_index=0, text="second question"),
    ]
    began, ends = exchange_bounds(prompts, "2026-10-01T10:30:00Z")
    assert began is not None and began.payload["text"] == "first question"
    assert ends == "2026-10-01T11:00:00Z"
    began, ends = exchange_bounds(prompts, "2026-10-01T12:00:00Z")
    assert began is not None and began.payload["text"] == "second question"
    assert ends is None
    assert exchange_bounds(prompts, "2026-10-01T09:00:00Z")[0] is None


def test_neighbours_are_the_adjacent_chunks_of_the_same_part_without_the_overlap() -> None:
    chunks = [
        Hit("0", 0, {"part": 0, "chunk_index": 0, "text": "alpha beta gamma delta epsilon"}),
        Hit("1", 0, {"part": 0, "chunk_index": 1, "text": "delta epsilon zeta eta theta"}),
        Hit("2", 0, {"part": 0, "chunk_index": 2, "text": "eta theta iota kappa"}),
        Hit("x", 0, {"part": 1, "chunk_index": 0, "text": "another part entirely"}),
    ]
    assert neighbours(chunks[1], chunks) == ("alpha beta gamma", "iota kappa")
    assert neighbours(chunks[0], chunks) == ("", "zeta eta theta")
    assert neighbours(chunks[3], chunks) == ("", "")


# -- against both engines, with the real model ------------------------------


@pytest.fixture(params=["edge", "server"])
async def demo_sink(
    request: pytest.FixtureRequest, demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> AsyncIterator[Sink]:
    """The demo imported into the embedded engine, or qdrant-client's server API."""
    server = server_sink()
    _, sink = await import_once(
        demo_copy, tmp_path / "state", embedder, sink=server if request.param == "server" else None
    )
    assert isinstance(sink, ServerSink if request.param == "server" else EdgeSink)
    try:
        yield sink
    finally:
        sink.close()


Find = Callable[..., list[str]]


@pytest.fixture
def sessions(demo_sink: Sink, embedder: FastEmbedEmbedder) -> Find:
    def find(text: str, **fields: object) -> list[str]:
        hits = search(embedder, Bm25Encoder(), demo_sink, SearchQuery(text, **fields), now=NOW)  # type: ignore[arg-type]
        return [str(h.best.payload["session_id"]) for h in hits]

    return find


def test_one_result_per_session_best_first(sessions: Find) -> None:
    found = sessions("why did the webhook test fail", limit=10)
    assert found[0] == WEBHOOK
    assert len(found) == len(set(found)) == 4  # the demo's four sessions


def test_each_filter_narrows_the_results(sessions: Find) -> None:
    question = "why did the webhook test fail"
    assert set(sessions(question, project="blog")) == {BLOG}
    assert set(sessions(question, project="/home/dev/shop-api")) == {
        WEBHOOK,
        "3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57",
        "e4a1f9c3-7d28-4b56-a0e2-95c3d8b7f14a",
    }
    assert sessions(question, session=BLOG) == [BLOG]
    # The blog session is from August; the webhook one from October 2nd.
    assert BLOG not in sessions(question, since="2026-09-01T00:00:00Z")
    assert sessions(question, until="2026-09-01T00:00:00Z") == [BLOG]
    assert sessions(question, since="2026-10-02T00:00:00Z", until="2026-10-03T00:00:00Z") == [
        WEBHOOK
    ]
    assert sessions(question, since="2027-01-01T00:00:00Z") == []


def test_kind_filter_returns_only_that_kind(demo_sink: Sink, embedder: FastEmbedEmbedder) -> None:
    for kinds in (("prompt",), ("tool_call", "tool_result")):
        hits = search(
            embedder, Bm25Encoder(), demo_sink, SearchQuery("webhook test", kinds=kinds), now=NOW
        )
        assert hits
        assert {h.best.payload["kind"] for h in hits} <= set(kinds)


async def test_a_hit_comes_with_its_neighbours_and_the_resume_command(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    words = " ".join(f"filler{i}" for i in range(120))
    text = f"{words} the cache key must include the tenant id {words}"
    folder = tmp_path / "conversations" / "-home-dev-app"
    folder.mkdir(parents=True)
    line = {
        "type": "user",
        "uuid": "aaaaaaaa-0000-4000-8000-000000000001",
        "sessionId": "bbbbbbbb-0000-4000-8000-000000000002",
        "cwd": "/home/dev/my app",
        "gitBranch": "feature/cache",
        "timestamp": "2026-10-30T09:00:00.000Z",
        "message": {"role": "user", "content": text},
    }
    (folder / "bbbbbbbb-0000-4000-8000-000000000002.jsonl").write_text(json.dumps(line) + "\n")
    _, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    try:
        (found,) = search(
            embedder, Bm25Encoder(), sink, SearchQuery("cache key tenant id", limit=1), now=NOW
        )
    finally:
        sink.close()
    assert "tenant id" in found.best.payload["text"]
    assert found.best.payload["chunk_index"] > 0
    assert found.before and found.after
    # Together they are one stretch of the message, nothing repeated.
    stretch = " ".join((found.before, found.best.payload["text"], found.after))
    assert stretch in text
    assert len(stretch) > len(found.best.payload["text"]) + 200
    data = found.to_json()
    assert data["git_branch"] == "feature/cache"
    assert data["resume"] == (
        "cd '/home/dev/my app' && claude --resume bbbbbbbb-0000-4000-8000-000000000002"
    )


def test_search_command_shows_context_branch_and_resume(demo_copy: Path, tmp_path: Path) -> None:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path / "state")}
    assert run_cli("--once", env=env).returncode == 0
    out = run_cli("search", "why did the webhook test fail", "--limit", "2", env=env)
    assert out.returncode == 0, out.stderr
    assert "(fix/flaky-webhook-test)" in out.stdout
    assert f"resume: cd /home/dev/shop-api && claude --resume {WEBHOOK}" in out.stdout
    only = run_cli(
        "search", "webhook", "--kind", "prompt", "--since", "2026-10-01", "--json", env=env
    )
    assert only.returncode == 0, only.stderr
    hits = json.loads(only.stdout)
    assert hits and {h["kind"] for h in hits} == {"prompt"}
    assert all(h["timestamp"] >= "2026-10-01" for h in hits)
    bad = run_cli("search", "webhook", "--since", "last week", env=env)
    assert bad.returncode == 2
    assert "'last week' is not a date" in bad.stderr


def test_a_hit_comes_with_the_prompt_it_answered(
    demo_sink: Sink, embedder: FastEmbedEmbedder
) -> None:
    query = SearchQuery("why did the webhook test fail", limit=1, kinds=("answer",))
    (found,) = search(embedder, Bm25Encoder(), demo_sink, query, now=NOW)
    assert found.best.payload["kind"] == "answer" and found.prompt
    hit_time = found.best.payload["timestamp"]
    prompts = [
        p
        for p in all_points(demo_sink).values()
        if p["session_id"] == found.best.payload["session_id"]
        and p["kind"] == "prompt"
        and p["timestamp"] < hit_time
    ]
    latest = max(prompts, key=lambda p: p["timestamp"])
    assert found.prompt == latest["text"]


def test_a_question_comes_with_the_conclusion_it_got(
    demo_sink: Sink, embedder: FastEmbedEmbedder
) -> None:
    query = SearchQuery("why did the webhook test fail", limit=1, kinds=("prompt",))
    (found,) = search(embedder, Bm25Encoder(), demo_sink, query, now=NOW)
    p = found.best.payload
    points = [q for q in all_points(demo_sink).values() if q["session_id"] == p["session_id"]]
    after = sorted(q["timestamp"] for q in points if q["kind"] == "prompt")
    ends = next((t for t in after if t > p["timestamp"]), "9999")
    answers = [
        q
        for q in points
        if q["kind"] == "answer"
        and p["timestamp"] <= q["timestamp"] < ends
        and q["chunk_index"] == 0
    ]
    last = max(answers, key=lambda q: q["timestamp"])
    assert found.conclusion == last["text"] and found.prompt == ""
