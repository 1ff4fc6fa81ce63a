"""The whole retrieval table in one run: own dev and test, LoCoMo, LongMemEval.

1. The project's own 151 questions (``benchmarks/own.py``) over both real
   corpora, each imported by the real program: per mode, the dev half (where
   the ranking constants were chosen, ``benchmarks/tune.py``) and the test
   half (never tuned on) side by side, the constants before issue 14 beside
   the chosen ones, and per question class.
2. LoCoMo evidence recall at turn level (``benchmarks/locomo.py``), by half of
   its conversations: the dev half was part of the tuning, the test half was not.
3. LongMemEval_S session recall on the 101-question subset
   (``benchmarks/longmemeval.py``), official question filter: nothing was tuned
   on it. Its import is the long part (about 5 minutes here).

Prints progress while it runs and the time each part took.

    python benchmarks/evaluate.py [--state DIR] [--skip-public]

``--state DIR`` keeps the imports (``DIR/1``, ``DIR/2``, ``DIR/locomo``,
``DIR/longmemeval``) and reuses them on the next run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import locomo, longmemeval  # noqa: E402
from benchmarks.imported import import_folder, search_tools  # noqa: E402
from benchmarks.own import ALL, HARDER, OwnQuestion, Scores, dev_test, score  # noqa: E402
from benchmarks.tune import BEFORE, CORPORA, CORPUS_ENV  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.search.find import search  # noqa: E402
from streaming_importer.search.query import MODES, SearchQuery  # noqa: E402
from streaming_importer.search.ranking import DEFAULT, Ranking  # noqa: E402
from streaming_importer.search.results import SessionHit  # noqa: E402

STARTED = time.monotonic()


def log(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f} s] {text}", file=sys.stderr, flush=True)


def cells(s: Scores) -> str:
    return f"{s.at1:.2f} | {s.at5:.2f} | {s.answer3:.2f}"


def own_table(state: Path) -> list[str]:
    for corpus, folder in CORPORA.items():
        if not (state / str(corpus)).exists():
            log(f"own questions: importing corpus {corpus} ({folder.name})")
            took = import_folder(folder, state / str(corpus), CORPUS_ENV.get(corpus))
            log(f"own questions: imported in {took:.0f} s")
    encoder = Bm25Encoder()
    sets = {"own 151": dev_test(ALL), "harder 70": dev_test(HARDER)}
    with ExitStack() as stack:
        tools = {
            c: stack.enter_context(search_tools(f, state / str(c))) for c, f in CORPORA.items()
        }

        def run(questions: list[OwnQuestion], mode: str, ranking: Ranking) -> Scores:
            def ask(q: OwnQuestion) -> list[SessionHit]:
                embedder, sink = tools[q.corpus]
                query = SearchQuery(q.text, limit=5, mode=mode)
                return search(embedder, encoder, sink, query, ranking=ranking)

            return score(questions, ask)[0]

        def fired(questions: list[OwnQuestion]) -> str:
            """How often the floor fired (hybrid), and how often the first result was wrong."""
            weak = wrong_weak = wrong_sure = 0
            for q in questions:
                embedder, sink = tools[q.corpus]
                top = search(embedder, encoder, sink, SearchQuery(q.text, limit=5))[0]
                wrong = top.best.payload["session_id"] != q.session
                weak += not top.confident
                wrong_weak += wrong and not top.confident
                wrong_sure += wrong and top.confident
            return f"{len(questions)} | {weak} | {wrong_weak} | {wrong_sure}"

        lines = [
            "Own questions, each set by its fixed halves: dev (constants chosen here) / test "
            "(never tuned on)",
            "",
            "| set | mode | constants | dev n | dev session@1 | dev session@5 | dev answer@3 "
            "| test n | test session@1 | test session@5 | test answer@3 |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        rows = [("hybrid", "before issue 14", BEFORE)] + [(m, "chosen", DEFAULT) for m in MODES]
        for name, (dev, test) in sets.items():
            for mode, constants, ranking in rows:
                log(f"own questions: {name}, {mode}, {constants}")
                lines.append(
                    f"| {name} | {mode} | {constants} | {len(dev)} "
                    f"| {cells(run(dev, mode, ranking))} | {len(test)} "
                    f"| {cells(run(test, mode, ranking))} |"
                )
        lines += [
            "",
            "Relevance floor (hybrid): questions, floor fired, fired with the first result "
            "wrong, first result wrong but not fired",
            "",
            "| set | half | n | fired | fired, wrong | wrong, not fired |",
            "|---|---|---|---|---|---|",
        ]
        for name, (dev, test) in sets.items():
            for half_name, half_questions in (("dev", dev), ("test", test)):
                lines.append(f"| {name} | {half_name} | {fired(half_questions)} |")
        by_class, floor_by_class = [], []
        for name, (dev, test) in sets.items():
            for kind in sorted({q.kind for q in dev + test}):
                d = [q for q in dev if q.kind == kind]
                t = [q for q in test if q.kind == kind]
                by_class.append(
                    f"| {name} | {kind} | {len(d)} | {cells(run(d, 'hybrid', DEFAULT))} "
                    f"| {len(t)} | {cells(run(t, 'hybrid', DEFAULT))} |"
                )
                floor_by_class.append(
                    f"| {name} | {kind} | {fired(d).replace(' | ', ' / ')} "
                    f"| {fired(t).replace(' | ', ' / ')} |"
                )
        lines += [
            "",
            "By class (hybrid, chosen constants):",
            "",
            "| set | class | dev n | dev session@1 | dev session@5 | dev answer@3 "
            "| test n | test session@1 | test session@5 | test answer@3 |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *by_class,
            "",
            "Relevance floor by class (hybrid): n, fired, fired and wrong, wrong and not fired",
            "",
            "| set | class | dev | test |",
            "|---|---|---|---|",
            *floor_by_class,
        ]
    return lines


def locomo_table(folder: Path) -> list[str]:
    results = locomo.measure(folder, list(MODES), log)
    before = locomo.measure(folder, ["hybrid"], log, BEFORE)["hybrid"]
    lines = [
        "LoCoMo evidence recall, turn level, by half of the conversations: constants chosen "
        "with dev (989 questions), test (997) reported (paper, DRAGON, all 1,986: 56.7 / 66.2)",
        "",
        "| mode | constants | half | recall@5 | recall@10 | @5 by category |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("hybrid", "before issue 14", before)]
    rows += [(mode, "chosen", halves) for mode, halves in results.items()]
    floor = [
        f"{which} half: " + ", ".join(f"{c} {f}/{n}" for c, (f, n) in sorted(r.floor.items()))
        for which, r in results["hybrid"].items()
    ]
    for mode, name, halves in rows:
        for which, r in halves.items():
            categories = ", ".join(
                f"{c} {v:.1f} ({n})" for c, (v, n) in sorted(r.by_category.items())
            )
            lines.append(
                f"| {mode} | {name} | {which} | {r.at5:.1f} | {r.at10:.1f} | {categories} |"
            )
    lines += ["", "Relevance floor fired (hybrid, chosen), by category:", "", *floor]
    return lines


def longmemeval_table(folder: Path) -> list[str]:
    results = longmemeval.measure(folder, list(MODES), {"user"}, log)
    before = longmemeval.measure(folder, ["hybrid"], {"user"}, log, BEFORE)["hybrid"]
    lines = [
        "LongMemEval_S, 101-question subset (86 scored, official filter), session level, "
        "user turns; not tuned on (published, full S, MiniLM: recall_any@1 0.806, @5 0.966)",
        "",
        "| mode | constants | recall_any@1 | recall_any@5 | recall_any@10 | recall_all@5 "
        "| ndcg_any@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [("hybrid", "before issue 14", before)]
    rows += [(mode, "chosen", r) for mode, r in results.items()]
    for mode, name, r in rows:
        lines.append(
            f"| {mode} | {name} | {r.any_at[1]:.3f} | {r.any_at[5]:.3f} | {r.any_at[10]:.3f} "
            f"| {r.all_at[5]:.3f} | {r.ndcg10:.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="a folder to keep (or reuse) the imports in")
    parser.add_argument("--skip-public", action="store_true", help="own questions only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evaluate-") as tmp:
        state = args.state or Path(tmp)
        parts: list[tuple[str, Callable[[], list[str]]]] = [
            ("own questions", lambda: own_table(state))
        ]
        if not args.skip_public:
            parts += [
                ("LoCoMo", lambda: locomo_table(state / "locomo")),
                ("LongMemEval", lambda: longmemeval_table(state / "longmemeval")),
            ]
        tables = []
        for name, part in parts:
            began = time.monotonic()
            tables.append((name, part(), time.monotonic() - began))
    print(f"constants: {DEFAULT}")
    for name, lines, seconds in tables:
        print()
        print("\n".join(lines))
        print(f"\n({name}: {seconds:.0f} s)")
    print(f"\ntook {time.monotonic() - STARTED:.0f} s")


if __name__ == "__main__":
    main()
