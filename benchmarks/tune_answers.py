"""Choose how highlights are scored and where the relevance floor lies, on dev halves only.

Over the dev halves of the project's own questions (``own.py``: the 151 and the
harder 70), with the search as shipped:

1. a grid of :class:`~streaming_importer.search.highlight.HighlightWeights`,
   scored by answer@3 (what a person reads of a top-3 hit from the right
   session, highlights included, holds every answer term);
2. the same with the model's cosine added to each window's score (its best
   ``--embedded`` windows per hit, the query's vector already computed), to
   show what scoring windows with the model would change, and what it costs;
3. the relevance floor: the threshold on a hit's ``relevance`` (its session's
   best cosine among the model's candidates) that best separates a right first
   result from a wrong one: under it, the first result was wrong more often
   than right. Also the share of dev questions it fires on.

No test half is read. Uses the imports of ``benchmarks/evaluate.py --state DIR``.

    python benchmarks/tune_answers.py --state DIR
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.imported import import_folder, search_tools  # noqa: E402
from benchmarks.own import ALL, HARDER, OwnQuestion, dev_test, shown_text  # noqa: E402
from benchmarks.tune import CORPORA, CORPUS_ENV  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.embedding.embedder import Embedder  # noqa: E402
from streaming_importer.search.find import find  # noqa: E402
from streaming_importer.search.highlight import (  # noqa: E402
    CHUNKS_PER_HIT,
    DEFAULT_WEIGHTS,
    SHOWN,
    Highlight,
    Highlighter,
    HighlightWeights,
    nearest_first,
)
from streaming_importer.search.query import SearchQuery  # noqa: E402
from streaming_importer.search.results import SessionHit  # noqa: E402
from streaming_importer.store import Hit, Sink  # noqa: E402

GRID = {"second_share": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)}


class WithModel(Highlighter):
    """Highlights whose best windows by words are re-scored with the model's cosine."""

    def __init__(
        self, encoder: Bm25Encoder, embedder: Embedder, dense: Sequence[float], embedded: int
    ) -> None:
        super().__init__(encoder)
        self._embedder, self._dense, self._embedded = embedder, dense, embedded
        self._tokenizer = embedder.tokenizer()

    def choose(
        self, query: str, chunks: Sequence[Hit], shown: Sequence[str] = ()
    ) -> tuple[Highlight, ...]:
        found = self.eligible(query, chunks, shown)
        found.sort(key=lambda c: (c.score, -c.near), reverse=True)
        top = found[: self._embedded]
        if not top:
            return ()
        ids = [self._tokenizer.encode(c.text, add_special_tokens=False).ids[:64] for c in top]
        vectors = np.asarray(self._embedder.embed_ids(ids))
        q = np.asarray(self._dense)
        cosines = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
        ranked = sorted(
            zip(top, cosines, strict=True), key=lambda cc: cc[0].score + float(cc[1]), reverse=True
        )
        return tuple(
            Highlight(c.text, c.score, c.chunk.id, str(c.chunk.payload.get("kind")), None, 0)
            for c, _ in ranked[:SHOWN]
        )


class Without(Highlighter):
    """No highlights: what a search costs without them."""

    def choose(
        self, query: str, chunks: Sequence[Hit], shown: Sequence[str] = ()
    ) -> tuple[Highlight, ...]:
        return ()


def within(missed: list[tuple[OwnQuestion, list[SessionHit]]]) -> str:
    """Of the questions missed, how many have their answer in the chunks highlights read."""
    inside = 0
    for q, hits in missed:
        for h in hits[:3]:
            if h.best.payload["session_id"] != q.session:
                continue
            read = nearest_first(h.best, h.related, h.exchange)[:CHUNKS_PER_HIT]
            text = " ".join(str(c.payload.get("text", "")) for c in read).lower()
            inside += all(t.lower() in text for t in q.terms)
            break
    return (
        f"missed: {len(missed)}; the answer in the chunks highlights read: {inside}; "
        f"elsewhere, or the session not in the top 3: {len(missed) - inside}"
    )


