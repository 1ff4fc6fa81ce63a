"""A line typed word for word is the passage shown, whatever lines like it surround it.

Twenty lines from one template (``the <word> <word> protocol needs a <word>
checksum before release <i>``) appended to the running importer's sessions in
four shapes: prompts each answered by a reply that repeats it (neighbour
support), twenty prompts with the same timestamp, the assistant's lines after
one prompt, and all twenty in one pasted prompt (one chunk). Each line, searched
through the socket, must come back first, from its session, with the line in
the passage shown and as the highlight.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from streaming_importer.surfaces.http.client import query_running

from ..conftest import clean_env, start_cli

WORDS = (
    "amber basil cobalt dune ember fjord garnet harbor indigo juniper kelp lagoon marble "
    "nectar onyx pebble quartz raven saffron tundra umber velvet willow xenon yarrow zephyr"
).split()


def template(i: int, shape: int) -> str:
    a, b, c = WORDS[(i * 7 + shape) % 26], WORDS[(i * 3 + 2 * shape) % 26], WORDS[(i * 5 + 1) % 26]
    return f"the {a} {b} protocol needs a {c} checksum before release {i}"


def record(session: str, role: str, text: str, when: str) -> bytes:
    content: Any = text if role == "user" else [{"type": "text", "text": text}]
    line = {
        "type": role,
        "uuid": str(uuid.uuid4()),
        "sessionId": session,
        "cwd": "/home/dev/proto",
        "timestamp": when,
        "message": {"role": role, "content": content},
    }
    return json.dumps(line).encode() + b"\n"


def shapes() -> dict[str, tuple[list[str], bytes]]:
    """Each shape's session id: its twenty lines and the bytes that hold them."""
    out: dict[str, tuple[list[str], bytes]] = {}
    lines = [template(i, 1) for i in range(1, 21)]
    out["replied"] = (
        lines,
        b"".join(
            record("replied", "user", s, f"2026-11-22T12:{i:02d}:00Z")
            + record("replied", "assistant", f"Noted. {s}.", f"2026-11-22T12:{i:02d}:01Z")
            for i, s in enumerate(lines, 1)
        ),
    )
    lines = [template(i, 2) for i in range(1, 21)]
    out["same-time"] = (
        lines,
        b"".join(record("same-time", "user", s, "2026-11-22T13:00:00Z") for s in lines),
    )
    lines = [template(i, 3) for i in range(1, 21)]
    out["answered"] = (
        lines,
        record("answered", "user", "list the release rules", "2026-11-22T14:00:00Z")
        + b"".join(
            record("answered", "assistant", s, f"2026-11-22T14:00:{i:02d}Z")
            for i, s in enumerate(lines, 1)
        ),
    )
    lines = [template(i, 4) for i in range(1, 21)]
    out["pasted"] = (lines, record("pasted", "user", "\n".join(lines), "2026-11-22T15:00:00Z"))
    return out


def test_a_line_typed_word_for_word_is_shown_before_lines_like_it(tmp_path: Path) -> None:
    conversations, state = tmp_path / "conversations", tmp_path / "state"
    project = conversations / "-home-dev-proto"
    project.mkdir(parents=True)
    # One line already there, so the importer is running and caught up first.
    (project / "seed.jsonl").write_bytes(
        record("seed", "user", "which checksum do releases use", "2026-11-22T11:00:00Z")
    )
    env = clean_env(CONVERSATIONS_DIR=str(conversations), STATE_DIR=str(state))
    runtime = state / "importer.json"
    proc = start_cli(env=env)
    try:
        wait(lambda: runtime.exists() and not status(runtime)["pending_bytes"])
        cases = shapes()
        for session, (_, data) in cases.items():
            (project / f"{session}.jsonl").write_bytes(data)
        last = {session: lines[-1] for session, (lines, _) in cases.items()}
        # Appended while running: wait until each file's last line is stored and
        # found at all (its session among the results).
        wait(lambda: all(s in sessions(runtime, line) for s, line in last.items()))
        shown, highlighted = [], []
        for session, (lines, _) in cases.items():
            for line in lines:
                found, passage, highlight = top(runtime, line)
                if found != session or line not in passage:
                    shown.append((session, line, found, passage[:70]))
                if highlight != line:
                    highlighted.append((session, line, highlight))
        # The right session first, shown by a passage that holds the line...
        assert shown == []
        # ...and the line itself as its highlight.
        assert highlighted == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def status(runtime: Path) -> dict[str, Any]:
    return dict(query_running(runtime, "/status", {}))


def sessions(runtime: Path, query: str) -> list[str]:
    return [h["session_id"] for h in query_running(runtime, "/search", {"q": query, "limit": "5"})]


def top(runtime: Path, query: str) -> tuple[str, str, str]:
    """The first result's session, passage, and first highlight."""
    hits = query_running(runtime, "/search", {"q": query, "limit": "3"})
    if not hits:
        return "", "", ""
    best = hits[0]
    highlight = best.get("highlight") or [{"text": ""}]
    return str(best["session_id"]), str(best["text"]), str(highlight[0]["text"])


def wait(done: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if done():
                return
        except OSError:
            pass  # not answering yet
        time.sleep(0.1)  # polling a condition, with a deadline
    raise AssertionError("the running importer did not get there")
