"""Recall hooks through the real program: hook payloads in, the agent's answer out.

The payloads have the shapes the agents' hook references give (Claude Code's
``SessionStart`` and ``UserPromptSubmit``, Codex CLI's, Gemini CLI's
``BeforeAgent``); ``recall`` runs as the subprocess an agent would start,
against a running importer on the demo transcripts, and with none running.
``hooks install`` writes nothing without ``--write``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streaming_importer.surfaces.recalled import RECALL_CHARS

from ..conftest import DEMO, ROOT, clean_env, run_cli, running_importer

SHOP = "/home/dev/shop-api"
MIGRATION = "3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57"  # the orders column session
NEW_SESSION = "5f7e3a10-9b2c-4d61-8e4f-000000000001"
QUESTION = "how did we add the fulfillment status column to the orders table without locking it?"


def claude(event: str, session: str = NEW_SESSION, **fields: Any) -> dict[str, Any]:
    return {
        "session_id": session,
        "transcript_path": f"/home/dev/.claude/projects/-home-dev-shop-api/{session}.jsonl",
        "cwd": SHOP,
        "permission_mode": "default",
        "hook_event_name": event,
        **fields,
    }


def recall(state: Path | None, payload: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """The hook as an agent runs it: the payload on stdin, a fresh process."""
    command = [sys.executable, "-m", "streaming_importer", "recall", *args]
    if state is not None:
        command += ["--state-dir", str(state)]
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run(
        command, input=text, capture_output=True, text=True, timeout=30, env=clean_env(), cwd=ROOT
    )


def answer(out: subprocess.CompletedProcess[str], event: str) -> str:
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["hookSpecificOutput"]["hookEventName"] == event
    context: str = data["hookSpecificOutput"]["additionalContext"]
    assert len(context) <= RECALL_CHARS
    return context


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("hooks")
    shutil.copytree(DEMO, tmp / "conversations")
    env = {"CONVERSATIONS_DIR": str(tmp / "conversations"), "STATE_DIR": str(tmp / "state")}
    with running_importer(env):
        yield tmp / "state"


def test_session_start_brings_the_projects_last_conclusions_newest_first(state: Path) -> None:
    context = answer(recall(state, claude("SessionStart", source="startup")), "SessionStart")
    assert "```history" in context and "never instructions" in context
    days = [line[:10] for line in context.splitlines() if ", session " in line]
    assert len(days) == 3 and days == sorted(days, reverse=True)
    assert "concluded: " in context and "Atom feed" not in context  # another project's
    # The session starting is not recalled to itself.
    context = answer(recall(state, claude("SessionStart", MIGRATION)), "SessionStart")
    assert f"session {MIGRATION[:8]}" not in context


def test_a_prompt_brings_other_sessions_passages_above_the_floor(state: Path) -> None:
    payload = claude("UserPromptSubmit", prompt=QUESTION)
    context = answer(recall(state, payload), "UserPromptSubmit")
    assert f"session {MIGRATION[:8]}" in context and "2026-09-14" in context
    assert "fulfillment_status" in context
    # Asked from inside that very session: nothing of it comes back.
    out = recall(state, claude("UserPromptSubmit", MIGRATION, prompt=QUESTION))
    assert f"session {MIGRATION[:8]}" not in out.stdout
    # Nothing good: nothing at all, rather than something weak.
    far = claude("UserPromptSubmit", prompt="which wines go well with a mushroom risotto tonight")
    assert recall(state, far).stdout == ""
    for nothing in ("/clear", "ok thanks", ""):
        assert recall(state, claude("UserPromptSubmit", prompt=nothing)).stdout == ""


def test_codex_and_gemini_payloads(state: Path) -> None:
    codex = {
        "session_id": NEW_SESSION,
        "turn_id": "turn-1",
        "transcript_path": None,
        "cwd": SHOP,
        "hook_event_name": "UserPromptSubmit",
        "model": "gpt-5-codex",
        "prompt": QUESTION,
    }
    assert "fulfillment_status" in answer(recall(state, codex), "UserPromptSubmit")
    gemini = {
        "session_id": NEW_SESSION,
        "transcript_path": "/home/dev/.gemini/tmp/x/chats/session.json",
        "cwd": SHOP,
        "hook_event_name": "BeforeAgent",
        "timestamp": "2026-12-07T10:00:00.000Z",
        "prompt": QUESTION,
    }
    assert "fulfillment_status" in answer(recall(state, gemini), "BeforeAgent")
    start = {**gemini, "hook_event_name": "SessionStart", "source": "startup"}
    assert "concluded: " in answer(recall(state, start), "SessionStart")


def test_anything_else_is_answered_with_nothing(state: Path) -> None:
    for payload in ("not json", "[]", {"hook_event_name": "PreToolUse", "tool_name": "Bash"}):
        out = recall(state, payload)
        assert (out.returncode, out.stdout) == (0, "")


def test_with_no_importer_running_it_prints_nothing_at_once(tmp_path: Path) -> None:
    payload = claude("UserPromptSubmit", prompt=QUESTION)
    started = time.monotonic()
    out = recall(tmp_path / "no-state", payload)
    # Generous for a loaded CI machine; benchmarks/recall_latency.py measures it.
    assert time.monotonic() - started < 2.0
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    # A stale runtime file (a killed importer) is the same.
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "importer.json").write_text('{"pid": 999999999, "socket": true}')
    assert recall(tmp_path / "s", payload).stdout == ""


def test_hooks_install_shows_writes_only_when_told_and_uninstalls(
    tmp_path: Path, state: Path
) -> None:
    home = tmp_path / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    theirs = [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}]
    mine = {"model": "opus", "hooks": {"PreToolUse": theirs}}
    settings.write_text(json.dumps(mine))
    env = {
        "HOME": str(home),
        "STATE_DIR": str(state),
        "CODEX_HOME": str(tmp_path / "codex"),
        "GEMINI_DIR": str(tmp_path / "gemini"),
    }
    shown = run_cli("hooks", "install", env=env)
    assert shown.returncode == 0, shown.stderr
    assert (
        "+" in shown.stdout and "UserPromptSubmit" in shown.stdout and "BeforeAgent" in shown.stdout
    )
    assert "nothing was written" in shown.stdout
    assert json.loads(settings.read_text()) == mine
    assert not (tmp_path / "codex").exists() and not (tmp_path / "gemini").exists()

    out = run_cli("hooks", "install", "--agent", "claude", "--write", env=env)
    assert out.returncode == 0, out.stderr
    written = json.loads(settings.read_text())
    assert written["model"] == "opus" and written["hooks"]["PreToolUse"] == theirs
    hook = written["hooks"]["UserPromptSubmit"][0]["hooks"][0]
    assert hook["type"] == "command" and "--state-dir" in hook["command"]
    backups = list(settings.parent.glob("settings.json.bak-*"))
    assert len(backups) == 1 and json.loads(backups[0].read_text()) == mine
    again = run_cli("hooks", "install", "--agent", "claude", "--write", env=env)
    assert "needs no change" in again.stdout

    # The command written is one that works: run it as the agent would, through a shell.
    payload = json.dumps(claude("UserPromptSubmit", prompt=QUESTION))
    ran = subprocess.run(
        hook["command"], shell=True, input=payload, capture_output=True, text=True, timeout=30
    )
    assert "fulfillment_status" in json.loads(ran.stdout)["hookSpecificOutput"]["additionalContext"]

    out = run_cli("hooks", "uninstall", "--agent", "claude", "--write", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(settings.read_text()) == mine


def test_hooks_install_in_a_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {"HOME": str(tmp_path / "home"), "STATE_DIR": str(tmp_path / "state")}
    args = ("hooks", "install", "--scope", "project", "--project", str(project), "--write")
    out = run_cli(*args, env=env)
    assert out.returncode == 0, out.stderr
    claude_file = project / ".claude" / "settings.local.json"
    assert "SessionStart" in json.loads(claude_file.read_text())["hooks"]
    codex = json.loads((project / ".codex" / "hooks.json").read_text())["hooks"]
    assert set(codex) == {"SessionStart", "UserPromptSubmit"}
    gemini = json.loads((project / ".gemini" / "settings.json").read_text())["hooks"]
    assert set(gemini) == {"SessionStart", "BeforeAgent"}
    assert gemini["BeforeAgent"][0]["hooks"][0]["timeout"] == 5000  # milliseconds there
    assert not (tmp_path / "home").exists()
    args = ("hooks", "uninstall", "--scope", "project", "--project", str(project), "--write")
    assert run_cli(*args, env=env).returncode == 0
    assert json.loads(claude_file.read_text()) == {}
