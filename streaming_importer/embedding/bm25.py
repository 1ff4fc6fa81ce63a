"""Exact tokens for BM25: identifiers, paths and SHAs found whole and by parts.

Coding transcripts are full of tokens a small dense model ranks poorly: error
names, file paths, SHAs, function names. A sparse BM25 vector per chunk
finds them. :func:`terms` cuts text so that ``parse_line`` is found by
``parse_line``, ``parse`` and ``line``; ``src/app/main.py`` by the whole
path, ``main.py``, ``main`` and ``app``; ``parseLine`` by ``parseline``,
``parse`` and ``line``; a 40-character SHA also by its 7-character short
form. :class:`Bm25Encoder` hands those terms, space-separated, to
qdrant-edge-py's offline BM25 model (whitespace tokenizer, English stop
words and stemming), so both the embedded store and a Qdrant server get the
same sparse vectors, computed here; the store applies IDF.

:func:`terms` is pure.
"""

from __future__ import annotations

import re

import qdrant_edge as qe

from streaming_importer.store import Sparse

__all__ = ["Bm25Encoder", "terms", "tokens"]

#: A run of word characters joined by the separators paths and identifiers use.
_TOKEN = re.compile(r"[\w$]+(?:[./\\:#@-][\w$]+)*")
_SEPARATORS = re.compile(r"[./\\:#@_$-]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_HEX = re.compile(r"^[0-9a-f]{12,64}$")
_PLAIN = re.compile(r"[\W_]+")
#: Longer tokens (base64 left-overs, minified code) are noise, not terms.
MAX_TERM_CHARS = 64


def tokens(text: str) -> list[str]:
    """The whole tokens of ``text`` (no parts, no short SHAs), lowercase, in order."""
    return [m.group(0).lower() for m in _TOKEN.finditer(text) if len(m.group(0)) <= MAX_TERM_CHARS]


def terms(text: str) -> list[str]:
    """The BM25 terms of ``text``, lowercase, in order, a token's parts after it."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if len(token) > MAX_TERM_CHARS:
            continue
        whole = token.lower()
        out.append(whole)
        if _HEX.match(whole) and any(c.isdigit() for c in whole):
            out.append(whole[:7])  # the short SHA people quote
            continue
        pieces = [p for p in _SEPARATORS.split(token) if p]
        if "/" in token or "\\" in token:
            # A path's last segment is what people remember: main.py
            last = re.split(r"[/\\]", token)[-1]
            if last and last.lower() != whole and len(pieces) > 2:
                out.append(last.lower())
        for piece in pieces:
            if piece.lower() != whole:
                out.append(piece.lower())
            words = _CAMEL.findall(piece)
            if len(words) > 1:  # parseLine, HTTPServer
                out.extend(w.lower() for w in words)
    return out


class Bm25Encoder:
    """Sparse BM25 vectors of documents (chunks) and queries."""

    def __init__(self) -> None:
        self._model = qe.Bm25(
            qe.Bm25Config(
                tokenizer=qe.TokenizerType.Whitespace,
                language="english",
                max_token_len=MAX_TERM_CHARS,
            )
        )

    def document(self, text: str) -> Sparse:
        """Term-frequency weights of a chunk (k=1.2, b=0.75)."""
        return _sparse(self._model.embed_document(" ".join(terms(text))))

    def stems(self, text: str) -> frozenset[int]:
        """The stemmed words of ``text`` (stop words out), cut at every non-word character.

        Cheaper than :meth:`document` (no identifier parts): for comparing a
        query with many short texts, as highlights do.
        """
        return frozenset(self._model.embed_query(_PLAIN.sub(" ", text.lower())).indices)

    def query(self, text: str) -> Sparse:
        """Each distinct term of a query, weight 1."""
        return _sparse(self._model.embed_query(" ".join(terms(text))))


def _sparse(vector: qe.SparseVector) -> Sparse:
    return Sparse(tuple(vector.indices), tuple(vector.values))
