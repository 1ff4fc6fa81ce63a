"""Retrieval quality on the shared corpus: dense, BM25 and hybrid, side by side.

Imports ``../shared/corpus/claude-projects`` once with default settings (into
a temporary state folder, or ``--state DIR`` to reuse one), then asks every
question of ``benchmarks/eval_set.py`` in each mode and prints, per mode:

- session@1, session@5: the answering session is the first / among the first
  five results (one result per session);
- answer@3: a top-3 result from that session shows every answer term in the
  text a person reads (the prompt, its chunk, the neighbouring chunks and the
  conclusion).

The whole table, with the dev/test split and the public benchmarks, is
``benchmarks/evaluate.py``.

    python benchmarks/retrieval.py [--state DIR] [--cross-lingual]
    python benchmarks/retrieval.py --corpus 2   # claude-projects-2, eval_set_2.py, by class
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import own  # noqa: E402
from benchmarks.eval_set import CROSS_LINGUAL, QUESTIONS, Question  # noqa: E402
from benchmarks.eval_set_2 import CLASSES, CORPUS_NAME, QUESTIONS_2  # noqa: E402
from benchmarks.imported import import_folder, search_tools  # noqa: E402
from streaming_importer.embedding.bm25 import Bm25Encoder  # noqa: E402
from streaming_importer.embedding.embedder import Embedder  # noqa: E402
from streaming_importer.search.find import search  # noqa: E402
from streaming_importer.search.query import MODES, SearchQuery  # noqa: E402
from streaming_importer.search.results import SessionHit  # noqa: E402
from streaming_importer.store import Sink  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects"
CORPUS_2 = ROOT.parent / "shared" / "corpus" / CORPUS_NAME


def score(
    embedder: Embedder, sink: Sink, questions: tuple[Question, ...], mode: str
) -> tuple[float, float, float, list[str]]:
    """session@1, session@5, answer@3 and the questions whose session is not in the top 5."""
    encoder = Bm25Encoder()

    def ask(q: Question) -> list[SessionHit]:
        return search(embedder, encoder, sink, SearchQuery(q.text, limit=5, mode=mode))

    s, missed = own.score(questions, ask)
    return s.at1, s.at5, s.answer3, [q.text for q in missed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", type=Path, help="an existing state folder with the corpus")
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    parser.add_argument("--corpus", choices=("1", "2"), default="1")
    args = parser.parse_args()
    corpus = CORPUS if args.corpus == "1" else CORPUS_2
    with tempfile.TemporaryDirectory() as tmp:
        state = args.state or Path(tmp) / "state"
        if args.state is None:
            import_folder(corpus, state)
        with search_tools(corpus, state) as (embedder, sink):
            sets: list[tuple[str, tuple[Question, ...]]] = [
                (f"{len(QUESTIONS)} questions", QUESTIONS),
                (f"{len(CROSS_LINGUAL)} Japanese questions about English sessions", CROSS_LINGUAL),
            ]
            if args.corpus == "2":
                plain = [Question(q.text, q.session, q.terms) for q in QUESTIONS_2]
                sets = [(f"{len(plain)} questions about {CORPUS_NAME}", tuple(plain))]
                for kind in CLASSES:
                    of_kind = tuple(Question(*q[:3]) for q in QUESTIONS_2 if q.kind == kind)
                    if of_kind:
                        sets.append((f"{len(of_kind)} '{kind}' questions", of_kind))
            for title, questions in sets:
                print(f"\n{title} ({embedder.identity.name})\n")
                print("| mode | session@1 | session@5 | answer@3 |")
                print("|---|---|---|---|")
                for mode in MODES:
                    at1, at5, ans3, misses = score(embedder, sink, questions, mode)
                    print(f"| {mode} | {at1:.2f} | {at5:.2f} | {ans3:.2f} |")
                    if args.misses:
                        for text in misses:
                            print(f"|   missed: {text} | | | |")


if __name__ == "__main__":
    main()
