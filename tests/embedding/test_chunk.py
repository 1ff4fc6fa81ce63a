from __future__ import annotations

import itertools
import re
from pathlib import Path

from streaming_importer.embedding.chunk import Chunker, split_text
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.sources.messages import Message

from ..sources.test_claude import parse_file


def message(text: str) -> Message:
    return Message(
        kind="answer",
        role="assistant",
        text=text,
        record_key="k",
        part=0,
        session_id="s",
        parent_session_id=None,
        agent_id=None,
        project=None,
        cwd=None,
        git_branch=None,
        timestamp=None,
        message_uuid=None,
        is_sidechain=False,
        is_compact_summary=False,
    )


def test_no_chunk_of_the_corpus_exceeds_the_model_window(
    corpus: Path, embedder: FastEmbedEmbedder
) -> None:
    window = embedder.window
    assert window == 256
    chunker = Chunker(embedder.tokenizer(), window, 32, embedder.special_tokens)
    # An independent count: the model's own tokenizer, special tokens and all.
    counter = embedder.tokenizer()
    total = split = 0
    longest = 0
    for path in sorted(corpus.rglob("*.jsonl")):
        messages, _, _ = parse_file(path, path.relative_to(corpus).as_posix())
        for m in messages:
            chunks = chunker.chunk(m)
            split += len(chunks) > 1
            for c in chunks:
                ids = counter.encode(c.text).ids
                n = len(ids)
                assert n <= window, (path, c.text[:80])
                assert n == c.n_tokens
                # The ids the model will read are exactly the chunk text's.
                assert ids[1:-1] == list(c.token_ids)
                longest = max(longest, n)
                total += 1
    assert total > 4000
    assert split > 100  # the corpus does hold texts longer than the window
    assert longest == window  # and chunks are filled up to it


def test_long_text_is_split_with_overlap_and_nothing_is_lost(
    embedder: FastEmbedEmbedder,
) -> None:
    words = [f"word{i}" for i in range(1500)]
    text = " ".join(words)
    pieces = split_text(text, embedder.tokenizer(), 100, 10)
    assert len(pieces) > 5
    seen: list[str] = []
    for piece, ids in pieces:
        assert len(ids) <= 100
        seen.extend(piece.split())
    assert set(seen) == set(words)
    # Consecutive pieces share their boundary words.
    for (a, _), (b, _) in itertools.pairwise(pieces):
        assert a.split()[-1] in b.split()[:12]
    # Cuts fall between words, never inside one.
    assert all(re.fullmatch(r"word\d+", w) for w in seen)


def test_short_and_empty_texts(embedder: FastEmbedEmbedder) -> None:
    chunker = Chunker(embedder.tokenizer(), 256, 32, 2)
    (only,) = chunker.chunk(message("  a short answer  "))
    assert (only.text, only.index) == ("a short answer", 0)
    assert only.n_tokens == 5
    assert chunker.chunk(message("\u200b")) == []


def test_a_word_longer_than_the_budget_is_cut_by_tokens(embedder: FastEmbedEmbedder) -> None:
    word = "ab" * 45  # one pre-tokenizer word of many word pieces
    pieces = split_text(f"start {word} end", embedder.tokenizer(), 8, 2)
    assert all(len(ids) <= 8 for _, ids in pieces)
    assert pieces[0][0].startswith("start")
    assert pieces[-1][0].endswith("end")
