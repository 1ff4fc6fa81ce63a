"""Hybrid retrieval: BM25 terms for exact tokens, fused with the model; schema and reindex."""

from __future__ import annotations

import json
from pathlib import Path

from streaming_importer.embedding.bm25 import Bm25Encoder, terms
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.search.find import search
from streaming_importer.search.query import SearchQuery

from ..conftest import import_once, run_cli, stored_points

WEBHOOK = "9d2c47e1-0b6a-4f3e-8c5d-71a9e3b2f608"


def test_identifiers_paths_and_shas_match_whole_and_by_parts() -> None:
    assert terms("parse_line") == ["parse_line", "parse", "line"]
    assert terms("parseLine") == ["parseline", "parse", "line"]
    assert terms("HTTPServer") == ["httpserver", "http", "server"]
    assert set(terms("see src/app/main.py")) == {
        "see",
        "src/app/main.py",
        "main.py",
        "src",
        "app",
        "main",
        "py",
    }
    sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"
    assert terms(f"commit {sha}") == ["commit", sha, "9fceb02"]
    assert terms("x" * 65) == []  # base64 left-overs are not terms


def test_query_and_document_vectors_share_terms() -> None:
    encoder = Bm25Encoder()
    document = encoder.document("the error came from parse_line in src/app/main.py")
    for query in ("parse_line", "parse", "main.py", "src/app/main.py"):
        assert set(encoder.query(query).indices) <= set(document.indices), query
    assert not set(encoder.query("unrelated").indices) & set(document.indices)


async def test_exact_tokens_are_found_by_bm25_and_hybrid(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    folder = tmp_path / "conversations" / "-home-dev-app"
    folder.mkdir(parents=True)
    sha = "4c1f0e9a7b3d2c5e8f6a1b0c9d8e7f6a5b4c3d2e"
    lines = [
        {
            "type": "user",
            "uuid": f"eeeeeeee-0000-4000-8000-00000000000{i}",
            "sessionId": f"ffffffff-0000-4000-8000-00000000000{i}",
            "cwd": "/home/dev/app",
            "timestamp": "2026-10-30T09:00:00.000Z",
            "message": {"role": "user", "content": text},
        }
        for i, text in enumerate(
            [
                f"the regression was introduced by commit {sha} in the billing module",
                "the billing module regression came from a change in rounding",
                "the payment retries were too aggressive after the outage",
            ]
        )
    ]
    for line in lines:
        (folder / f"{line['sessionId']}.jsonl").write_text(json.dumps(line) + "\n")
    _, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    encoder = Bm25Encoder()
    try:
        for mode in ("bm25", "hybrid"):
            query = SearchQuery(f"what happened in {sha[:7]}?", limit=1, mode=mode)
            (found,) = search(embedder, encoder, sink, query)
            assert found.best.payload["session_id"].endswith("0"), mode
        # Found by its words, a short SHA is a confident match whatever the
        # model makes of it (its cosine to the chunk is low).
        (found,) = search(embedder, encoder, sink, SearchQuery(sha[:7], limit=1))
        assert found.best.payload["session_id"].endswith("0")
        assert found.confident and (found.relevance or 0.0) < 0.46
    finally:
        sink.close()


def test_an_older_collection_is_refused_and_reindex_rebuilds_it(
    demo_copy: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
    assert run_cli("--once", env=env).returncode == 0
    before = stored_points(state)
    # What an older version left: no schema in the collection's description.
    meta = state / "qdrant" / "conversations.json"
    described = json.loads(meta.read_text())
    assert described.pop("schema") == 2
    meta.write_text(json.dumps(described))
    refused = run_cli("--once", env=env)
    assert refused.returncode == 2
    assert "older version" in refused.stderr and "reindex" in refused.stderr
    rebuilt = run_cli("reindex", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert stored_points(state) == before  # same ids, same payloads
    assert json.loads(meta.read_text())["schema"] == 2
    hits = json.loads(run_cli("search", "webhook test", "--json", env=env).stdout)
    assert hits[0]["session_id"] == WEBHOOK
