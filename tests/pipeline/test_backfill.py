"""End to end: transcripts in, points out, and found again."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from benchmarks.corpus_questions import distinctive_sentences
from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.search.find import search
from streaming_importer.search.query import SearchQuery
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store import Point, Sink, Where
from streaming_importer.store.edge import EdgeSink

from ..conftest import all_points, import_once, run_cli, server_sink, settings_for

# -- the whole corpus, through the real command line ----------------------


@pytest.mark.slow
def test_second_run_adds_nothing_and_status_shows_nothing_pending(
    corpus: Path, corpus_state: Path
) -> None:
    env = {"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(corpus_state)}
    before = json.loads(run_cli("status", "--json", env=env).stdout)
    started = time.monotonic()
    again = run_cli("--once", env=env)
    seconds = time.monotonic() - started
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 files imported, 54 unchanged" in again.stderr
    assert "0 tokens embedded" in again.stderr
    # A re-embedding of the corpus takes about a minute; a no-op a few seconds.
    assert seconds < 20, seconds
    status = run_cli("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["points"] == before["points"] > 4000
    assert data["files"] == 54
    assert data["files_imported"] == 54
    assert data["pending_bytes"] == 0
    assert data["quarantined"] == 0
    assert data["tokens_embedded"] > 400_000
    assert data["model"]["dim"] == 384


@pytest.mark.slow
def test_search_finds_the_session_of_a_sentence_from_any_transcript(
    corpus: Path, corpus_state: Path, embedder: FastEmbedEmbedder
) -> None:
    cases = distinctive_sentences(corpus)
    assert len(cases) >= 20
    sink = EdgeSink(corpus_state / "qdrant", "conversations")
    sink.open(embedder.identity, create=False)
    try:
        misses = []
        for name, session, sentence in cases:
            hits = search(embedder, Bm25Encoder(), sink, SearchQuery(sentence, limit=5))
            if session not in {h.best.payload["session_id"] for h in hits}:
                misses.append((name, sentence))
    finally:
        sink.close()
    assert misses == []


@pytest.mark.slow
def test_search_command_prints_ranked_json(corpus: Path, corpus_state: Path) -> None:
    env = {"CONVERSATIONS_DIR": str(corpus), "STATE_DIR": str(corpus_state)}
    result = run_cli(
        "search",
        "Extend annotation schema with source and message reference",
        "--limit",
        "5",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 5
    for key in ("score", "text", "session_id", "project", "timestamp", "path"):
        assert key in hits[0]
    assert hits[0]["session_id"] == "258c7280-ae70-4798-800f-63464d01a85d"
    # One hit per session: its best chunk.
    assert len({h["session_id"] for h in hits}) == len(hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    # --project narrows to one project, by path or by its last folder name.
    other = run_cli("search", "annotation schema", "--project", "Demo", "--json", env=env)
    assert {h["project"] for h in json.loads(other.stdout)} == {"/path/to/Demo"}
    text = run_cli("search", "annotation schema", "--limit", "2", env=env)
    assert text.returncode == 0
    assert text.stdout.startswith(" 1. ")


# -- identity and idempotence, in process ---------------------------------


async def test_reimport_from_scratch_writes_the_same_ids(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    first, sink = await import_once(demo_copy, state, embedder)
    ids = all_points(sink)
    sink.close()
    assert first.stats.files_imported == 5
    assert len(ids) == first.stats.chunks > 40
    (state / "checkpoint.json").unlink()  # forget all progress
    second, sink = await import_once(demo_copy, state, embedder)
    try:
        assert second.stats.chunks == first.stats.chunks  # everything was read again...
        assert all_points(sink) == ids  # ...and wrote the very same points
    finally:
        sink.close()


async def test_a_moved_transcript_keeps_its_ids(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    _, sink = await import_once(demo_copy, state, embedder)
    before = all_points(sink)
    sink.close()
    old = demo_copy / "-home-dev-blog" / "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036.jsonl"
    (demo_copy / "archive").mkdir()
    new = demo_copy / "archive" / old.name
    shutil.move(old, new)
    _, sink = await import_once(demo_copy, state, embedder)
    try:
        after = all_points(sink)
    finally:
        sink.close()
    assert after.keys() == before.keys()
    moved = [p for p in after.values() if p["session_id"] == "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"]
    assert moved and {p["path"] for p in moved} == {"archive/" + old.name}


async def test_payload_of_a_point(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    _, sink = await import_once(demo_copy, tmp_path / "state", embedder, SOURCE_NAME="laptop")
    try:
        points = all_points(sink)
    finally:
        sink.close()
    agent = [p for p in points.values() if p["agent_id"] == "a7c31e9"]
    assert agent
    p = agent[0]
    assert p["source"] == "laptop"
    assert p["project"] == "/home/dev/shop-api"
    assert p["project_name"] == "shop-api"
    assert p["session_id"] == p["parent_session_id"] == "e4a1f9c3-7d28-4b56-a0e2-95c3d8b7f14a"
    assert p["path"].endswith("subagents/agent-a7c31e9.jsonl")
    assert p["is_sidechain"] is True
    assert p["timestamp"].startswith("2026-10-20T")
    raw = (tmp_path / "conversations" / p["path"]).read_bytes()
    line = raw[p["offset"] :].split(b"\n", 1)[0]
    assert json.loads(line)["uuid"] == p["message_uuid"]
    kinds = {q["kind"] for q in points.values()}
    assert kinds == {"prompt", "answer", "thinking", "tool_call", "tool_result", "summary"}
    for q in points.values():
        assert "base64" not in q["text"]
        assert set(q) >= {"text", "role", "git_branch", "chunk_index", "is_compact_summary"}


async def test_source_name_is_part_of_the_id(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    _, a = await import_once(demo_copy, tmp_path / "a", embedder, SOURCE_NAME="laptop")
    _, b = await import_once(demo_copy, tmp_path / "b", embedder, SOURCE_NAME="desktop")
    try:
        ids_a, ids_b = all_points(a).keys(), all_points(b).keys()
    finally:
        a.close()
        b.close()
    assert len(ids_a) == len(ids_b) and not ids_a & ids_b


async def test_server_sink_stores_the_same_points_as_the_edge_sink(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    _, edge = await import_once(demo_copy, tmp_path / "edge", embedder)
    remote = server_sink()
    _, server = await import_once(demo_copy, tmp_path / "server", embedder, sink=remote)
    try:
        assert all_points(server) == all_points(edge)
        hits = server.search(3, Where(), dense=embedder.embed(["why did the webhook test fail"])[0])
        assert hits[0].payload["session_id"] == "9d2c47e1-0b6a-4f3e-8c5d-71a9e3b2f608"
    finally:
        edge.close()
        server.close()


# -- the checkpoint follows acknowledgements -------------------------------


class FailingSink:
    """A sink (a seam we own) that acknowledges ``budget`` upserts, then fails."""

    def __init__(self, inner: Sink, budget: int) -> None:
        self.inner = inner
        self.budget = budget
        self.acked: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert(self, points: Sequence[Point]) -> None:
        if self.budget == 0:
            raise RuntimeError("injected failure")
        self.budget -= 1
        self.inner.upsert(points)
        self.acked.update(p.id for p in points)


async def test_checkpoint_never_runs_ahead_of_acknowledged_points(
    corpus: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    conversations = tmp_path / "conversations"
    shutil.copytree(corpus / "sample-project", conversations / "sample-project")
    state = tmp_path / "state"
    settings = settings_for(
        conversations, state, CHECKPOINT_EVERY_LINES="20", UPSERT_BATCH_POINTS="8"
    )
    inner = EdgeSink(settings.store_dir, "conversations")
    inner.open(embedder.identity)
    sink = FailingSink(inner, budget=12)
    importer = Importer(settings, embedder, sink, ckpt.Checkpoint())  # type: ignore[arg-type]
    with pytest.raises(BaseException) as failure:
        await importer.run(once=True)
    assert "injected failure" in repr(failure.value)
    saved = ckpt.load(settings.checkpoint_path)
    covered = [(rel, fs.offset) for rel, fs in saved.files.items() if fs.offset > 0]
    assert covered  # some progress was saved before the failure
    # Every point from a line before a checkpointed offset was acknowledged.
    points = all_points(inner)
    inner.close()
    for rel, offset in covered:
        expected = {i for i, p in points.items() if p["path"] == rel and p["offset"] < offset}
        assert expected <= sink.acked
    # And a rerun completes the import to exactly what a clean run gives.
    _, resumed = await import_once(conversations, state, embedder)
    _, clean = await import_once(conversations, tmp_path / "clean", embedder)
    try:
        assert all_points(resumed) == all_points(clean)
    finally:
        resumed.close()
        clean.close()


def test_another_model_on_the_collection_exits_2(demo_copy: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    meta = state / "qdrant" / "conversations.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"name": "BAAI/bge-small-en-v1.5", "dim": 384, "fingerprint": "x"}))
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
    result = run_cli("--once", env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "BAAI/bge-small-en-v1.5" in result.stderr
    big = run_cli(
        "--once", env={**env, "STATE_DIR": str(tmp_path / "s2"), "CHUNK_MAX_TOKENS": "300"}
    )
    assert big.returncode == 2
    assert "CHUNK_MAX_TOKENS=300" in big.stderr
