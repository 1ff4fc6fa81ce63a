"""``recall``: what an agent's hook runs at a session's start and on each prompt.

Claude Code (``SessionStart``, ``UserPromptSubmit``), Codex CLI (the same
two) and Gemini CLI (``SessionStart``, ``BeforeAgent``) run it with the
hook's JSON on stdin. It asks the running importer (``POST /recall`` on its
control socket) and prints the hook's answer, ``hookSpecificOutput`` with
``additionalContext``, or nothing. A hook must never slow or break the agent:
with no importer running it prints nothing and exits 0 at once; an importer
that does not answer within :data:`TIMEOUT_S` is given up on; a payload it
cannot read is ignored; it exits 0 unless something unforeseen happens (then
1, which every agent treats as a warning, never as a block).

Imported before anything else of the package (``__main__``), with the
standard library only (the client speaks HTTP on a plain socket), so that it
starts and answers in tens of milliseconds. The state folder comes from
``--state-dir`` (``hooks install`` writes it); without it, from the settings,
which costs their import.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from streaming_importer.errors import ConfigError, ControlError
from streaming_importer.surfaces.http.client import query_running
from streaming_importer.surfaces.http.runtime import RUNTIME_NAME, read_runtime

__all__ = ["EVENTS", "MAX_INPUT_BYTES", "TIMEOUT_S", "main"]

#: Hook event -> what is recalled: at a session's start, or for a prompt.
EVENTS = {"SessionStart": "start", "UserPromptSubmit": "prompt", "BeforeAgent": "prompt"}
#: Bytes of the hook's JSON read at most.
MAX_INPUT_BYTES = 1 << 20
#: Seconds the running importer is given for each step of its answer.
TIMEOUT_S = 1.5
#: Characters of a prompt sent (the request is bounded; the model reads less).
PROMPT_CHARS = 2000


def main(argv: Sequence[str]) -> int:
    """Read the hook's JSON from stdin, print the answer; the exit code."""
    # Read first in any case: an agent writing to a hook that left may see a broken pipe.
    raw = sys.stdin.buffer.read(MAX_INPUT_BYTES)
    state_dir = _state_dir(argv)
    if state_dir is None or read_runtime(state_dir / RUNTIME_NAME) is None:
        return 0  # no importer runs: nothing to add, at once
    try:
        payload = json.loads(raw)
    except ValueError:
        return 0  # not a hook's payload: nothing to add
    event = payload.get("hook_event_name") if isinstance(payload, dict) else None
    kind = EVENTS.get(str(event))
    if kind is None:
        return 0
    params = {
        "event": kind,
        "session": str(payload.get("session_id") or ""),
        "cwd": str(payload.get("cwd") or ""),
        "prompt": str(payload.get("prompt") or "")[:PROMPT_CHARS],
    }
    try:
        answer = query_running(
            state_dir / RUNTIME_NAME, "/recall", params, method="POST", timeout_s=TIMEOUT_S
        )
    except (OSError, ValueError, ControlError) as e:
        # Said where a person debugging hooks looks; the agent is not held up.
        print(f"streaming_importer recall: {e}", file=sys.stderr)  # noqa: T201
        return 0
    context = answer.get("context") if isinstance(answer, dict) else None
    if context:
        output = {"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}}
        sys.stdout.write(json.dumps(output) + "\n")
    return 0


def _state_dir(argv: Sequence[str]) -> Path | None:
    """``--state-dir DIR`` if given, else ``STATE_DIR`` as the settings read it (None: bad)."""
    for i, arg in enumerate(argv):
        if arg == "--state-dir" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--state-dir="):
            return Path(arg.split("=", 1)[1])
    # Only here: the settings' import costs a tenth of a second a hook rarely pays.
    from streaming_importer.ops.config import Settings

    try:
        return Settings.from_env(os.environ).state_dir
    except ConfigError as e:
        print(f"streaming_importer recall: configuration error: {e}", file=sys.stderr)  # noqa: T201
        return None
