"""Codex CLI and Gemini CLI beside Claude Code: every message once, ids that do not move.

The real fixtures of ``../shared/corpus/other-agents`` are copied into a
temporary home and imported by the real program with ``SOURCES=claude,codex,
gemini``. What was stored is counted against a reading of the files written
here, independently of the parsers: prompts, answers and tool calls per
session, each exactly once although Codex writes every exchange twice.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from streaming_importer.ops.config import Settings
from streaming_importer.surfaces.mcp import Backend

from ..conftest import DEMO, OTHER_AGENTS, run_cli, start_cli, stored_points

Counts = Counter[tuple[str, str, str]]  # (agent, session, kind) -> messages
COUNTED = ("prompt", "answer", "tool_call")
_CODEX_CALLS = {"function_call", "custom_tool_call", "local_shell_call", "web_search_call"}


def home(tmp_path: Path) -> dict[str, str]:
    """The three agents' folders, copied from the fixtures; the environment that reads them."""
    codex, gemini, claude = tmp_path / "codex", tmp_path / "gemini", tmp_path / "claude"
    shutil.copytree(OTHER_AGENTS / "codex", codex)
    shutil.copytree(OTHER_AGENTS / "gemini-2", gemini)
    shutil.copytree(OTHER_AGENTS / "gemini" / "tmp", gemini / "tmp", dirs_exist_ok=True)
    shutil.copytree(DEMO, claude)
    return {
        "SOURCES": "claude,codex,gemini",
        "CONVERSATIONS_DIR": str(claude),
        "CODEX_HOME": str(codex),
        "GEMINI_DIR": str(gemini),
        "STATE_DIR": str(tmp_path / "state"),
        # Counting messages needs no long tool output: fewer chunks to embed.
        "TOOL_RESULT_MAX_CHARS": "200",
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = home(tmp_path_factory.mktemp("agents"))
    out = run_cli("--once", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return env


def read_independently(env: dict[str, str]) -> Counts:
    """Prompts, answers and tool calls per session, from the files themselves."""
    counts: Counts = Counter()
    for path in sorted(Path(env["CODEX_HOME"], "sessions").rglob("rollout-*")):
        counts.update(_codex(path))
    for path in sorted(Path(env["GEMINI_DIR"], "tmp").glob("*/chats/session-*")):
        counts.update(_gemini(path))
    for path in sorted(Path(env["CONVERSATIONS_DIR"]).rglob("*.jsonl")):
        counts.update(_claude(path))
    return +counts


def _codex(path: Path) -> Counts:
    counts: Counts = Counter()
    if path.suffix == ".json":  # the TypeScript CLI: one document
        doc = json.loads(path.read_text())
        session = doc["session"]["id"]
        for item in doc["items"]:
            if item.get("role") == "user":
                counts["codex", session, "prompt"] += 1
            elif item.get("role") == "assistant":
                counts["codex", session, "answer"] += bool(item.get("content"))
                counts["codex", session, "tool_call"] += len(item.get("tool_calls") or [])
        return counts
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    enveloped = "payload" in lines[0]
    session = lines[0]["payload"]["id"] if enveloped else lines[0]["id"]
    for line in lines[1:]:
        item = line.get("payload", {}) if enveloped else line
        kind = item.get("type")
        texts = [
            b.get("text", "").strip() for b in item.get("content") or [] if isinstance(b, dict)
        ]
        if kind == "user_message" and item["message"].strip():
            counts["codex", session, "prompt"] += 1  # the event: one of the two copies
        elif kind == "message" and item.get("role") == "assistant" and any(texts):
            counts["codex", session, "answer"] += 1
        elif kind == "message" and item.get("role") == "user" and not enveloped:
            counts["codex", session, "prompt"] += not texts[0].startswith("<")
        elif kind in _CODEX_CALLS:
            counts["codex", session, "tool_call"] += 1
    return counts


def _gemini(path: Path) -> Counts:
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        session, messages = doc["sessionId"], doc["messages"]
    else:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        session = records[0]["sessionId"]
        messages = [r for r in records[1:] if "id" in r]  # the fixtures rewind nothing
    counts: Counts = Counter()
    for m in messages:
        content = m.get("content")
        text = content if isinstance(content, str) else " ".join(p["text"] for p in content or [])
        if m["type"] == "user" and text.strip():
            counts["gemini-cli", session, "prompt"] += 1
        elif m["type"] == "gemini":
            counts["gemini-cli", session, "answer"] += bool(text.strip())
            counts["gemini-cli", session, "tool_call"] += len(m.get("toolCalls") or [])
    return counts


def _claude(path: Path) -> Counts:
    counts: Counts = Counter()
    for line in path.read_text().splitlines():
        record = json.loads(line)
        content = (record.get("message") or {}).get("content")
        if record.get("type") != "assistant" or not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "text" and block["text"].strip():
                counts["claude-code", record["sessionId"], "answer"] += 1
            elif block.get("type") == "tool_use":
                counts["claude-code", record["sessionId"], "tool_call"] += 1
    return counts


def stored_counts(points: dict[str, dict[str, Any]], agents: tuple[str, ...]) -> Counts:
    counts: Counts = Counter()
    for p in points.values():
        if p["chunk_index"] == 0 and p["kind"] in COUNTED and p["agent"] in agents:
            if p["agent"] != "claude-code" or p["kind"] != "prompt":  # Claude's: see test_parse
                counts[p["agent"], p["session_id"], p["kind"]] += 1
    return counts


def test_once_imports_every_message_of_every_agent_once(imported: dict[str, str]) -> None:
    points = stored_points(Path(imported["STATE_DIR"]))
    expected = read_independently(imported)
    stored = stored_counts(points, ("claude-code", "codex", "gemini-cli"))
    assert stored == expected
    agents = Counter(p["agent"] for p in points.values())
    assert agents["codex"] > 500 and agents["gemini-cli"] > 50 and agents["claude-code"] > 20
    # Codex writes each prompt twice (event and response item): stored once.
    sessions = {s for (a, s, k) in expected if a == "codex" and k == "prompt"}
    assert len(sessions) >= 7
    # Where the Gemini project folder is a slug, projects.json names the project.
    playground = {p["project"] for p in points.values() if p["session_id"].startswith("887ba529")}
    assert playground == {"/home/core/playground"}


def test_a_second_run_adds_nothing(imported: dict[str, str]) -> None:
    # (That a clean import of the same bytes in another store gives the same
    # ids is what the kill storm of tests/pipeline/test_invariant.py compares, Codex included.)
    first = stored_points(Path(imported["STATE_DIR"]))
    again = run_cli("--once", env=imported)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 lines, 0 chunks" in again.stderr
    assert stored_points(Path(imported["STATE_DIR"])) == first


def test_search_status_and_resume_per_agent(imported: dict[str, str]) -> None:
    def search(*args: str) -> list[dict[str, Any]]:
        out = run_cli("search", "add more printers", "--json", "--limit", "5", *args, env=imported)
        assert out.returncode == 0, out.stderr[-2000:]
        return list(json.loads(out.stdout))

    codex = search("--agent", "codex")
    assert codex and {h["agent"] for h in codex} == {"codex"}
    assert codex[0]["resume"].endswith(f"&& codex resume {codex[0]['session_id']}")
    assert {h["agent"] for h in search("--agent", "claude-code")} == {"claude-code"}
    gemini = search("--agent", "gemini-cli")
    assert gemini
    for hit in gemini:
        assert hit["resume"].split("&& ")[-1] == f"gemini --resume {hit['session_id']}"

    out = run_cli("status", "--json", env=imported)
    assert out.returncode == 0, out.stderr[-2000:]
    status = json.loads(out.stdout)
    points = stored_points(Path(imported["STATE_DIR"]))
    for agent, seen in status["agents"].items():
        assert seen["points"] == sum(p["agent"] == agent for p in points.values())
        assert seen["files"] == seen["files_imported"] > 0
    assert sum(seen["points"] for seen in status["agents"].values()) == status["points"]


def test_a_missing_source_folder_is_named(tmp_path: Path) -> None:
    env = {**home(tmp_path), "CODEX_HOME": str(tmp_path / "nowhere")}
    out = run_cli("--once", env=env)
    assert out.returncode == 2
    assert f"CODEX_HOME='{tmp_path / 'nowhere'}'" in out.stderr
    out = run_cli("--once", env={**env, "SOURCES": "claude,cursor"})
    assert out.returncode == 2 and "SOURCES='claude,cursor'" in out.stderr


GEMINI_CHAT = "tmp/playground/chats/session-2026-04-28T15-09-887ba529.jsonl"
GEMINI_DOC = "tmp/907f20644716c92a8309a8b7c1ceec79d422233ff220b7fdb8772b360bd8273f/chats/session-2026-01-16T11-01-37b7abef.json"  # noqa: E501


def gemini_only(tmp_path: Path, state: str) -> dict[str, str]:
    return {
        "SOURCES": "gemini",
        "GEMINI_DIR": str(tmp_path / "gemini"),
        "STATE_DIR": str(tmp_path / state),
    }


def message(ident: str, kind: str, text: str) -> bytes:
    record = {"id": ident, "timestamp": "2026-04-28T15:10:00.000Z", "type": kind, "content": text}
    return json.dumps(record).encode() + b"\n"


def test_a_rewound_gemini_chat_leaves_exactly_the_points_of_its_final_content(
    tmp_path: Path,
) -> None:
    shutil.copytree(OTHER_AGENTS / "gemini-2", tmp_path / "gemini")
    chat, doc = tmp_path / "gemini" / GEMINI_CHAT, tmp_path / "gemini" / GEMINI_DOC
    env = gemini_only(tmp_path, "state")
    with chat.open("ab") as f:  # the log grows by a question and its answer
        f.write(message("q1", "user", "which port does the AMF listen on?"))
        f.write(message("a1", "gemini", "The AMF listens on port 38412 for NGAP over SCTP."))
    assert run_cli("--once", env=env).returncode == 0
    texts = {p["text"] for p in stored_points(tmp_path / "state").values()}
    assert "The AMF listens on port 38412 for NGAP over SCTP." in texts

    # The person rewinds to before the question and asks something else, and
    # the whole-file chat is rewritten without its last four messages.
    with chat.open("ab") as f:
        f.write(b'{"$rewindTo":"q1"}\n')
        f.write(message("q2", "user", "how do I restart the SMF container?"))
        f.write(b'{"$set":{"lastUpdated":"2026-04-28T15:11:00.000Z"}}\n')
    whole = json.loads(doc.read_text())
    whole["messages"] = whole["messages"][:-4]
    doc.write_text(json.dumps(whole, indent=2))
    out = run_cli("--once", env=env)
    assert out.returncode == 0, out.stderr[-2000:]

    final = stored_points(tmp_path / "state")
    assert run_cli("--once", env=gemini_only(tmp_path, "clean")).returncode == 0
    assert final == stored_points(tmp_path / "clean")
    texts = {p["text"] for p in final.values()}
    assert "how do I restart the SMF container?" in texts
    assert not any("38412" in t or "which port" in t for t in texts)
    assert not any("removed the 2nd and 3rd lines" in t for t in texts)


PARENT = "2026/01/02/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"


def test_a_forked_codex_session_does_not_store_its_parent_again(tmp_path: Path) -> None:
    sessions = tmp_path / "codex" / "sessions"
    parent = sessions / PARENT
    parent.parent.mkdir(parents=True)
    shutil.copy(OTHER_AGENTS / "codex" / "sessions" / PARENT, parent)
    # What Codex writes on a fork: the child's meta, the parent's records again
    # (each line written anew, at the time of the fork), then its own turn.
    lines = [json.loads(line) for line in parent.read_text().splitlines()]
    child_id = "019b8000-0000-7000-8000-000000000001"
    meta = {**lines[0]["payload"], "id": child_id, "forked_from_id": lines[0]["payload"]["id"]}
    own = "and which of those goals is the most urgent for the next release?"
    child = [
        {"timestamp": "2026-01-03T09:00:00.000Z", "type": "session_meta", "payload": meta},
        *({**line, "timestamp": "2026-01-03T09:00:00.001Z"} for line in lines),
        {
            "timestamp": "2026-01-03T09:00:05.000Z",
            "type": "event_msg",
            "payload": {"type": "user_message", "message": own, "images": []},
        },
    ]
    forked = sessions / "2026/01/03" / f"rollout-2026-01-03T10-00-00-{child_id}.jsonl"
    forked.parent.mkdir(parents=True)
    forked.write_text("".join(json.dumps(r) + "\n" for r in child))
    env = {"SOURCES": "codex", "CODEX_HOME": str(tmp_path / "codex")}

    def prompts(state: str) -> dict[str, list[str]]:
        out = run_cli("--once", env={**env, "STATE_DIR": str(tmp_path / state)})
        assert out.returncode == 0, out.stderr[-2000:]
        found: dict[str, list[str]] = {}
        for p in stored_points(tmp_path / state).values():
            if p["kind"] == "prompt" and p["chunk_index"] == 0:
                found.setdefault(p["session_id"], []).append(p["text"])
        return found

    parent_prompt = "what is current repository about? summarize purpuse and explain goals"
    stored = prompts("state")
    assert stored == {lines[0]["payload"]["id"]: [parent_prompt], child_id: [own]}
    # Without its parent on disk, the child's copy is the only one: kept.
    parent.unlink()
    assert sorted(prompts("alone")[child_id]) == sorted([parent_prompt, own])


def test_the_running_importer_follows_codex_appends_and_gemini_rewrites(tmp_path: Path) -> None:
    env = home(tmp_path)
    # No rescans: only watching every source's folder can see the changes.
    env |= {"RESCAN_INTERVAL_S": "86400", "SOURCES": "codex,gemini"}
    shutil.rmtree(Path(env["CODEX_HOME"], "sessions", "2025", "10"))  # the large ones: faster
    shutil.rmtree(Path(env["CODEX_HOME"], "sessions", "2025", "11"))
    proc = start_cli(env=env)
    try:
        wait_for(env, lambda status: status.get("running") and status["pending_bytes"] == 0)
        assert gemini_top(env, "create hello.md file") == "create hello.md file"
        rollout = Path(env["CODEX_HOME"], "sessions", PARENT)
        typed = "does the retry budget reset when the webhook worker restarts?"
        with rollout.open("ab") as f:
            record = {"type": "event_msg", "payload": {"type": "user_message", "message": typed}}
            f.write(json.dumps({"timestamp": "2026-01-02T17:00:00Z", **record}).encode() + b"\n")
        doc = Path(env["GEMINI_DIR"]) / GEMINI_DOC
        whole = json.loads(doc.read_text())
        whole["messages"] = whole["messages"][:2]
        doc.write_text(json.dumps(whole))
        # Its later messages (the hello.md prompt among them) are gone.
        wait_for(
            env,
            lambda _: (
                top(env, typed) == typed
                and gemini_top(env, "create hello.md file") not in (None, "create hello.md file")
            ),
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def wait_for(env: dict[str, str], done: Callable[[dict[str, Any]], Any]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        out = run_cli("status", "--json", env=env)
        if out.returncode == 0 and done(json.loads(out.stdout)):
            return
        time.sleep(0.3)  # polling a condition, with a deadline
    raise AssertionError("the running importer did not get there")


def top(env: dict[str, str], query: str) -> str | None:
    out = run_cli("search", query, "--json", "--limit", "1", "--agent", "codex", env=env)
    hits = json.loads(out.stdout) if out.returncode == 0 else []
    return hits[0]["text"] if hits else None


def gemini_top(env: dict[str, str], query: str) -> str | None:
    """The best match for ``query`` in the rewritten Gemini chat."""
    out = run_cli("search", query, "--json", "--session", GEMINI_SESSION, env=env)
    hits = json.loads(out.stdout) if out.returncode == 0 else []
    return hits[0]["text"] if hits else None


GEMINI_SESSION = "37b7abef-713d-4522-85f0-8ff15a4e6d17"


def test_mcp_expand_reads_around_a_codex_hit_and_a_gemini_hit(imported: dict[str, str]) -> None:
    backend = Backend(Settings.from_env(imported))
    points = stored_points(Path(imported["STATE_DIR"])).values()

    def first(agent: str, text: str) -> dict[str, Any]:
        return next(p for p in points if p["agent"] == agent and p["text"] == text)

    hit = first("codex", "Can we continue from where we left off?")
    around = backend.expand(hit["path"], hit["offset"], 1, 1, hit["turn"])
    assert [m["text"] for m in around][1] == hit["text"]
    assert around[0]["kind"] == "injected" and "<environment_context>" in around[0]["text"]
    assert around[2]["kind"] == "answer"

    hit = first("gemini-cli", "create hello.md file")  # a chat read whole: cut by turn
    around = backend.expand(hit["path"], hit["offset"], 1, 1, hit["turn"])
    assert [m["kind"] for m in around] == ["answer", "prompt", "tool_call"]
    assert around[1]["text"] == "create hello.md file"

    for outside in ("codex:../../../etc/passwd", "gemini:../projects.json"):
        with pytest.raises(ToolError, match="not a transcript"):
            backend.expand(outside, 0, 1, 1)
