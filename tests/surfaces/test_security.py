"""Nobody else gets in: the control surface, forget, and privacy on every path.

The real program as a subprocess, its socket and port asked as a stranger
would; another user is a real one (uid 65534) in a child process.
"""

from __future__ import annotations

import http.client
import json
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_importer.surfaces.http.client import query_running

from ..conftest import clean_env, run_cli, start_cli, stored_points
from ..pipeline.test_live import wait_for

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
PROJECT = "-home-dev-storm"


def http_request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One raw request to the TCP port, as a browser or another user's script sends it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def running(demo_copy: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """The daemon on the demo, with a TCP port (and so a token); its state folder."""
    # Under a folder others may traverse, so only the importer's own modes protect it.
    parent = Path(tempfile.mkdtemp(prefix="security-", dir="/tmp"))
    parent.chmod(0o755)
    state = parent / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state), "CONTROL_PORT": "0"}
    with start_cli(env=env) as proc:
        try:
            runtime = state / "importer.json"
            wait_for(lambda: runtime.exists(), 60, "the control socket")
            wait_for(
                lambda: query_running(runtime, "/status", {})["pending_bytes"] == 0,
                120,
                "the demo import",
            )
            yield state, proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            shutil.rmtree(parent, ignore_errors=True)


STRANGER = """
import json, socket, sys, urllib.request
state = sys.argv[1]
out = {}
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect(state + "/control.sock")
    out["socket"] = "connected"
except OSError as e:
    out["socket"] = type(e).__name__
try:
    open(state + "/control.token").read()
    out["token"] = "read"
except OSError as e:
    out["token"] = type(e).__name__
print(json.dumps(out))
"""


def test_another_user_cannot_reach_the_socket_or_read_the_token(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, proc = running
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "control.sock").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "control.token").stat().st_mode) == 0o600
    token = (state / "control.token").read_text().strip()
    assert len(token) >= 32 and token not in (state / "importer.json").read_text()

    def as_nobody() -> dict[str, str]:
        # The system's Python: this one lives in root's home, which nobody may enter.
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", STRANGER, str(state)],
            user=NOBODY,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PYTHONDONTWRITEBYTECODE": "1"},
        )
        assert result.returncode == 0, result.stderr
        answer: dict[str, str] = json.loads(result.stdout)
        return answer

    assert as_nobody() == {"socket": "PermissionError", "token": "PermissionError"}
    # A person who left the folder open (a warning, not a chmod) is still covered:
    # the socket and the token are the owner's alone.
    state.chmod(0o755)
    try:
        assert as_nobody() == {"socket": "PermissionError", "token": "PermissionError"}
    finally:
        state.chmod(0o700)
    assert proc.poll() is None


