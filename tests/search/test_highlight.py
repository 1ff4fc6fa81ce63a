"""Highlights and the words-first order: the line that answers, the line that was typed."""

from __future__ import annotations

import datetime as dt

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.search.highlight import Highlighter, nearest_first, sentences, windows
from streaming_importer.search.lexical import Match, content_words, match
from streaming_importer.search.ranking import Ranking, rank_sessions
from streaming_importer.store import Hit

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def chunk(
    id: str,
    text: str,
    *,
    kind: str = "answer",
    when: str = "2026-11-01T10:00:00Z",
    message: str | None = None,
    index: int = 0,
    session: str = "s",
    turn: int = 0,
    role: str | None = None,
    score: float = 1.0,
) -> Hit:
    payload = {
        "text": text,
        "kind": kind,
        "timestamp": when,
        "message_uuid": message or id,
        "chunk_index": index,
        "session_id": session,
        "path": f"{session}.jsonl",
        "turn": turn,
        "role": role or ("user" if kind == "prompt" else "assistant"),
    }
    return Hit(id, score, payload)


def test_sentences_and_windows_keep_their_place_in_the_text() -> None:
    text = "We looked at three.\n\n- It parses dates. Then `pendulum` won: it handles zones.\nok"
    cut = sentences(text)
    assert [s for _, s in cut] == [
        "We looked at three.",
        "It parses dates.",
        "Then `pendulum` won: it handles zones.",
    ]
    for start, sentence in cut:
        assert text[start : start + len(sentence)] == sentence
    # Each sentence with the next: what follows a match is often the answer.
    assert windows(text)[1] == (cut[1][0], cut[1][1], text[cut[1][0] : cut[2][0] + len(cut[2][1])])
    long = "word " * 200
    assert all(len(s) <= 320 for _, s in sentences(long))


def test_the_sentence_that_answers_is_highlighted_not_the_chunk_that_matched() -> None:
    hit = chunk(
        "a1",
        "Let me compare the candidates for the importer first. I will benchmark them all.",
        when="2026-11-01T10:01:00Z",
    )
    later = chunk(
        "a2",
        "Results are in. For parsing dates we settled on pendulum, since it reads "
        "ISO weeks. The others were slower.",
        when="2026-11-01T10:05:00Z",
    )
    shown = Highlighter(Bm25Encoder()).choose(
        "which library did we settle on for parsing dates", nearest_first(hit, [], [later])
    )
    assert "pendulum" in shown[0].text
    assert shown[0].chunk_id == "a2" and shown[0].kind == "answer"
    assert later.payload["text"][shown[0].start :].startswith(shown[0].text)


def test_a_typed_line_is_its_own_highlight_and_two_highlights_never_overlap() -> None:
    lines = [f"the {w} protocol needs a checksum before release {i}" for i, w in enumerate("abc")]
    pasted = chunk("x", "\n".join(lines))
    shown = Highlighter(Bm25Encoder()).choose(lines[1], [pasted])
    assert shown[0].text == lines[1]
    for a in shown:
        for b in shown:
            assert a is b or a.start + len(a.text) <= b.start or b.start + len(b.text) <= a.start


def test_nearest_first_reads_the_hit_its_message_the_related_then_the_exchange() -> None:
    hit = chunk("h", "x", message="m", index=1, when="2026-11-01T10:02:00Z")
    same = chunk("m0", "x", message="m", index=0, when="2026-11-01T10:02:00Z")
    after = chunk("after", "x", when="2026-11-01T10:03:00Z")
    before = chunk("before", "x", when="2026-11-01T10:01:00Z")
    related = chunk("r", "x", when="2026-11-02T10:00:00Z")
    ordered = nearest_first(hit, [related, hit], [before, after, same, hit])
    assert [c.id for c in ordered] == ["h", "m0", "r", "after", "before"]


def test_words_decide_before_scores() -> None:
    query = "the amber basil protocol needs a cobalt checksum before release 2"
    words = content_words(query)
    assert match(query, words, query.upper() + ".") == Match.EXACT
    assert match(query, words, f"Noted: {query}.") == Match.VERBATIM
    assert match(query, words, "release 2: cobalt checksum, amber basil protocol needs") == (
        Match.ALL_WORDS
    )
    assert match(query, words, "the amber basil protocol") == Match.NONE
    # Two words are in many chunks by chance: no class for them.
    assert match("cobalt checksum", content_words("cobalt checksum"), "cobalt checksum") == (
        Match.NONE
    )


def test_a_typed_line_beats_neighbour_support_and_recency() -> None:
    typed = "the amber basil protocol needs a cobalt checksum before release 2"
    similar = "the amber basil protocol needs a cobalt checksum before release 1"
    hits = [
        # A similar earlier line with a reply that repeats it (neighbour support),
        # newer than the typed one, in the same session and in another.
        chunk("s1", similar, kind="prompt", turn=1, score=1.0, when="2026-11-30T10:00:00Z"),
        chunk("s1r", f"Noted. {similar}", turn=2, score=0.95, when="2026-11-30T10:00:01Z"),
        chunk("o1", similar, kind="prompt", session="o", turn=1, score=1.0),
        chunk("o1r", f"Noted. {similar}", session="o", turn=2, score=0.95),
        chunk(
            "t", typed, kind="prompt", session="t", turn=5, score=0.5, when="2025-01-01T00:00:00Z"
        ),
        chunk("s2", typed, kind="prompt", turn=3, score=0.4, when="2025-01-01T00:00:00Z"),
    ]
    ranked = rank_sessions(hits, 5, NOW, 86400.0, Ranking(neighbours=0.9), typed)
    assert [r.session_id for r in ranked][:2] in (["s", "t"], ["t", "s"])
    assert {r.best.id for r in ranked[:2]} == {"s2", "t"}
    assert ranked[-1].session_id == "o"
