"""Words of a query found in a text: alone, verbatim, all of them, or not. Pure.

The fused score of :mod:`~streaming_importer.search.ranking` is a rank, not a
measure of what a chunk holds: twenty lines made from one template score
alike, and a neighbour's support can lift a similar line above the one typed.
So a chunk's :func:`match` is decided first, by the words themselves: the
query and nothing else (case, spacing and punctuation aside) beats the query
within more text, which beats all its content words in any order, which beats
the rest; the score orders chunks within a class. A query of fewer than
:data:`MIN_WORDS_FOR_ALL` words has no class: one or two words are in many
chunks by chance. :func:`phrase` and :func:`holds` find the query verbatim, as
whole words, for highlights too.
"""

from __future__ import annotations

import enum
import re

from streaming_importer.embedding.bm25 import terms, tokens

__all__ = ["Match", "content_words", "holds", "holds_every_term", "match", "normalized", "phrase"]

#: English function words: never what a person searches for.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those through
    to too under until up very was we were what when where which while who whom why will with
    would you your yours""".split()
)
#: Content words a query needs before "all of them in one chunk" means something:
#: one or two common words are in many chunks by chance.
MIN_WORDS_FOR_ALL = 3
_NOT_WORD = re.compile(r"[\W_]+")


class Match(enum.IntEnum):
    """How a text holds a query, weakest first."""

    NONE = 0
    #: Every content word of the query, in any order.
    ALL_WORDS = 1
    #: The query within it (case, spacing and punctuation aside).
    VERBATIM = 2
    #: The query and nothing else: the line that was typed.
    EXACT = 3


def normalized(text: str) -> str:
    """Lower case, every run of spaces and punctuation one space, trimmed."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def holds(haystack: str, needle: str) -> bool:
    """Whether normalized ``haystack`` holds normalized ``needle`` as whole words."""
    return f" {needle} " in f" {haystack} "


def phrase(query: str) -> str:
    """The query as a phrase to find verbatim, or "" if too short to mean it (two words)."""
    needle = normalized(query)
    return needle if len(needle.split()) >= MIN_WORDS_FOR_ALL else ""


def content_words(text: str) -> frozenset[str]:
    """The words of ``text`` (cut at every non-word character, lower case), stop words out."""
    return frozenset(normalized(text).split()) - STOPWORDS


def match(query: str, words: frozenset[str], text: str) -> Match:
    """How ``text`` holds ``query``; ``words``: the query's :func:`content_words`."""
    needle, haystack = phrase(query), normalized(text)
    if needle and holds(haystack, needle):
        return Match.EXACT if needle == haystack else Match.VERBATIM
    if len(words) >= MIN_WORDS_FOR_ALL and words <= content_words(text):
        return Match.ALL_WORDS
    return Match.NONE


def holds_every_term(query: str, text: str) -> bool:
    """Whether ``text`` holds every whole token of ``query`` but stop words, as BM25
    finds them in it (a file name in a path, a short SHA of a long one), and the
    query has one."""
    wanted = set(tokens(query)) - STOPWORDS
    return bool(wanted) and wanted <= set(terms(text))
