"""The embed stage: chunks in, embedded points out, in padded-token budgets.

It gathers a window of up to :data:`WINDOW_CHUNKS` chunks (what is already
queued, without waiting for more: a backfill fills whole windows, a live
append goes at once), takes the vectors of texts seen before from a bounded
cache, sorts the rest by length and cuts batches of at most
``EMBED_BATCH_TOKENS`` padded tokens, and runs the model on their token ids in
one worker thread. Marks ride along with the window they follow; a control or
a forget acts on stored points, so what came before it goes first, and it
goes alone.
"""

from __future__ import annotations

import hashlib
import time
from array import array
from collections import OrderedDict
from collections.abc import Sequence

import anyio
import anyio.to_thread
from anyio.abc import ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream

from streaming_importer.embedding.chunk import Chunk
from streaming_importer.embedding.embedder import Embedder
from streaming_importer.ops.metrics import Metrics
from streaming_importer.pipeline.items import Batch, Event, Item, Mark, WorkChunk
from streaming_importer.pipeline.points import to_point

__all__ = ["WINDOW_CHUNKS", "EmbedStage", "VectorCache", "padded_batches"]

#: Chunks gathered before they are sorted by length and cut into batches.
WINDOW_CHUNKS = 256


class EmbedStage:
    """Turns the intake's items into batches of points for the store."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        source: str,
        batch_tokens: int,
        cache_entries: int,
        model_thread: anyio.CapacityLimiter,
        metrics: Metrics,
        stop: anyio.Event,
    ) -> None:
        self._embedder = embedder
        self._source = source
        self._batch_tokens = batch_tokens
        self._cache = VectorCache(cache_entries, embedder.identity.fingerprint)
        self._model_thread = model_thread
        self._metrics = metrics
        self._stop = stop

    async def run(
        self, recv: MemoryObjectReceiveStream[Item], send: ObjectSendStream[Batch]
    ) -> None:
        """Embed until ``recv`` ends; closes both streams."""
        async with recv, send:
            window: list[WorkChunk] = []
            events: list[Event] = []
            async for item in recv:
                if self._stop.is_set():
                    # Stopping: what is queued but not yet embedded is dropped.
                    # Its lines are after the last applied mark, so the next
                    # run reads them again from the checkpoint.
                    continue
                items = [item]
                # Gather what is already queued, without waiting for more.
                while len(window) + len(items) < WINDOW_CHUNKS:
                    try:
                        items.append(recv.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                for it in items:
                    if isinstance(it, WorkChunk):
                        window.append(it)
                    elif isinstance(it, Mark):
                        events.append(it)
                    else:
                        # A control acts on points: everything before it is
                        # stored first, then it goes alone.
                        if window or events:
                            await send.send(await self.embed_window(window, events))
                            window, events = [], []
                        await send.send(Batch([], 0, [it]))
                if window or events:
                    await send.send(await self.embed_window(window, events))
                    window, events = [], []

    async def embed_window(self, window: list[WorkChunk], events: list[Event]) -> Batch:
        """The points of ``window`` (embedded in the model thread), followed by ``events``."""
        if not window:
            return Batch([], 0, events)
        started = time.perf_counter()
        vectors, computed, reused = await anyio.to_thread.run_sync(
            self.embed_sorted, [w.chunk for w in window], limiter=self._model_thread
        )
        points = [
            to_point(self._source, w.chunk, w.rel_path, w.offset, v, w.sparse)
            for w, v in zip(window, vectors, strict=True)
        ]
        return Batch(points, computed, events, reused, time.perf_counter() - started)

    def embed_sorted(self, chunks: Sequence[Chunk]) -> tuple[list[list[float]], int, int]:
        """Vectors for ``chunks``, each text embedded once. Runs in the model thread.

        A text already in the cache (or twice in this window) is not computed
        again. The rest is embedded from its token ids in length-sorted
        batches of at most ``EMBED_BATCH_TOKENS`` padded tokens. Returns the
        vectors and the tokens computed and reused.
        """
        vectors: list[list[float] | None] = [None] * len(chunks)
        first_of: dict[str, int] = {}  # text -> the chunk that computes it
        reused = 0
        for i, chunk in enumerate(chunks):
            cached = self._cache.get(chunk.text)
            if cached is not None:
                vectors[i] = cached
                reused += chunk.n_tokens
            elif chunk.text in first_of:
                reused += chunk.n_tokens
            else:
                first_of[chunk.text] = i
        order = sorted(first_of.values(), key=lambda i: chunks[i].n_tokens)
        computed = 0
        lengths = [c.n_tokens for c in chunks]
        for batch in padded_batches(order, lengths, self._batch_tokens):
            started = time.perf_counter()
            embedded = self._embedder.embed_ids([chunks[i].token_ids for i in batch])
            self._metrics.embed_seconds.observe(time.perf_counter() - started)
            self._metrics.batch_tokens.observe(max(lengths[i] for i in batch) * len(batch))
            for i, vector in zip(batch, embedded, strict=True):
                vectors[i] = vector
                self._cache.put(chunks[i].text, vector)
                computed += chunks[i].n_tokens
        out: list[list[float]] = []
        for i, chunk in enumerate(chunks):
            # A repeat within this window takes the vector of its first.
            found = vectors[i] if vectors[i] is not None else vectors[first_of[chunk.text]]
            assert found is not None
            out.append(found)
        return out, computed, reused


class VectorCache:
    """Vectors of recently embedded texts: a bounded LRU, keyed by a hash of text and model.

    About 15% of a transcript folder's text recurs verbatim (compaction
    summaries, a subagent's prompt repeating its parent's tool call, a file
    read twice); its vector is reused instead of computed again. Vectors are
    kept as float32 arrays (4 bytes a dimension).
    """

    def __init__(self, max_entries: int, model: str) -> None:
        self._max = max_entries
        self._salt = model.encode()
        self._entries: OrderedDict[bytes, array[float]] = OrderedDict()

    def _key(self, text: str) -> bytes:
        return hashlib.blake2b(text.encode(), digest_size=16, key=self._salt[:64]).digest()

    def get(self, text: str) -> list[float] | None:
        if not self._max:
            return None
        key = self._key(text)
        vector = self._entries.get(key)
        if vector is None:
            return None
        self._entries.move_to_end(key)
        return vector.tolist()

    def put(self, text: str, vector: list[float]) -> None:
        if not self._max:
            return
        self._entries[self._key(text)] = array("f", vector)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def padded_batches(order: Sequence[int], lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Cut indices, in the given order, into batches of at most ``budget`` padded tokens.

    Sorted by length, little is padding. A batch is padded to its longest
    sequence, so it costs ``longest x count``
    tokens of compute and of ONNX Runtime arena. A sequence longer than the
    budget goes alone.
    """
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for i in order:
        longest = max(longest, lengths[i]) if batch else lengths[i]
        if batch and longest * (len(batch) + 1) > budget:
            batches.append(batch)
            batch, longest = [], lengths[i]
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches
