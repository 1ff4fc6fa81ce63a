"""LoCoMo evidence recall through the real importer and the real store query.

LoCoMo (Maharana et al., ACL 2024; ``../shared/benchmarks/locomo``): 10 long
conversations between two people, 272 sessions, 5,882 turns, 1,986 questions,
each with the ``dia_id``s of the turns that hold its answer. This script:

1. writes each session as a Claude Code transcript (one file per session, one
   record per turn, the session's own date as timestamps; the first speaker's
   turns as the user's, the second's as the assistant's; a turn's text as the
   paper's RAG code indexes it: ``<speaker> said, "<text>"`` plus ``and shared
   <caption>`` for an image);
2. imports them with ``python -m streaming_importer --once`` into an empty state
   folder (the real parser, chunker, model and store);
3. asks every question, within its conversation's project, with the same
   hybrid query ``search`` sends to the store, and takes the top k distinct
   turns (chunks of one turn count once): the paper ranks turns, while
   ``search`` itself returns one result per session;
4. scores the paper's evidence recall: per question, the share of its evidence
   ids among the top k turns' ids (an empty evidence list scores 1), averaged
   over all 1,986 questions, adversarial included, evidence ids taken as given
   (the nine malformed ones can never match).

The paper's retriever (DRAGON, dialog turns): 56.7 at k=5, 66.2 at k=10.
Nothing here is tuned on LoCoMo, so the whole set is reported.

    python benchmarks/locomo.py                 # hybrid, dense and bm25
    python benchmarks/locomo.py --mode hybrid
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.imported import import_folder, search_tools  # noqa: E402
from streaming_importer.lexical import Bm25Encoder  # noqa: E402
from streaming_importer.query import MODES, SearchQuery  # noqa: E402
from streaming_importer.sink.edge import EdgeSink  # noqa: E402

DATA = ROOT.parent / "shared" / "benchmarks" / "locomo" / "locomo10.json"
NAMESPACE = uuid.UUID("6f1c2a4e-9b3d-4c8e-a7f5-0d2b4e6a8c10")
#: The official category ids (task_eval/evaluation.py), not the paper's order.
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (5, 10)
#: Chunks fetched per question: enough for the top 10 distinct turns.
FETCH = 50


def session_time(text: str) -> dt.datetime:
    """``"1:56 pm on 8 May, 2023"`` -> a UTC datetime."""
    return dt.datetime.strptime(text, "%I:%M %p on %d %B, %Y").replace(tzinfo=dt.UTC)


def turn_text(turn: dict[str, Any]) -> str:
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    if turn.get("blip_caption"):
        text += f" and shared {turn['blip_caption']}"
    return text


def write_transcripts(samples: list[dict[str, Any]], folder: Path) -> dict[str, str]:
    """One transcript per session; returns each turn's record uuid -> its dia_id."""
    dia_of: dict[str, str] = {}
    for sample in samples:
        conv = sample["sample_id"]
        c = sample["conversation"]
        project = folder / f"-bench-locomo-{conv}"
        project.mkdir(parents=True)
        n = 1
        while f"session_{n}" in c:
            session = str(uuid.uuid5(NAMESPACE, f"{conv}:session_{n}"))
            start = session_time(c[f"session_{n}_date_time"])
            lines = []
            for i, turn in enumerate(c[f"session_{n}"]):
                record_id = str(uuid.uuid5(NAMESPACE, f"{conv}:{turn['dia_id']}"))
                dia_of[record_id] = turn["dia_id"]
                user = turn["speaker"] == c["speaker_a"]
                content: Any = turn_text(turn)
                if not user:
                    content = [{"type": "text", "text": content}]
                lines.append(
                    {
                        "type": "user" if user else "assistant",
                        "uuid": record_id,
                        "sessionId": session,
                        "cwd": f"/bench/locomo/{conv}",
                        "timestamp": (start + dt.timedelta(seconds=30 * i)).isoformat(),
                        "message": {"role": "user" if user else "assistant", "content": content},
                    }
                )
            (project / f"{session}.jsonl").write_text(
                "".join(json.dumps(line) + "\n" for line in lines)
            )
            n += 1
    return dia_of


def top_turns(
    sink: EdgeSink,
    encoder: Bm25Encoder,
    query: SearchQuery,
    dense: list[float] | None,
    dia_of: dict[str, str],
    k: int,
) -> list[str]:
    """The dia_ids of the top ``k`` distinct turns for ``query`` (the query ``search`` sends)."""
    sparse = encoder.query(query.text) if query.mode != "dense" else None
    hits = sink.search(FETCH, query.where(), dense=dense, sparse=sparse)
    out: list[str] = []
    for hit in hits:
        dia = dia_of.get(str(hit.payload.get("message_uuid")))
        if dia is not None and dia not in out:
            out.append(dia)
            if len(out) == k:
                break
    return out


def evidence_recall(evidence: list[str], found: list[str]) -> float:
    """The paper's R@k for one question: evidence ids among ``found``, over all of them."""
    if not evidence:
        return 1.0
    return sum(1 for e in evidence if e in found) / len(evidence)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, action="append")
    args = parser.parse_args()
    modes = args.mode or list(MODES)
    samples = json.loads(DATA.read_text())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="locomo-") as tmp:
        conversations, state = Path(tmp) / "conversations", Path(tmp) / "state"
        dia_of = write_transcripts(samples, conversations)
        print(f"{len(samples)} conversations, {len(dia_of)} turns written", flush=True)
        seconds = import_folder(conversations, state)
        print(f"imported in {seconds:.1f} s", flush=True)
        encoder = Bm25Encoder()
        with search_tools(conversations, state) as (embedder, sink):
            questions = [(s["sample_id"], qa) for s in samples for qa in s["qa"]]
            print(f"{len(questions)} questions", flush=True)
            for mode in modes:
                by_k: dict[int, list[float]] = defaultdict(list)
                by_category: dict[str, list[float]] = defaultdict(list)
                for i, (conv, qa) in enumerate(questions, 1):
                    query = SearchQuery(qa["question"], project=f"/bench/locomo/{conv}", mode=mode)
                    dense = embedder.embed([query.text])[0] if mode != "bm25" else None
                    found = top_turns(sink, encoder, query, dense, dia_of, max(KS))
                    for k in KS:
                        by_k[k].append(evidence_recall(qa["evidence"], found[:k]))
                    by_category[CATEGORIES[qa["category"]]].append(
                        evidence_recall(qa["evidence"], found[:5])
                    )
                    if i % 500 == 0:
                        print(f"  {mode}: {i}/{len(questions)}", flush=True)
                recall = ", ".join(
                    f"@{k} {100 * sum(v) / len(v):.1f}" for k, v in sorted(by_k.items())
                )
                per_category = ", ".join(
                    f"{name} {100 * sum(v) / len(v):.1f} ({len(v)})"
                    for name, v in sorted(by_category.items())
                )
                print(f"{mode}: evidence recall {recall}; @5 by category: {per_category}")
    print(f"took {time.monotonic() - started:.0f} s (paper, DRAGON on turns: @5 56.7, @10 66.2)")


if __name__ == "__main__":
    main()
