from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_importer.errors import ModelMismatchError, StoreLockedError
from streaming_importer.store import Point, Sink, Sparse, Where
from streaming_importer.store.base import ModelIdentity
from streaming_importer.store.edge import EdgeSink

from ..conftest import server_sink

IDENTITY = ModelIdentity(name="test-model", dim=4, fingerprint="sha256:abc")


def point(i: int, project: str, vector: list[float]) -> Point:
    return Point(
        str(uuid.uuid5(uuid.NAMESPACE_OID, str(i))),
        vector,
        {"text": f"t{i}", "project": project, "project_name": project.rsplit("/", 1)[-1]},
    )


@pytest.fixture(params=["edge", "server"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sink]:
    s: Sink
    if request.param == "edge":
        s = EdgeSink(tmp_path / "qdrant", "conversations")
    else:
        s = server_sink()
    yield s
    s.close()


def test_upsert_search_count_and_filter(sink: Sink) -> None:
    sink.open(IDENTITY)
    assert sink.count() == 0
    sink.upsert(
        [
            point(1, "/home/a/shop", [1, 0, 0, 0]),
            point(2, "/home/a/blog", [0.9, 0.1, 0, 0]),
            point(3, "/home/a/shop", [0, 1, 0, 0]),
        ]
    )
    sink.flush()
    assert sink.count() == 3
    hits = sink.search(2, Where(), dense=[1, 0, 0, 0])
    assert [h.payload["text"] for h in hits] == ["t1", "t2"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    shop = sink.search(5, Where({"project_name": "shop"}), dense=[1, 0, 0, 0])
    assert [h.payload["text"] for h in shop] == ["t1", "t3"]
    # The same id again is an update, not a second point.
    sink.upsert([point(1, "/home/a/shop", [1, 0, 0, 0])])
    assert sink.count() == 3
    assert sink.stored_identity() == {**IDENTITY.to_json(), "schema": 2}
    # One ranking per query: the caller fuses them (streaming_importer.search.ranking).
    for vectors in ({}, {"dense": [1.0, 0, 0, 0], "sparse": Sparse((1,), (1.0,))}):
        with pytest.raises(ValueError, match="not both or neither"):
            sink.search(2, Where(), **vectors)  # type: ignore[arg-type]


def test_every_point_page_by_page_and_the_redaction_record(sink: Sink) -> None:
    sink.open(IDENTITY)
    assert sink.stored_redaction() is None
    sink.upsert([point(i, "/home/a/shop", [1, i, 0, 0]) for i in range(7)])
    sink.flush()
    pages = list(sink.pages(3))
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(h.payload["text"] for page in pages for h in page) == [f"t{i}" for i in range(7)]
    sink.record_redaction("detect-secrets 1.5.0; own rules 1")
    assert sink.stored_redaction() == "detect-secrets 1.5.0; own rules 1"
    # The identity is kept beside it.
    assert sink.stored_identity() == {**IDENTITY.to_json(), "schema": 2}


def test_the_redaction_record_survives_reopening(tmp_path: Path) -> None:
    first = EdgeSink(tmp_path / "qdrant", "conversations")
    first.open(IDENTITY)
    first.record_redaction("rules 2")
    first.close()
    again = EdgeSink(tmp_path / "qdrant", "conversations")
    again.open(IDENTITY)
    try:
        assert again.stored_redaction() == "rules 2"
    finally:
        again.close()


def test_edge_store_reopens_and_refuses_another_model(tmp_path: Path) -> None:
    first = EdgeSink(tmp_path / "qdrant", "c")
    first.open(IDENTITY)
    first.upsert([point(1, "/p", [1, 0, 0, 0])])
    first.close()
    again = EdgeSink(tmp_path / "qdrant", "c")
    again.open(IDENTITY)
    assert again.count() == 1
    again.close()
    other = ModelIdentity(name="other", dim=8, fingerprint="other")
    with pytest.raises(ModelMismatchError, match="test-model"):
        EdgeSink(tmp_path / "qdrant", "c").open(other)


def test_server_collection_refuses_another_model() -> None:
    s = server_sink()
    s.open(IDENTITY)
    with pytest.raises(ModelMismatchError, match="other"):
        s.open(ModelIdentity(name="other", dim=4, fingerprint="other"))
    s.close()


def test_edge_store_is_locked_while_open(tmp_path: Path) -> None:
    holder = EdgeSink(tmp_path / "qdrant", "c")
    holder.open(IDENTITY)
    try:
        with pytest.raises(StoreLockedError, match="in use"):
            EdgeSink(tmp_path / "qdrant", "c").open(IDENTITY)
    finally:
        holder.close()


def test_reading_a_missing_collection_creates_nothing(tmp_path: Path) -> None:
    s = EdgeSink(tmp_path / "qdrant", "c")
    s.open(IDENTITY, create=False)
    assert s.count() == 0
    assert s.search(3, Where(), dense=[1, 0, 0, 0]) == []
    s.close()
    assert not (tmp_path / "qdrant").exists()
