"""Recall hooks as an agent runs them: latency, how often recall fires, what it adds.

Starts ``python -m streaming_importer`` (daemon mode) on
``../shared/corpus/claude-projects-2`` (40 sessions of other people, the larger
corpus) with an empty state folder and waits until it has imported everything.
Then runs ``python -m streaming_importer recall --state-dir ...`` as a fresh
process per hook call, the hook's JSON on stdin, and times each call from
start to exit (what the agent waits):

- ``UserPromptSubmit`` with the prompts typed in that corpus (every
  ``--every``-th prompt, each from its own session and project, so its own
  session is left out and only other sessions can answer);
- ``UserPromptSubmit`` with the prompts of ``../shared/corpus/claude-projects``
  (other people, other projects: what recall says when history holds nothing
  on the subject);
- ``SessionStart`` for each project of the first corpus, as a session of it;

and, after the importer stopped, the same prompt hook with no importer
running. Prints p50, p95 and max per kind, how often recall added something,
how much (characters, and tokens at four characters each), and two examples.

    python benchmarks/recall_latency.py [--every 2] [--state DIR]

``--state`` keeps the state folder (or reuses one this script filled before:
the importer then only checks that everything is imported).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.imported import importer_running  # noqa: E402
from streaming_importer.sources.claude import parse_line  # noqa: E402
from streaming_importer.sources.files import scan  # noqa: E402
from streaming_importer.sources.messages import ParseLimits, file_context_for  # noqa: E402
from streaming_importer.surfaces.http.client import query_running  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "claude-projects-2"
STRANGERS = ROOT.parent / "shared" / "corpus" / "claude-projects"
TARGET_P95_S = 0.150
TARGET_IDLE_S = 0.100


def prompts(folder: Path) -> list[dict[str, str]]:
    """Every prompt typed in ``folder``'s sessions, in order, with its session and project."""
    found = []
    limits = ParseLimits(tool_result_max_chars=2000, tool_call_max_chars=500)
    for f in scan(folder):
        context = file_context_for(f.rel_path)
        if context.is_subagent:
            continue
        for line in f.path.read_bytes().splitlines():
            result = parse_line(line, context, limits)
            context = result.context
            for m in result.messages:
                if m.kind == "prompt" and m.text.strip():
                    found.append({"prompt": m.text, "session": m.session_id, "cwd": m.cwd or ""})
    return found


def hook(state: Path, payload: dict[str, Any]) -> tuple[float, str]:
    """One hook call as the agent makes it: (seconds to exit, what it printed)."""
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "streaming_importer", "recall", "--state-dir", str(state)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - began
    if out.returncode != 0:
        raise SystemExit(f"the hook failed: {out.stderr[-2000:]}")
    context = (
        json.loads(out.stdout)["hookSpecificOutput"]["additionalContext"] if out.stdout else ""
    )
    return elapsed, context


def payload(event: str, p: dict[str, str]) -> dict[str, Any]:
    data = {
        "session_id": p["session"],
        "transcript_path": "",
        "cwd": p["cwd"],
        "permission_mode": "default",
        "hook_event_name": event,
    }
    return {**data, "prompt": p["prompt"]} if event == "UserPromptSubmit" else data


def report(name: str, calls: list[tuple[float, str]], target: float) -> None:
    times = sorted(t for t, _ in calls)
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    fired = [c for _, c in calls if c]
    print(f"{name}: {len(calls)} calls")
    print(
        f"  p50 {statistics.median(times) * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms  "
        f"max {times[-1] * 1000:.0f} ms  (target p95 <= {target * 1000:.0f} ms: "
        f"{'met' if p95 <= target else 'NOT met'})"
    )
    if fired:
        sizes = sorted(len(c) for c in fired)
        passages = [c.count(" (from history):") for c in fired]
        print(
            f"  added something: {len(fired)} of {len(calls)} ({len(fired) / len(calls):.0%}); "
            f"{statistics.mean(passages):.1f} passages, {statistics.median(sizes):.0f} characters "
            f"(~{statistics.median(sizes) / 4:.0f} tokens) median, {sizes[-1]} at most"
        )
    else:
        print(f"  added something: 0 of {len(calls)}")


def caught_up(runtime: Path, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The running importer's status once every file is imported and nothing moves for 5 s.

    Pending bytes need not reach 0: a transcript may end in a line not yet
    complete, which is never read until its newline comes.
    """
    deadline = time.monotonic() + 1800
    last, still = None, 0
    while still < 10:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the importer did not start or catch up")
        time.sleep(0.5)  # polling a condition, with a deadline
        if not runtime.exists():
            continue
        status = query_running(runtime, "/status", {})
        now = (status["files_imported"], status["pending_bytes"], status["points"])
        done = status["files_imported"] == status["files"]
        still = still + 1 if done and now == last else 0
        last = now
    return dict(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=2, help="every n-th prompt of the corpus")
    parser.add_argument(
        "--state", type=Path, help="the state folder to use (default: a temporary one)"
    )
    args = parser.parse_args()
    own = prompts(CORPUS)[:: args.every]
    strangers = prompts(STRANGERS)
    projects = {p["cwd"]: p for p in own if p["cwd"]}
    with tempfile.TemporaryDirectory(prefix="recall-latency-") as tmp:
        state = args.state or Path(tmp) / "state"
        started = time.monotonic()
        with importer_running(CORPUS, state) as proc:
            status = caught_up(state / "importer.json", proc)
            print(f"caught up in {time.monotonic() - started:.0f} s", flush=True)
            archive = status["archive"]
            hook(state, payload("UserPromptSubmit", own[0]))  # first-call effects out
            asked = [hook(state, payload("UserPromptSubmit", p)) for p in own]
            stranger = [hook(state, payload("UserPromptSubmit", p)) for p in strangers]
            start = [hook(state, payload("SessionStart", p)) for p in projects.values()]
        idle = [hook(state, payload("UserPromptSubmit", p)) for p in own[:30]]
    corpus = sum(f.size for f in scan(CORPUS))
    print(
        f"archive: {archive['transcripts']} transcripts, {corpus:,} bytes "
        f"kept in {archive['bytes']:,} ({archive['bytes'] / corpus:.0%})"
    )
    report("UserPromptSubmit, the corpus's own prompts", asked, TARGET_P95_S)
    report("UserPromptSubmit, another corpus's prompts", stranger, TARGET_P95_S)
    report("SessionStart, each project", start, TARGET_P95_S)
    report("no importer running", idle, TARGET_IDLE_S)
    for (_, context), p in zip(asked, own, strict=True):
        if context:
            print(f"\nexample: the prompt {p['prompt'][:100]!r} got:\n{context[:900]}")
            break
    for (_, context), cwd in zip(start, projects, strict=True):
        if context:
            print(f"\nexample: a session start in {cwd} got:\n{context[:900]}")
            break


if __name__ == "__main__":
    main()
