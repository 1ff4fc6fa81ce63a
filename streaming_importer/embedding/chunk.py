"""Messages -> chunks that fit the embedding model's window. Pure.

A model like all-MiniLM-L6-v2 reads at most 256 tokens and silently drops the
rest, so a longer text must be cut before it is embedded, with the model's own
tokenizer. Cuts fall between words (as the tokenizer's pre-tokenizer sees
them: whitespace and punctuation split words), so the tokens of a chunk's
text are exactly the tokens counted for it, and re-tokenizing a chunk never
gives more than ``max_tokens``. Consecutive chunks of one text overlap by a
few tokens so a phrase on a cut is still found.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Sequence
from typing import Protocol

from streaming_importer.sources.messages import Message

__all__ = ["Chunk", "Chunker", "Encoding", "Tokenizer", "split_text"]


class Encoding(Protocol):
    """What :meth:`Tokenizer.encode` returns (``tokenizers.Encoding`` fits)."""

    @property
    def ids(self) -> list[int]: ...

    @property
    def offsets(self) -> list[tuple[int, int]]: ...

    @property
    def word_ids(self) -> list[int | None]: ...


class Tokenizer(Protocol):
    """A model's tokenizer, with truncation and padding switched off."""

    def encode(self, sequence: str, *, add_special_tokens: bool = True) -> Encoding: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one message's text that the model reads whole."""

    message: Message
    #: Position of this chunk among the chunks of its message.
    index: int
    text: str
    #: Model tokens of the text, special tokens included.
    n_tokens: int
    #: The text's token ids, special tokens not included: the model reads
    #: these, so no chunk is tokenized twice.
    token_ids: array[int] = dataclasses.field(default_factory=lambda: array("I"))


@dataclasses.dataclass(frozen=True, slots=True)
class Chunker:
    """Cuts messages into chunks of at most ``max_tokens`` model tokens.

    ``special_tokens`` is how many tokens the model adds around every text
    ([CLS] and [SEP] for BERT models); they count against ``max_tokens``.
    """

    tokenizer: Tokenizer
    max_tokens: int
    overlap_tokens: int
    special_tokens: int = 2

    def chunk(self, message: Message) -> list[Chunk]:
        pieces = split_text(
            message.text,
            self.tokenizer,
            self.max_tokens - self.special_tokens,
            self.overlap_tokens,
        )
        return [
            Chunk(
                message=message,
                index=i,
                text=text,
                n_tokens=len(ids) + self.special_tokens,
                token_ids=ids,
            )
            for i, (text, ids) in enumerate(pieces)
        ]

    def chunk_all(self, messages: Sequence[Message]) -> list[Chunk]:
        return [chunk for message in messages for chunk in self.chunk(message)]


def split_text(
    text: str, tokenizer: Tokenizer, budget: int, overlap: int
) -> list[tuple[str, array[int]]]:
    """Cut ``text`` into pieces of at most ``budget`` tokens each.

    Returns ``(piece, token ids)`` pairs, special tokens not included. A text
    with no tokens gives no piece.
    """
    encoding = tokenizer.encode(text, add_special_tokens=False)
    offsets = encoding.offsets
    word_ids = encoding.word_ids
    all_ids = array("I", encoding.ids)
    n = len(offsets)
    if n == 0:
        return []
    if n <= budget:
        return [(text[offsets[0][0] : offsets[-1][1]], all_ids)]

    # Word boundaries as token positions: a cut is allowed only at one.
    starts = [
        i for i in range(n) if i == 0 or word_ids[i] is None or word_ids[i] != word_ids[i - 1]
    ]
    starts.append(n)
    pieces: list[tuple[str, array[int]]] = []
    w = 0  # index into starts of the current piece's first word
    while starts[w] < n:
        first = starts[w]
        end_w = w + 1
        while end_w < len(starts) - 1 and starts[end_w + 1] - first <= budget:
            end_w += 1
        last = starts[end_w]  # exclusive token end
        if last - first > budget:
            # One word longer than the budget (not possible with WordPiece,
            # which caps a word at 100 characters): cut it by tokens.
            last = first + budget
        pieces.append((text[offsets[first][0] : offsets[last - 1][1]], all_ids[first:last]))
        if last >= n:
            break
        # Step back over whole words for the overlap, always moving forward.
        next_w = end_w
        while next_w - 1 > w and last - starts[next_w - 1] <= overlap:
            next_w -= 1
        if starts[end_w] != last:
            # The giant-word case: continue inside the word.
            starts.insert(end_w, last)
            next_w = end_w
        w = next_w
    return pieces
