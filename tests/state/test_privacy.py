"""Privacy: excluded projects, the #no-index marker, and forget that sticks."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.state.privacy import Privacy, Tombstones

from ..conftest import import_once, run_cli, start_cli, stored_points
from ..pipeline.test_live import BLOG, MIGRATION, record, wait_for

WEBHOOK_SESSION = "9d2c47e1-0b6a-4f3e-8c5d-71a9e3b2f608"
BLOG_SESSION = "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"
MIGRATION_SESSION = "3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57"


def sessions(state: Path) -> set[str]:
    return {p["session_id"] for p in stored_points(state).values()}


async def test_excluded_projects_are_never_embedded(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    importer, sink = await import_once(
        demo_copy, tmp_path / "state", embedder, EXCLUDE_PROJECTS="/home/dev/shop-*"
    )
    sink.close()
    # Summary lines (before any working directory) included: judged by the folder.
    folders = {p["path"].split("/")[0] for p in stored_points(tmp_path / "state").values()}
    assert folders == {"-home-dev-blog"}
    assert importer.stats.excluded > 30  # messages, not chunks
    # By last folder name too.
    _, sink = await import_once(demo_copy, tmp_path / "state2", embedder, EXCLUDE_PROJECTS="blog")
    sink.close()
    assert "/home/dev/blog" not in {
        p["project"] for p in stored_points(tmp_path / "state2").values()
    }


def test_privacy_rules() -> None:
    from streaming_importer.sources.messages import Message

    def message(
        project: str | None, session: str = "s", kind: str = "prompt", text: str = ""
    ) -> Message:
        return Message(
            kind,
            "user",
            text,
            "k",
            0,
            session,
            None,
            None,
            project,
            None,
            None,
            None,
            None,
            False,
            False,
        )

    rules = Privacy(("*/clients/*",), Tombstones({"gone"}, {"old-app"}))
    assert rules.allows(message("/home/me/app"))
    assert not rules.allows(message("/home/me/clients/acme"))
    assert not rules.allows(message("/home/me/app", session="gone"))
    assert not rules.allows(message("/srv/old-app"))
    # No project known yet (a summary line): judged by the project folder's name.
    assert not rules.allows(message(None), "-home-me-clients-acme/s.jsonl")
    assert not rules.allows(message(None), "-srv-old-app/s.jsonl")
    assert rules.allows(message(None), "-home-me-app/s.jsonl")
    assert rules.marks_no_index(message(None, text="debug this #no-index please"))
    assert not rules.marks_no_index(message(None, kind="answer", text="#no-index"))


async def test_a_session_marked_no_index_is_never_embedded(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    # The marker arrives late in the session: what came before it is deleted too.
    path = demo_copy / BLOG
    with path.open("ab") as f:
        f.write(record("dddddddd-1111-4111-8111-000000000001", "keep this out #no-index"))
        f.write(record("dddddddd-1111-4111-8111-000000000002", "and this after it"))
    state = tmp_path / "state"
    _, sink = await import_once(demo_copy, state, embedder)
    sink.close()
    assert BLOG_SESSION not in sessions(state)
    assert len(sessions(state)) == 3
    saved = json.loads((state / "checkpoint.json").read_text())
    assert saved["forgotten"]["sessions"] == [BLOG_SESSION]
    # Appending more later embeds nothing of it, also after a restart.
    with path.open("ab") as f:
        f.write(record("dddddddd-1111-4111-8111-000000000003", "still the same session"))
    _, sink = await import_once(demo_copy, state, embedder)
    sink.close()
    assert BLOG_SESSION not in sessions(state)


def test_forget_survives_restart_and_a_rewritten_transcript(
    demo_copy: Path, tmp_path: Path
) -> None:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path / "state")}
    assert run_cli("--once", env=env).returncode == 0
    assert WEBHOOK_SESSION in sessions(tmp_path / "state")
    out = run_cli("forget", "--session", WEBHOOK_SESSION, env=env)
    assert out.returncode == 0, out.stderr
    assert f"forgot session {WEBHOOK_SESSION}" in out.stdout
    assert WEBHOOK_SESSION not in sessions(tmp_path / "state")
    # The transcript is rewritten (new inode, same content plus a line) and imported again.
    path = next(demo_copy.rglob(f"{WEBHOOK_SESSION}.jsonl"))
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content + content.splitlines(keepends=True)[-1])
    again = run_cli("--once", env=env)
    assert again.returncode == 0, again.stderr
    assert WEBHOOK_SESSION not in sessions(tmp_path / "state")
    status = json.loads(run_cli("status", "--json", env=env).stdout)
    assert status["forgotten_sessions"] == 1
    # A project, by name.
    assert run_cli("forget", "--project", "blog", env=env).returncode == 0
    folders = {p["path"].split("/")[0] for p in stored_points(tmp_path / "state").values()}
    assert folders == {"-home-dev-shop-api"}
    assert run_cli("forget", env=env).returncode == 2  # one of --session, --project


def test_forget_while_the_importer_runs(demo_copy: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state), "CONTROL_PORT": "0"}
    with start_cli(env=env) as daemon:
        try:
            wait_for(lambda: (state / "importer.json").exists(), 60, "the control port")
            wait_for(
                lambda: (
                    json.loads(run_cli("status", "--json", env=env).stdout).get("points", 0) >= 50
                ),
                60,
                "the demo import",
            )
            out = run_cli("forget", "--session", BLOG_SESSION, env=env)
            assert out.returncode == 0, out.stderr
            # Appended while it runs: refused at once.
            with (demo_copy / BLOG).open("ab") as f:
                f.write(record("dddddddd-1111-4111-8111-000000000009", "after forgetting"))
            other = record("dddddddd-1111-4111-8111-00000000000a", "another session goes on")
            with (demo_copy / MIGRATION).open("ab") as f:
                f.write(other.replace(BLOG_SESSION.encode(), MIGRATION_SESSION.encode()))
            time.sleep(2.0)
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
    stored = stored_points(state).values()
    assert BLOG_SESSION not in {p["session_id"] for p in stored}
    assert "dddddddd-1111-4111-8111-00000000000a" in {p["message_uuid"] for p in stored}


@pytest.mark.parametrize("variable", ["EXCLUDE_PROJECTS"])
def test_exclusion_setting_is_logged(variable: str, demo_copy: Path, tmp_path: Path) -> None:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path), variable: "a*, b"}
    result = run_cli("--once", env=env)
    assert result.returncode == 0
    assert "EXCLUDE_PROJECTS=('a*', 'b')" in result.stderr
