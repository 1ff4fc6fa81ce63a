"""Several machines, one Qdrant server: each importer its own SOURCE_NAME, searched together.

The server here is qdrant-client's ``:memory:`` engine shared in this
process, or the real one ``QDRANT_URL`` names when the suite is run with it
(:func:`tests.conftest.server_sink`), and the stand-in server for what
``:memory:`` ignores (shards).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from mcp import Client

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.errors import ConfigError
from streaming_importer.ops.config import Settings
from streaming_importer.search.expand import stored_around
from streaming_importer.search.find import search
from streaming_importer.search.query import SearchQuery
from streaming_importer.store import Sink, Where, open_sink
from streaming_importer.surfaces.mcp import Backend, build_server
from streaming_importer.surfaces.report import store_counts

from ..conftest import DEMO, import_once, server_sink, settings_for
from ..pipeline.test_live import wait_for
from ..qdrant_standin import QdrantStandIn
from .test_engines import IDENTITY

_T = TypeVar("_T")
BLOG = "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"
#: The blog session as written on the other machine (another session id).
DESKTOP_BLOG = "0c9e5a47-3d1b-4f28-9a6e-b85d2f7c1e03"
QUESTION = "how did we add the Atom feed with RFC 3339 dates?"


@pytest.fixture(scope="module")
def shared(
    embedder: FastEmbedEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Sink, Settings]:
    """The demo imported as ``laptop``; its blog session, renamed, as ``desktop``."""
    root = tmp_path_factory.mktemp("machines")
    laptop = root / "laptop"
    shutil.copytree(DEMO, laptop)
    desktop = root / "desktop" / "-home-dev-blog"
    desktop.mkdir(parents=True)
    text = (DEMO / "-home-dev-blog" / f"{BLOG}.jsonl").read_text()
    (desktop / f"{DESKTOP_BLOG}.jsonl").write_text(text.replace(BLOG, DESKTOP_BLOG))
    sink = server_sink()
    for name, folder in (("laptop", laptop), ("desktop", desktop.parent)):
        asyncio.run(import_once(folder, root / f"state-{name}", embedder, sink, SOURCE_NAME=name))
    return sink, settings_for(laptop, root / "state-laptop", SOURCE_NAME="laptop")


def test_search_and_status_span_the_machines(
    shared: tuple[Sink, Settings], embedder: FastEmbedEmbedder
) -> None:
    sink, settings = shared
    counts = store_counts(sink, settings)
    assert set(counts.sources) == {"laptop", "desktop"}
    assert counts.points == counts.sources["laptop"] + counts.sources["desktop"]
    encoder = Bm25Encoder()
    both = search(embedder, encoder, sink, SearchQuery(QUESTION, limit=2))
    assert {(h.best.payload["source"], h.best.payload["session_id"]) for h in both} == {
        ("laptop", BLOG),
        ("desktop", DESKTOP_BLOG),
    }
    for name, session in (("laptop", BLOG), ("desktop", DESKTOP_BLOG)):
        only = search(embedder, encoder, sink, SearchQuery(QUESTION, limit=5, source=name))
        assert only and {h.best.payload["source"] for h in only} == {name}
        assert only[0].best.payload["session_id"] == session
    assert SearchQuery("x", source="desktop").to_params()["source"] == "desktop"
    assert SearchQuery.from_params({"q": "x", "source": "desktop"}).source == "desktop"


def test_a_hit_from_another_machine_expands_from_stored_text(
    shared: tuple[Sink, Settings], embedder: FastEmbedEmbedder
) -> None:
    sink, _ = shared
    query = SearchQuery(QUESTION, limit=1, source="desktop", kinds=("answer",))
    hit = search(embedder, Bm25Encoder(), sink, query)[0].best.payload
    around = stored_around(sink, "desktop", hit["path"], hit["offset"], 2, 2, hit.get("turn"))
    assert all(m["from"] == "stored text" for m in around)
    texts = [m["text"] for m in around]
    assert any(hit["text"] in t for t in texts)
    at = next(i for i, t in enumerate(texts) if hit["text"] in t)
    assert 1 <= at <= 2 and len(around) - at - 1 <= 2
    # In order: the transcript's own order of lines.
    stamps = [m["timestamp"] for m in around]
    assert stamps == sorted(stamps)


class SharedBackend(Backend):
    """The MCP backend on the shared in-process server (``:memory:`` is per client)."""

    def __init__(self, settings: Settings, sink: Sink) -> None:
        super().__init__(settings)
        self._sink = sink

    def _with_store(self, use: Callable[[Sink], _T]) -> _T:
        return use(self._sink)


async def test_mcp_expand_says_where_the_text_came_from(shared: tuple[Sink, Settings]) -> None:
    sink, settings = shared
    payload = sink.scroll(Where({"source": "desktop", "kind": "prompt"}), 1)[0].payload
    async with Client(build_server(settings, SharedBackend(settings, sink))) as client:
        result = await client.call_tool(
            "expand",
            {
                "path": payload["path"],
                "offset": payload["offset"],
                "before": 0,
                "source": "desktop",
            },
        )
        assert not result.is_error, result.content
        data: Any = result.structured_content
        messages = data["result"] if isinstance(data, dict) and "result" in data else data
        assert messages and all(m["from"] == "stored text" for m in messages)
        assert messages[0]["text"].startswith("```history\n" + payload["text"][:40])
        missing = await client.call_tool(
            "expand", {"path": "nowhere.jsonl", "offset": 0, "source": "desktop"}
        )
        assert missing.is_error


def test_the_server_creates_the_collection_with_shards_and_replicas(tmp_path: Path) -> None:
    with QdrantStandIn() as server:
        settings = Settings.from_env(
            {
                "QDRANT_URL": server.url,
                "QDRANT_SHARDS": "6",
                "QDRANT_REPLICAS": "2",
                "STATE_DIR": str(tmp_path),
            }
        )
        sink = open_sink(settings)
        sink.open(IDENTITY)
        sink.close()
        # qdrant-client asks the server's version in a thread of its own.
        wait_for(lambda: "/" in server.answered, 10, "the client's version check")
        created = server.created["conversations"]
        assert created["shard_number"] == 6
        assert created["replication_factor"] == 2
    with pytest.raises(ConfigError, match="QDRANT_SHARDS"):
        Settings.from_env({"QDRANT_SHARDS": "0"})
