"""Choose the ranking constants on dev halves only: the own questions' and LoCoMo's.

Imports both corpora and LoCoMo (or reuses ``--state DIR`` holding ``1/``,
``2/`` and ``locomo/``), fetches each dev question's dense and BM25 candidates
once, then scores a grid of :class:`~streaming_importer.search.ranking.Ranking`
values, printing the best by the sum of the own dev half's session@1,
session@5 and answer@3 and LoCoMo's dev half's evidence recall@5 (ties: the
fewer constants changed from before issue 14). No test half is read here:
``benchmarks/evaluate.py`` reports them.

    python benchmarks/tune.py [--state DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import locomo  # noqa: E402
from benchmarks.imported import import_folder, search_tools  # noqa: E402
from benchmarks.own import OwnQuestion, Scores, dev_test, score  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.search.query import SearchQuery, candidates  # noqa: E402
from streaming_importer.search.ranking import (  # noqa: E402
    DEFAULT,
    Ranking,
    fuse,
    rank_chunks,
    rank_sessions,
)
from streaming_importer.search.results import SessionHit, with_context  # noqa: E402
from streaming_importer.store import Hit, Sink  # noqa: E402

_SHARED = ROOT.parent / "shared" / "corpus"
CORPORA = {
    1: _SHARED / "claude-projects",
    2: _SHARED / "claude-projects-2",
    # The second corpus with Codex CLI's and Gemini CLI's sessions in the same
    # store (the harder set's "agents" class, issue 27).
    3: _SHARED / "claude-projects-2",
}
#: Further variables of each corpus's import.
CORPUS_ENV = {
    3: {
        "CODEX_HOME": str(_SHARED / "other-agents" / "codex"),
        "GEMINI_DIR": str(_SHARED / "other-agents" / "gemini-2"),
    }
}
DEPTH = 200
#: The constants before issue 14 (fitted on the 64 original questions).
BEFORE = Ranking(
    rrf_k=2.0, bm25_weight=1.5, tool_weight=1.0, thinking_weight=1.0, spread=0.0, neighbours=0.0
)
GRID = {
    "rrf_k": (1.0, 2.0, 5.0, 10.0, 30.0),
    "bm25_weight": (1.0, 1.5, 2.0, 2.5, 3.0),
    "tool_weight": (0.7, 0.85, 1.0),
    "thinking_weight": (0.5, 0.7, 1.0),
    "spread": (0.0, 0.25, 0.5, 0.75),
    # Below 1, so that of two neighbours the better stays ahead.
    "neighbours": (0.0, 0.25, 0.5, 0.75, 0.9),
}
#: The constants LoCoMo's turn ranking depends on (it has no tools, no thinking,
#: and ranks turns, not sessions).
LOCOMO_KEYS = ("rrf_k", "bm25_weight", "neighbours")


class LocomoDev:
    """LoCoMo's dev half, its candidates fetched once; recall@5 per ranking, memoized."""

    def __init__(self, folder: Path) -> None:
        samples, self.dia_of = locomo.imported(folder, print)
        encoder = Bm25Encoder()
        self.cached: list[tuple[list[str], list[Hit], list[Hit]]] = []
        with search_tools(folder / "conversations", folder / "state") as (embedder, sink):
            for conv, qa in locomo.questions_of(samples, "dev"):
                where = SearchQuery(qa["question"], project=f"/bench/locomo/{conv}").where()
                dense = embedder.embed([qa["question"]])[0]
                self.cached.append(
                    (
                        qa["evidence"],
                        sink.search(locomo.FETCH, where, dense=dense),
                        sink.search(locomo.FETCH, where, sparse=encoder.query(qa["question"])),
                    )
                )
        self.memo: dict[tuple[float, ...], float] = {}

    def recall5(self, ranking: Ranking) -> float:
        key = tuple(getattr(ranking, k) for k in LOCOMO_KEYS)
        if key not in self.memo:
            values = []
            for evidence, dense, sparse in self.cached:
                turns: list[str] = []
                for hit in rank_chunks(fuse(dense, sparse, ranking), ranking):
                    dia = self.dia_of.get(str(hit.payload.get("message_uuid")))
                    if dia is not None and dia not in turns:
                        turns.append(dia)
                        if len(turns) == 5:
                            break
                values.append(locomo.evidence_recall(evidence, turns))
            self.memo[key] = sum(values) / len(values)
        return self.memo[key]


