"""Each stage alone: segment, embed stage, store stage and ledger, without the importer.

Real model, real embedded engine, real transcripts; the only fakes wrap our own
seams (an embedder that records its batches, a sink whose first writes fail).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.chunk import Chunker
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.errors import StoreUnavailableError
from streaming_importer.ops.metrics import Metrics, Reading
from streaming_importer.pipeline.embed_stage import WINDOW_CHUNKS, EmbedStage
from streaming_importer.pipeline.items import Batch, Forget, Item, Mark
from streaming_importer.pipeline.ledger import Ledger
from streaming_importer.pipeline.segment import MARK_EVERY_CHUNKS, Block, Rules, segment_block
from streaming_importer.pipeline.store_stage import StoreStage
from streaming_importer.pipeline.tracking import Control
from streaming_importer.sources.files import FileIdentity, digest, read_span
from streaming_importer.sources.messages import FileContext, ParseLimits, file_context_for
from streaming_importer.sources.tail import Line
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.counters import Stats
from streaming_importer.state.privacy import Privacy, Tombstones
from streaming_importer.store import Point
from streaming_importer.store.edge import EdgeSink

from ..conftest import DEMO, all_points
from .test_live import BLOG, record

SAMPLE = "sample-project/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
BLOG_SESSION = "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"


def lines_of(data: bytes) -> list[Line]:
    """The complete lines of ``data`` with their byte offsets, as the tailer yields them."""
    out, start = [], 0
    for raw in data.splitlines(keepends=True):
        if raw.endswith(b"\n"):
            out.append(Line(raw[:-1], start, start + len(raw)))
        start += len(raw)
    return out


def rules_for(embedder: FastEmbedEmbedder, *, tombstones: Tombstones | None = None) -> Rules:
    return Rules(
        limits=ParseLimits(redact_secrets=True),
        chunker=Chunker(embedder.tokenizer(), 128, 16, embedder.special_tokens),
        privacy=Privacy((), tombstones or Tombstones()),
        lexical=Bm25Encoder(),
    )


def segment_file(path: Path, rel: str, rules: Rules, data: bytes | None = None) -> Block:
    data = path.read_bytes() if data is None else data
    return segment_block(
        lines_of(data),
        file_context_for(rel),
        FileIdentity(1, 2),
        rules,
        lambda start, n: read_span(path, start, n),
    )


def no_metrics() -> Metrics:
    return Metrics(lambda: Reading({}, {}))


def fresh_ledger(folder: Path) -> Ledger:
    """A ledger of a new checkpoint in ``folder``, saving every 1,000 lines."""
    return Ledger(
        ckpt.Checkpoint(),
        Stats(),
        checkpoint_path=folder / "checkpoint.json",
        quarantine_path=folder / "quarantine.jsonl",
        save_every_lines=1000,
    )


def embed_stage(
    embedder: object, *, cache_entries: int = 0, stop: anyio.Event | None = None
) -> EmbedStage:
    """The embed stage as the importer builds it (512 padded tokens a batch)."""
    return EmbedStage(
        embedder,  # type: ignore[arg-type]
        source="claude-code",
        batch_tokens=512,
        cache_entries=cache_entries,
        model_thread=anyio.CapacityLimiter(1),
        metrics=no_metrics(),
        stop=stop or anyio.Event(),
    )


# -- segment ------------------------------------------------------------------


def test_segment_cuts_a_block_into_marked_segments_with_their_identity(
    corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    path = corpus / SAMPLE
    data = path.read_bytes()
    rules = rules_for(embedder)
    block = segment_file(path, "p/s.jsonl", rules)
    segments = block.segments
    assert len(segments) > 3
    # Each segment closes once it holds MARK_EVERY_CHUNKS chunks (one line may add several).
    for seg in segments[:-1]:
        assert MARK_EVERY_CHUNKS <= len(seg.chunks) < MARK_EVERY_CHUNKS + 200
    assert sum(s.lines for s in segments) == len(lines_of(data))
    ends = [s.end for s in segments]
    assert ends == sorted(set(ends)) and ends[-1] == block.end == len(data)
    for seg in segments:
        # The tail hash proves the bytes just before the segment's end.
        assert seg.tail_hash == digest(data[seg.end - seg.tail_len : seg.end])
        assert all(w.offset < seg.end and w.sparse is not None for w in seg.chunks)
    head = data[:4096]
    assert block.identity == FileIdentity(
        1, 2, len(head), digest(head), segments[-1].tail_len, segments[-1].tail_hash
    )
    assert block.context.project is not None
    # Deterministic: the same lines give the same chunks and hashes.
    again = segment_file(path, "p/s.jsonl", rules)
    assert [[w.chunk.text for w in s.chunks] for s in again.segments] == [
        [w.chunk.text for w in s.chunks] for s in segments
    ]
    assert again.identity == block.identity


def test_segment_refuses_a_no_index_session_without_touching_the_rules(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        (DEMO / BLOG).read_bytes()
        + record("dddddddd-1111-4111-8111-000000000001", "keep this out #no-index")
        + record("dddddddd-1111-4111-8111-000000000002", "and this after it")
    )
    rules = rules_for(embedder)
    block = segment_file(path, BLOG, rules)
    assert block.marked == [BLOG_SESSION]
    forgets = [f for s in block.segments for f in s.forgets]
    assert [f.session for f in forgets] == [BLOG_SESSION]
    texts = [w.chunk.text for s in block.segments for w in s.chunks]
    assert not any("no-index" in t or "and this after it" in t for t in texts)
    assert sum(s.excluded for s in block.segments) == 2
    # Pure: the caller decides what the marker changes for later blocks.
    assert rules.privacy.tombstones == Tombstones()
    # A forgotten session yields no chunk at all.
    gone = segment_file(path, BLOG, rules_for(embedder, tombstones=Tombstones({BLOG_SESSION})))
    assert not any(s.chunks for s in gone.segments)


def test_segment_quarantines_bad_lines_and_reads_only_through_its_reader(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    good = record("dddddddd-1111-4111-8111-000000000001", "rotate AKIAIOSFODNN7EXAMPLE today")
    data = good + b"not json\n" + b"x" * 100 + b"\n" + good
    lines = lines_of(data)
    # The third line stands for an overlong one: the tailer gives only its span.
    lines[2] = Line(b"", lines[2].start, lines[2].end, overlong=True)
    reads: list[tuple[int, int]] = []

    def read(start: int, n: int) -> bytes:
        reads.append((start, n))
        return data[start : start + n]

    block = segment_block(
        lines, FileContext("p/s.jsonl", "s"), FileIdentity(1, 2), rules_for(embedder), read
    )
    (seg,) = block.segments
    reasons = [q[2] for q in seg.quarantined]
    assert [q[0] for q in seg.quarantined] == [lines[1].start, lines[2].start]
    assert reasons[1] == "line too long" and reasons[0]
    assert seg.redacted == 2
    assert all("AKIAIOSFODNN7EXAMPLE" not in w.chunk.text for w in seg.chunks)
    # Only the overlong line's tail (none: it is not last) and the head were read.
    assert reads == [(0, len(data))]


# -- embed stage --------------------------------------------------------------


class RecordingEmbedder:
    """The real model, remembering the padded size of every batch it ran (our seam)."""

    def __init__(self, inner: FastEmbedEmbedder) -> None:
        self._inner = inner
        self.identity = inner.identity
        self.window = inner.window
        self.special_tokens = inner.special_tokens
        self.batches: list[list[int]] = []

    def tokenizer(self) -> object:
        return self._inner.tokenizer()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._inner.embed(texts)

    def embed_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
        self.batches.append([len(s) for s in sequences])
        return self._inner.embed_ids(sequences)


async def run_embed_stage(
    stage: EmbedStage, items: Sequence[Item], capacity: int = 1000
) -> list[Batch]:
    send, recv = anyio.create_memory_object_stream[Item](capacity)
    out_send, out_recv = anyio.create_memory_object_stream[Batch](capacity)
    for item in items:
        send.send_nowait(item)
    send.close()
    await stage.run(recv, out_send)
    async with out_recv:
        return [b async for b in out_recv]


async def test_embed_stage_batches_by_padded_tokens_and_computes_each_text_once(
    corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    block = segment_file(corpus / SAMPLE, "p/s.jsonl", rules_for(embedder))
    work = [w for s in block.segments for w in s.chunks][:150]
    repeat = dataclasses.replace(work[5], offset=work[5].offset + 1)  # the same text again
    mark = Mark("p/s.jsonl", 10, block.context, block.identity, 10, 1, 151, [])
    recording = RecordingEmbedder(embedder)
    stage = embed_stage(recording, cache_entries=100)
    (batch,) = await run_embed_stage(stage, [*work, repeat, mark])
    assert batch.events == [mark]
    assert len(batch.points) == 151
    assert batch.points[5].vector == batch.points[150].vector
    first_tokens: dict[str, int] = {}
    for w in [*work, repeat]:
        first_tokens.setdefault(w.chunk.text, w.chunk.n_tokens)
    assert batch.tokens == sum(first_tokens.values())
    assert batch.reused == sum(w.chunk.n_tokens for w in [*work, repeat]) - batch.tokens > 0
    # No model call over the budget: the longest sequence (with [CLS]/[SEP]) times the count.
    assert max((max(b) + 2) * len(b) for b in recording.batches) <= 512
    assert sum(len(b) for b in recording.batches) == len(first_tokens)
    # Vectors as the model gives them for those ids.
    direct = embedder.embed_ids([work[0].chunk.token_ids, work[99].chunk.token_ids])
    assert batch.points[0].vector == pytest.approx(direct[0], abs=1e-5)
    assert batch.points[99].vector == pytest.approx(direct[1], abs=1e-5)


async def test_embed_stage_sends_a_control_alone_after_what_came_before_it(
    corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    block = segment_file(corpus / SAMPLE, "p/s.jsonl", rules_for(embedder))
    work = [w for s in block.segments for w in s.chunks][: WINDOW_CHUNKS + 20]
    control = Control("reset", "p/other.jsonl")
    forget = Forget(session="s")
    stage = embed_stage(embedder)
    batches = await run_embed_stage(stage, [*work[:10], control, *work[10:], forget])
    shapes = [(len(b.points), b.events) for b in batches]
    assert shapes[:2] == [(10, []), (0, [control])]
    assert shapes[-1] == (0, [forget])
    # The rest came in windows of at most WINDOW_CHUNKS.
    middle = [n for n, _ in shapes[2:-1]]
    assert sum(middle) == len(work) - 10 and max(middle) <= WINDOW_CHUNKS
    # Stopping drops what is queued: its lines are after the last mark.
    stop = anyio.Event()
    stop.set()
    stopped = embed_stage(embedder, stop=stop)
    assert await run_embed_stage(stopped, work[:10]) == []


# -- ledger -------------------------------------------------------------------


def test_ledger_applies_marks_counts_twice_and_saves_a_loadable_checkpoint(
    tmp_path: Path,
) -> None:
    stats = Stats()
    state = ckpt.Checkpoint()
    state.totals.lines = 1000  # from earlier runs
    ledger = Ledger(
        state,
        stats,
        checkpoint_path=tmp_path / "checkpoint.json",
        quarantine_path=tmp_path / "quarantine.jsonl",
        save_every_lines=10,
    )
    context = FileContext("p/a.jsonl", "a", project="/home/p")
    first = Mark("p/a.jsonl", 500, context, FileIdentity(1, 7, 500, "h", 100, "t1"), 900, 6, 9, [])
    second = Mark(
        "p/a.jsonl",
        900,
        context,
        FileIdentity(1, 7, 900, "h2", 100, "t2"),
        900,
        4,
        3,
        [(600, 20, "not a JSON object")],
        redacted=2,
        file_done=True,
    )
    ledger.stored(Batch([], 12, [], reused=5, seconds=0.25))
    ledger.apply(first)
    assert not ledger.save_due()
    ledger.apply(second)
    assert ledger.save_due()
    saved = state.files["p/a.jsonl"]
    assert (saved.offset, saved.lines, saved.chunks, saved.size) == (900, 10, 12, 900)
    assert saved.identity == second.identity and saved.context["project"] == "/home/p"
    assert stats.bytes_done == 900 and stats.files_imported == 1
    for counts in (stats, state.totals):
        assert (counts.tokens_embedded, counts.tokens_reused, counts.quarantined) == (12, 5, 1)
        assert (counts.secrets_redacted, counts.embed_seconds) == (2, 0.25)
    assert (stats.lines, state.totals.lines) == (10, 1010)
    logged = [json.loads(x) for x in (tmp_path / "quarantine.jsonl").read_text().splitlines()]
    assert logged == [
        {"path": "p/a.jsonl", "offset": 600, "length": 20, "reason": "not a JSON object"}
    ]
    ledger.control(Control("move", "p/a.jsonl", new_path="q/a.jsonl"))
    ledger.forgotten(Forget(project="secret"), {"s1", "s2"})
    ledger.save()
    assert not ledger.save_due()
    again = ckpt.load(tmp_path / "checkpoint.json")
    assert list(again.files) == ["q/a.jsonl"]
    assert again.files["q/a.jsonl"].context["rel_path"] == "q/a.jsonl"
    assert again.files["q/a.jsonl"].identity == second.identity
    assert again.totals == state.totals and again.forgotten.projects == {"secret"}
    # A forgotten project's sessions are refused too, where a point names no project.
    assert again.forgotten.sessions == {"s1", "s2"}
    assert ledger.refuses({"session_id": "s2", "project": None})
    assert ledger.refuses({"session_id": "x", "project": "/home/secret", "project_name": "secret"})
    assert not ledger.refuses({"session_id": "x", "project": "/home/a", "project_name": "a"})
    ledger.control(Control("reset", "q/a.jsonl"))
    assert state.files == {}


def test_checkpoint_files_keep_the_flat_version_1_layout(tmp_path: Path) -> None:
    # Written by the version before the identity became one value: still read,
    # and written back the same.
    entry = {
        "offset": 900,
        "device": 1,
        "inode": 7,
        "context": {"rel_path": "p/a.jsonl", "session_id": "a"},
        "size": 900,
        "lines": 10,
        "chunks": 12,
        "head_len": 900,
        "head_hash": "h2",
        "tail_len": 100,
        "tail_hash": "t2",
    }
    totals = {
        "lines": 10,
        "chunks": 12,
        "tokens_embedded": 5,
        "tokens_reused": 0,
        "embed_seconds": 0.5,
        "quarantined": 0,
        "secrets_redacted": 0,
        "memory_ceiling_exits": 1,
    }
    data = {
        "version": 1,
        "last_import": None,
        "forgotten": {"sessions": [], "projects": []},
        "totals": totals,
        "files": {"p/a.jsonl": entry},
    }
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(data))
    loaded = ckpt.load(path)
    assert loaded.files["p/a.jsonl"].identity == FileIdentity(1, 7, 900, "h2", 100, "t2")
    assert json.loads(loaded.to_json()) == data


# -- store stage --------------------------------------------------------------


class FlakySink(EdgeSink):
    """The embedded store, unreachable for its first ``failures`` upserts (our seam)."""

    def __init__(self, folder: Path, failures: int) -> None:
        super().__init__(folder, "conversations")
        self.failures = failures
        self.upserts = 0
        #: Set when the last injected failure is raised.
        self.failed = threading.Event()

    def upsert(self, points: Sequence[Point]) -> None:
        self.upserts += 1
        if self.failures:
            self.failures -= 1
            if not self.failures:
                self.failed.set()
            raise StoreUnavailableError("the store did not answer (injected)")
        super().upsert(points)


async def test_store_stage_advances_the_ledger_only_after_the_store_acknowledged(
    tmp_path: Path, corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    block = segment_file(corpus / SAMPLE, "p/s.jsonl", rules_for(embedder))
    work = [w for s in block.segments for w in s.chunks][:20]
    stage = embed_stage(embedder)
    mark = Mark("p/s.jsonl", 4000, block.context, block.identity, 9000, 5, 20, [], file_done=True)
    (batch,) = await run_embed_stage(stage, [*work, mark])
    sink = FlakySink(tmp_path / "qdrant", failures=2)
    sink.open(embedder.identity)
    ledger = fresh_ledger(tmp_path)
    seen_down: list[float | None] = []

    def after(b: Batch) -> None:
        seen_down.append(store.down_since)

    store = StoreStage(
        sink,
        ledger,
        source="claude-code",
        upsert_points=8,
        retry_timeout_s=60,
        store_thread=anyio.CapacityLimiter(1),
        metrics=no_metrics(),
        after_batch=after,
    )
    send, recv = anyio.create_memory_object_stream[Batch](1)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.run, recv)
            await send.send(batch)
            # While the store refuses, nothing reaches the ledger or the checkpoint.
            assert await anyio.to_thread.run_sync(sink.failed.wait, 30)
            assert ledger.state.files == {} and store.down_since is not None
            assert not (tmp_path / "checkpoint.json").exists()
            await send.aclose()
        assert sink.upserts == 2 + 3  # then 20 points in requests of 8
        assert seen_down == [None]  # the store answers again
        assert len(all_points(sink)) == 20
    finally:
        sink.close()
    saved = ckpt.load(tmp_path / "checkpoint.json")  # the file is done: saved
    assert saved.files["p/s.jsonl"].offset == 4000
    assert saved.totals.chunks == 20 and ledger.stats.points == 20