def test_the_tcp_port_wants_the_token_a_loopback_host_and_post_to_forget(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, proc = running
    runtime = json.loads((state / "importer.json").read_text())
    port = int(runtime["port"])
    token = (state / "control.token").read_text().strip()
    before = query_running(state / "importer.json", "/status", {})["points"]
    assert before > 40
    good = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"}
    forget = "/forget?project=/home/dev/shop-api"

    # No token, a wrong one, one of the right length: refused, no conversation text.
    for headers in (
        {"Host": "localhost"},
        {"Host": "localhost", "Authorization": "Bearer guess"},
        {"Host": "localhost", "Authorization": "Bearer " + "x" * len(token)},
    ):
        for method, path in (
            ("GET", "/search?q=webhook"),
            ("POST", forget),
            ("POST", "/recall?event=prompt&prompt=why+did+the+webhook+test+fail+in+CI"),
            ("GET", "/export?path=-home-dev-shop-api/9d2c47e1-0b6a-4f3e-8c5d-71a9e3b2f608.jsonl"),
        ):
            status, _, body = http_request(port, method, path, headers)
            assert status == 401, body
            assert b"webhook" not in body
    # A page that rebinds its name to 127.0.0.1 has its own name in Host.
    status, _, body = http_request(
        port, "GET", "/search?q=webhook", {**good, "Host": f"evil.example:{port}"}
    )
    assert status == 403 and b"not a loopback name" in body
    # A plain GET (an <img src=...>) never deletes.
    status, _, _ = http_request(port, "GET", forget, good)
    assert status == 405
    # No CORS: a preflight is refused, and no answer allows another origin.
    status, headers, _ = http_request(
        port, "OPTIONS", forget, {**good, "Origin": "http://evil.example"}
    )
    assert status == 405
    status, headers, body = http_request(
        port, "GET", "/search?q=webhook", {**good, "Origin": "http://evil.example"}
    )
    assert status == 200 and b"webhook" in body.lower()
    assert not any(h.lower().startswith("access-control-") for h in headers)
    # Nothing was deleted, nothing will be refused.
    assert query_running(state / "importer.json", "/status", {})["points"] == before
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    saved = json.loads((state / "checkpoint.json").read_text())
    assert saved["forgotten"] == {"sessions": [], "projects": []}
    # The token and the socket go with the importer.
    assert not (state / "control.token").exists() and not (state / "control.sock").exists()


def record(session: str, n: int, text: str) -> bytes:
    return (
        json.dumps(
            {
                "type": "user",
                "uuid": f"{session[:8]}-0000-4000-8000-{n:012d}",
                "sessionId": session,
                "cwd": "/home/dev/storm",
                "timestamp": "2026-11-01T10:00:00.000Z",
                "message": {"role": "user", "content": text},
            }
        ).encode()
        + b"\n"
    )


@pytest.mark.scenario
def test_forget_under_an_append_storm_leaves_no_point_of_the_session(
    demo_copy: Path, tmp_path: Path
) -> None:
    rng = random.Random(20261130)
    state = tmp_path / "state"
    runtime = state / "importer.json"
    folder = demo_copy / PROJECT
    folder.mkdir()
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
    forgotten: list[str] = []
    kept = "99999999-0000-4000-8000-000000000000"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
    with start_cli(env=env) as proc:
        try:
            wait_for(lambda: runtime.exists(), 60, "the control socket")
            for round_ in range(20):
                session = f"{round_ + 1:08d}-1111-4111-8111-000000000000"
                forgotten.append(session)
                stop = threading.Event()

                def storm(
                    session: str = session, stop: threading.Event = stop, base: int = round_
                ) -> None:
                    n = 0
                    with (
                        (folder / f"{session}.jsonl").open("ab") as mine,
                        (folder / f"{kept}.jsonl").open("ab") as other,
                    ):
                        while not stop.is_set():
                            n += 1
                            # Up to a few chunks a record, at about the pace the
                            # importer embeds (a forget waits behind what is queued).
                            text = " ".join(rng.choices(words, k=rng.randrange(20, 200)))
                            mine.write(record(session, n, f"{session} {text}"))
                            mine.flush()
                            other.write(record(kept, base * 100_000 + n, text))
                            other.flush()
                            time.sleep(rng.uniform(0.01, 0.05))

                writer = threading.Thread(target=storm)
                writer.start()
                try:
                    time.sleep(rng.uniform(0.05, 0.6))
                    answer = query_running(runtime, "/forget", {"session": session}, method="POST")
                    assert answer == {"forgotten": {"session": session, "project": None}}
                    time.sleep(rng.uniform(0, 0.3))
                finally:
                    stop.set()
                    writer.join()
            wait_for(
                lambda: query_running(runtime, "/status", {})["pending_bytes"] == 0,
                300,
                "the storm import",
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    sessions = {p["session_id"] for p in stored_points(state).values()}
    assert kept in sessions
    assert sessions.isdisjoint(forgotten)
    saved = json.loads((state / "checkpoint.json").read_text())
    assert set(forgotten) <= set(saved["forgotten"]["sessions"])


def test_forget_of_a_project_named_star_is_literal(demo_copy: Path, tmp_path: Path) -> None:
    state = tmp_path / "fresh" / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
    assert run_cli("--once", env=env).returncode == 0
    before = stored_points(state)
    result = run_cli("forget", "--project", "*", env=env)
    assert result.returncode == 0, result.stderr
    assert stored_points(state) == before
    # Nothing is refused later either: a new line of any project is imported.
    path = next(demo_copy.rglob("*.jsonl"))
    with path.open("ab") as f:
        f.write(record("7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036", 1, "after the star forget"))
    assert run_cli("--once", env=env).returncode == 0
    assert any("after the star forget" in p["text"] for p in stored_points(state).values())


@pytest.mark.parametrize("named", ["shop-api/", "/home/dev/shop-api/"])
def test_forget_takes_a_project_as_search_does(demo_copy: Path, tmp_path: Path, named: str) -> None:
    # A trailing "/" names the same project for search and for forget.
    state = tmp_path / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
    assert run_cli("--once", env=env).returncode == 0
    shown = run_cli("search", "rate limit", "--project", named, "--json", env=env)
    assert {h["project"] for h in json.loads(shown.stdout)} == {"/home/dev/shop-api"}
    assert run_cli("forget", "--project", named, env=env).returncode == 0
    left = {p.get("project") for p in stored_points(state).values()}
    assert "/home/dev/shop-api" not in left and left
    # And it stays forgotten: a new line of the project is not imported.
    path = next(demo_copy.rglob("e4a1f9c3-7d28-4b56-a0e2-95c3d8b7f14a.jsonl"))
    with path.open("ab") as f:
        f.write(record("e4a1f9c3-7d28-4b56-a0e2-95c3d8b7f14a", 1, "after the forget"))
    assert run_cli("--once", env=env).returncode == 0
    assert not any("after the forget" in p["text"] for p in stored_points(state).values())


def test_every_command_creates_the_state_folder_private(demo_copy: Path, tmp_path: Path) -> None:
    for command in (("forget", "--session", "x"), ("reindex",), ("status",), ("search", "x")):
        state = tmp_path / command[0] / "state"
        env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
        run_cli(*command, env=env)
        # Made by the command (forget and reindex always make it): private.
        assert command[0] not in ("forget", "reindex") or state.exists()
        assert not state.exists() or stat.S_IMODE(state.stat().st_mode) == 0o700, command


def test_qdrant_credentials_are_not_logged(demo_copy: Path, tmp_path: Path) -> None:
    env = {
        "CONVERSATIONS_DIR": str(demo_copy),
        "STATE_DIR": str(tmp_path / "state"),
        "QDRANT_URL": "http://admin:hunter2@127.0.0.1:9",
        "QDRANT_API_KEY": "sekrit-key",
    }
    result = run_cli("--once", env=env, timeout=120)
    assert result.returncode == 3  # nothing listens there
    assert "hunter2" not in result.stderr and "sekrit-key" not in result.stderr
    assert "http://***@127.0.0.1:9" in result.stderr


def test_a_relative_state_dir_is_found_from_anywhere(demo_copy: Path, tmp_path: Path) -> None:
    # As in the quick start: STATE_DIR relative to where the importer was started.
    home = tmp_path / "elsewhere"
    home.mkdir()
    env = clean_env(CONVERSATIONS_DIR=str(demo_copy), STATE_DIR="state", CONTROL_PORT="0")
    with subprocess.Popen(
        [sys.executable, "-m", "streaming_importer"],
        env=env,
        cwd=home,
        stderr=subprocess.DEVNULL,
    ) as proc:
        try:
            runtime = home / "state" / "importer.json"
            wait_for(lambda: runtime.exists(), 60, "the control socket")
            # Asked from another working directory, by the absolute path.
            assert Path.cwd() != home
            assert query_running(runtime, "/health", {})["status"] in ("ok", "degraded")
            # Without the socket, the port and the token beside the file do it.
            (home / "state" / "control.sock").unlink()
            answer = json.loads(runtime.read_text())
            answer["socket"] = False
            runtime.write_text(json.dumps(answer))
            assert query_running(runtime, "/health", {})["status"] in ("ok", "degraded")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0


CROWD = """
import select, socket, sys, time
port, want, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def slow():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /status HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n")  # and never the rest
    return s
held = [slow() for _ in range(want)]
print("holding", len(held), flush=True)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    answered, _, _ = select.select(held, [], [], 0.2)
    for s in answered:  # refused or timed out: take the place again
        held.remove(s)
        s.close()
        held.append(slow())
"""


def test_another_users_slow_connections_leave_the_owners_requests_answering(
    running: tuple[Path, subprocess.Popen[str]],
) -> None:
    state, proc = running
    port = json.loads((state / "importer.json").read_text())["port"]
    env = {"STATE_DIR": str(state)}
    with subprocess.Popen(
        [SYSTEM_PYTHON, "-c", CROWD, str(port), "64", "60"],
        user=NOBODY,
        cwd="/tmp",
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    ) as crowd:
        try:
            assert crowd.stdout is not None and crowd.stdout.readline().startswith("holding 64")
            # The owner's CLI asks over the socket, whose slots the crowd cannot take.
            for _ in range(3):
                found = run_cli("search", "rate limit", "--json", "--limit", "1", env=env)
                assert found.returncode == 0, found.stderr[-2000:]
                assert json.loads(found.stdout)[0]["project"] == "/home/dev/shop-api"
            status = run_cli("status", "--json", env=env)
            assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
            assert crowd.poll() is None  # the crowd was still there throughout
        finally:
            crowd.kill()
    assert proc.poll() is None