def imported(state: Path) -> None:
    for corpus, folder in CORPORA.items():
        if not (state / str(corpus)).exists():
            print(f"importing corpus {corpus} ...", flush=True)
            import_folder(folder, state / str(corpus), CORPUS_ENV.get(corpus))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="a folder for (or with) both imports")
    args = parser.parse_args()
    dev, _ = dev_test()
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        state = args.state or Path(tmp)
        imported(state)
        sinks: dict[int, Sink] = {}
        cached: dict[str, tuple[list[Hit], list[Hit]]] = {}
        encoder = Bm25Encoder()
        for corpus, folder in CORPORA.items():
            embedder, sink = stack.enter_context(search_tools(folder, state / str(corpus)))
            sinks[corpus] = sink
            for q in (q for q in dev if q.corpus == corpus):
                where = SearchQuery(q.text, limit=5).where()
                cached[q.text] = (
                    sink.search(DEPTH, where, dense=embedder.embed([q.text])[0]),
                    sink.search(DEPTH, where, sparse=encoder.query(q.text)),
                )

        # A hit's context depends on the hit alone: read it once.
        contexts: dict[str, SessionHit] = {}

        def shown(corpus: int, best: Hit) -> SessionHit:
            if best.id not in contexts:
                contexts[best.id] = with_context(sinks[corpus], SessionHit(best, 0.0, 0))
            return contexts[best.id]

        def ask_with(
            ranking: Ranking, questions: list[OwnQuestion] = dev, depth: int = candidates(5)
        ) -> Scores:
            def ask(q: OwnQuestion) -> list[SessionHit]:
                dense, sparse = (hits[:depth] for hits in cached[q.text])
                ranked = rank_sessions(fuse(dense, sparse, ranking), 5, now, None, ranking)
                return [shown(q.corpus, r.best) for r in ranked]

            return score(questions, ask)[0]

        locomo_dev = LocomoDev(state / "locomo")

        def public(ranking: Ranking) -> tuple[float]:
            return (locomo_dev.recall5(ranking),)

        results = []
        names = list(GRID)
        for values in itertools.product(*GRID.values()):
            ranking = dataclasses.replace(DEFAULT, **dict(zip(names, values, strict=True)))
            s, p = ask_with(ranking), public(ranking)
            changed = sum(getattr(ranking, k) != getattr(BEFORE, k) for k in names)
            results.append((s.at1 + s.at5 + s.answer3 + sum(p), -changed, ranking, s, p))
        results.sort(key=lambda r: (r[0], r[1]), reverse=True)
        seconds = time.monotonic() - started
        print(
            f"dev: {len(dev)} own questions, {len(locomo_dev.cached)} LoCoMo questions; "
            f"{len(results)} settings; {seconds:.0f} s"
        )
        print("sum | own session@1 session@5 answer@3 | LoCoMo recall@5")
        for total, _, ranking, s, p in [
            (0.0, 0, BEFORE, ask_with(BEFORE), public(BEFORE)),
            *results[:15],
        ]:
            print(f"{total:.3f} | {s.at1:.3f} {s.at5:.3f} {s.answer3:.3f} | {p[0]:.3f} | {ranking}")
        best = results[0][2]
        for depth in (50, 100, 200):
            print(f"depth {depth}: {ask_with(best, depth=depth)}")
        print(f"\nby class on dev, before -> {best}")
        for kind in sorted({q.kind for q in dev}):
            of_kind = [q for q in dev if q.kind == kind]
            a, b = ask_with(BEFORE, of_kind), ask_with(best, of_kind)
            print(
                f"  {kind:9} ({len(of_kind):2}): {a.at1:.2f} {a.at5:.2f} {a.answer3:.2f}"
                f" -> {b.at1:.2f} {b.at5:.2f} {b.answer3:.2f}"
            )


if __name__ == "__main__":
    main()
