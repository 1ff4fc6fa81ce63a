from __future__ import annotations

from pathlib import Path

import numpy as np

from streaming_importer.embedding.chunk import Chunker
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.pipeline.embed_stage import VectorCache

from ..sources.test_claude import parse_file


def test_token_ids_give_the_vectors_fastembed_gives_for_the_text(
    corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    path = corpus / "sample-project" / "5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl"
    messages, _, _ = parse_file(path, "p/s.jsonl")
    chunker = Chunker(embedder.tokenizer(), 128, 16, embedder.special_tokens)
    chunks = chunker.chunk_all(messages)[:40]
    assert len({c.n_tokens for c in chunks}) > 5  # mixed lengths: padding matters
    by_text = np.array(embedder.embed([c.text for c in chunks]))
    by_ids = np.array(embedder.embed_ids([c.token_ids for c in chunks]))
    assert by_ids.shape == (40, 384)
    assert np.allclose((by_text * by_ids).sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(by_ids, axis=1), 1.0, atol=1e-5)


def test_vector_cache_is_bounded_and_keyed_by_text_and_model() -> None:
    cache = VectorCache(2, "model-a")
    cache.put("one", [1.0, 0.0])
    cache.put("two", [0.0, 1.0])
    assert cache.get("one") == [1.0, 0.0]  # now the most recent
    cache.put("three", [0.5, 0.5])
    assert len(cache) == 2
    assert cache.get("two") is None  # the least recently used went
    assert cache.get("three") == [0.5, 0.5]
    assert VectorCache(2, "model-b").get("one") is None
    off = VectorCache(0, "model-a")
    off.put("one", [1.0])
    assert off.get("one") is None and len(off) == 0