def answered(q: OwnQuestion, hits: list[SessionHit]) -> bool:
    return any(
        h.best.payload["session_id"] == q.session
        and all(t.lower() in shown_text(h).lower() for t in q.terms)
        for h in hits[:3]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="evaluate.py's --state folder")
    parser.add_argument("--embedded", type=int, default=12, help="windows per hit the model reads")
    args = parser.parse_args()
    dev = dev_test(ALL)[0] + dev_test(HARDER)[0]
    encoder = Bm25Encoder()
    with ExitStack() as stack:
        tools: dict[int, tuple[Embedder, Sink]] = {}
        for corpus, folder in CORPORA.items():
            if not (args.state / str(corpus)).exists():
                import_folder(folder, args.state / str(corpus), CORPUS_ENV.get(corpus))
            tools[corpus] = stack.enter_context(search_tools(folder, args.state / str(corpus)))
        vectors = {q.text: tools[q.corpus][0].embed([q.text])[0] for q in dev}

        missed: list[tuple[OwnQuestion, list[SessionHit]]] = []

        def run(make: Callable[[OwnQuestion], Highlighter]) -> tuple[int, float, list[SessionHit]]:
            right, firsts, began = 0, [], time.monotonic()
            missed.clear()
            for q in dev:
                sink = tools[q.corpus][1]
                query = SearchQuery(q.text, limit=5)
                hits = find(sink, encoder, query, vectors[q.text], highlighter=make(q))
                right += answered(q, hits)
                if not answered(q, hits):
                    missed.append((q, hits))
                firsts.append(hits[0])
            return right, (time.monotonic() - began) / len(dev) * 1000, firsts

        print(f"dev questions: {len(dev)} (own 151's dev half and the harder 70's)")
        print("\n| second_share | dev answer@3 | ms per search |\n|---|---|---|")
        for share in GRID["second_share"]:
            weights = HighlightWeights(second_share=share)
            right, ms, _ = run(lambda q, w=weights: Highlighter(encoder, w))  # type: ignore[misc]
            print(f"| {share} | {right / len(dev):.3f} ({right}) | {ms:.0f} |")
        right, ms, firsts = run(lambda q: Highlighter(encoder))
        print(
            f"\nshipped {DEFAULT_WEIGHTS}: answer@3 {right / len(dev):.3f}, {ms:.0f} ms per search"
        )
        print(within(missed))
        right_0, ms_0, _ = run(lambda q: Without(encoder))
        print(f"without highlights: answer@3 {right_0 / len(dev):.3f}, {ms_0:.0f} ms per search")
        right_m, ms_m, _ = run(
            lambda q: WithModel(encoder, tools[q.corpus][0], vectors[q.text], args.embedded)
        )
        print(
            f"with the model's cosine over the best {args.embedded} windows per hit: answer@3 "
            f"{right_m / len(dev):.3f} ({right_m}), {ms_m:.0f} ms per search"
        )
        floor(dev, firsts)


def floor(dev: list[OwnQuestion], firsts: list[SessionHit]) -> None:
    """The threshold on the first hit's relevance that best tells right from wrong."""
    scored = [
        (h.best.payload["session_id"] == q.session, h.relevance or 0.0)
        for q, h in zip(dev, firsts, strict=True)
    ]
    best = max(
        (sum((v >= t) == right for right, v in scored), t) for t in sorted({v for _, v in scored})
    )
    correct, threshold = best
    under = [right for right, v in scored if v < threshold]
    print(
        f"\nrelevance floor: {threshold:.3f} (first results right {sum(r for r, _ in scored)} of "
        f"{len(scored)}; told apart {correct}); under it: {len(under)} questions, "
        f"{sum(under)} of them right"
    )


if __name__ == "__main__":
    main()
