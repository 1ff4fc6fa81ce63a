"""The MCP server, driven over stdio by the official SDK's client."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ..conftest import ROOT, clean_env, run_cli, start_cli
from ..pipeline.test_live import wait_for

WEBHOOK = "9d2c47e1-0b6a-4f3e-8c5d-71a9e3b2f608"


@pytest.fixture
def imported(demo_copy: Path, tmp_path: Path) -> dict[str, str]:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path / "state")}
    result = run_cli("--once", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return env


def server(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "streaming_importer", "mcp"],
        env=clean_env(**env),
        cwd=str(ROOT),
    )


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    data = result.structured_content
    return data["result"] if isinstance(data, dict) and set(data) == {"result"} else data


async def test_the_three_tools(imported: dict[str, str]) -> None:
    # Each test opens its own client: the SDK's task group must stay in one task.
    async with Client(server(imported)) as client:
        await check_three_tools(client)


async def check_three_tools(client: Client) -> None:
    listed = (await client.list_tools()).tools
    assert {t.name for t in listed} == {"search", "expand", "get_session"}
    # Each tool says its texts are quoted data, not instructions.
    assert all("quoted data" in (t.description or "") for t in listed)
    hits = await call(client, "search", query="why did the webhook test fail?", limit=3)
    assert all(fenced(h[key]) for h in hits for key in ("text", "prompt", "conclusion"))
    best = hits[0]
    assert best["session_id"] == WEBHOOK
    for key in ("message_uuid", "timestamp", "path", "offset", "text", "prompt", "score"):
        assert key in best
    assert len({h["session_id"] for h in hits}) == len(hits)

    around = await call(client, "expand", path=best["path"], offset=best["offset"], before=2)
    uuids = [m["message_uuid"] for m in around]
    assert best["message_uuid"] in uuids
    assert uuids.index(best["message_uuid"]) >= 1  # there is context before it
    assert all({"kind", "role", "timestamp", "text"} <= set(m) for m in around)
    assert all(fenced(m["text"]) for m in around)

    session = await call(client, "get_session", session_id=WEBHOOK)
    assert session["project"] == "/home/dev/shop-api"
    assert session["git_branch"] == "fix/flaky-webhook-test"
    assert fenced(session["first_prompt"]) and session["started"] <= session["ended"]
    assert any(f.endswith("fixtures.ts") for f in session["files_touched"])
    assert session["tools_used"]


async def test_filters_exclusion_and_the_character_cap(imported: dict[str, str]) -> None:
    async with Client(server(imported)) as client:
        await check_filters(client)


async def check_filters(client: Client) -> None:
    question = "why did the webhook test fail?"
    without = await call(client, "search", query=question, exclude_session=WEBHOOK, limit=5)
    assert without and WEBHOOK not in {h["session_id"] for h in without}
    blog = await call(client, "search", query=question, project="blog")
    assert {h["project"] for h in blog} <= {"/home/dev/blog", None}
    capped = await call(client, "search", query=question, limit=5, max_chars=300)
    assert sum(len(h["text"]) + len(h["prompt"]) + len(h["conclusion"]) for h in capped) <= 300


async def test_bad_input_is_a_tool_error(imported: dict[str, str]) -> None:
    async with Client(server(imported)) as client:
        await check_bad_input(client)


async def check_bad_input(client: Client) -> None:
    outside = await client.call_tool("expand", {"path": "../../etc/passwd.jsonl", "offset": 0})
    assert outside.is_error
    unknown = await client.call_tool("get_session", {"session_id": "no-such-session"})
    assert unknown.is_error and "no session" in json.dumps(unknown.model_dump(mode="json"))
    bad_time = await client.call_tool("search", {"query": "x", "since": "last week"})
    assert bad_time.is_error


async def test_every_call_has_a_time_limit(imported: dict[str, str]) -> None:
    async with Client(server({**imported, "MCP_CALL_TIMEOUT_S": "0.01"})) as c:
        result = await c.call_tool("search", {"query": "webhook"})  # must load the model first
    assert result.is_error
    assert "MCP_CALL_TIMEOUT_S=0.01" in json.dumps(result.model_dump(mode="json"))


async def test_beside_a_running_importer(imported: dict[str, str]) -> None:
    env = {**imported, "CONTROL_PORT": "0"}
    state = Path(env["STATE_DIR"])
    with start_cli(env=env) as daemon:
        try:
            wait_for(lambda: (state / "importer.json").exists(), 60, "the importer's port")
            async with Client(server(env)) as c:
                hits = await call(c, "search", query="why did the webhook test fail?")
                assert hits[0]["session_id"] == WEBHOOK
                session = await call(c, "get_session", session_id=WEBHOOK)
                assert session["git_branch"] == "fix/flaky-webhook-test"
            assert daemon.poll() is None  # the importer kept the store all along
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0


def fenced(text: str) -> bool:
    """Empty, or the whole of it inside one ``history`` fence."""
    return text == "" or re.fullmatch(r"(`{3,})history\n.*\n\1", text, re.DOTALL) is not None
