"""The archive through the real program: the agent deletes its transcripts, history stays.

The demo transcripts are imported (``--once``), then a project's transcripts
are deleted as Claude Code's cleanup would. The session's messages, its page
view (in a real browser), its export and a ``reindex`` into a new store all
come from the archive; the reindexed points are the original ones exactly.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qdrant_edge as qe
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from streaming_importer.search.expand import messages_around
from streaming_importer.state.privacy import Tombstones
from streaming_importer.store.edge import EdgeSink
from streaming_importer.surfaces.http.client import query_running

from ..conftest import DEMO, run_cli, running_importer, settings_for
from .test_page import browser, login_url, open_sessions, sessions_shown, wait

__all__ = ["browser"]  # the fixture, used here

DELETED = "-home-dev-shop-api"
SESSION = "3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57"
PATH = f"{DELETED}/{SESSION}.jsonl"


def points_with_vectors(state: Path) -> dict[str, tuple[dict[str, Any], Any]]:
    """Every point's payload and vectors in a state folder's embedded store."""
    sink = EdgeSink(state / "qdrant", "conversations")
    sink.open(None, create=False)
    out: dict[str, tuple[dict[str, Any], Any]] = {}
    try:
        shard = sink._shard  # a look inside a seam we own, for tests only
        assert shard is not None
        offset = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=True)
            )
            out.update({str(r.id): (dict(r.payload or {}), _vectors(r.vector)) for r in records})
            if offset is None:
                return out
    finally:
        sink.close()


def _vectors(named: Any) -> dict[str, Any]:
    """A point's vectors by name (dense as they are, sparse as (index, value) pairs)."""
    out: dict[str, Any] = {}
    for name, vector in dict(named).items():
        if isinstance(vector, list):
            out[name] = [float(x) for x in vector]
        else:
            out[name] = sorted(zip(vector.indices, vector.values, strict=True))
    return out


@pytest.fixture(scope="module")
def deleted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo imported, then one project's transcripts deleted by "the agent"."""
    tmp = tmp_path_factory.mktemp("archive")
    shutil.copytree(DEMO, tmp / "conversations")
    env = {"CONVERSATIONS_DIR": str(tmp / "conversations"), "STATE_DIR": str(tmp / "state")}
    out = run_cli("--once", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    original = (tmp / "conversations" / PATH).read_bytes()
    before = points_with_vectors(tmp / "state")
    shutil.rmtree(tmp / "conversations" / DELETED)
    return {"env": env, "tmp": tmp, "before": before, "original": original}


def test_the_archive_holds_the_transcript_as_written(deleted: dict[str, Any]) -> None:
    kept = Path(deleted["env"]["STATE_DIR"]) / "archive" / f"{PATH}.gz"
    assert gzip.decompress(kept.read_bytes()) == deleted["original"]
    status = json.loads(run_cli("status", "--json", env=deleted["env"]).stdout)
    assert status["archive"]["transcripts"] == 5
    assert status["archive"]["deleted_by_agent"] == 4
    demo = sum(f.stat().st_size for f in DEMO.rglob("*.jsonl"))
    assert 0 < status["archive"]["bytes"] < demo / 2


def test_reindex_into_a_new_store_gives_the_same_points(deleted: dict[str, Any]) -> None:
    state = deleted["tmp"] / "reindexed"
    shutil.copytree(deleted["env"]["STATE_DIR"], state)
    env = {**deleted["env"], "STATE_DIR": str(state)}
    out = run_cli("reindex", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "4 transcripts from the archive" in out.stderr
    after = points_with_vectors(state)
    assert len(after) == len(deleted["before"]) > 40
    assert after == deleted["before"]  # ids, payloads and vectors
    assert not (state / "restored").exists()


def test_expand_and_export_read_the_archive(deleted: dict[str, Any]) -> None:
    settings = settings_for(
        Path(deleted["env"]["CONVERSATIONS_DIR"]), Path(deleted["env"]["STATE_DIR"])
    )
    shown = messages_around(settings, Tombstones(), PATH, 0, 0, 3)
    assert "fulfillment_status" in shown[0]["text"]
    out = run_cli("export", SESSION, "--output", "-", env=deleted["env"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert "archived: the agent deleted it" in out.stdout
    assert "## You" in out.stdout and "fulfillment_status" in out.stdout


@pytest.fixture(scope="module")
def running(deleted: dict[str, Any]) -> Iterator[dict[str, str]]:
    with running_importer(deleted["env"], caught_up=False) as env:
        yield env


def test_the_page_lists_and_opens_an_archived_session(
    running: dict[str, str], browser: WebDriver
) -> None:
    runtime = Path(running["STATE_DIR"]) / "importer.json"
    listed = query_running(runtime, "/sessions", {"project": "shop-api"})
    assert {s["session_id"] for s in listed["sessions"] if s["archived"]} >= {SESSION}
    exported = query_running(runtime, "/export", {"path": PATH, "format": "html"})
    assert exported["name"] == f"session-{SESSION}.html" and "<script" not in exported["text"]
    open_sessions(browser, login_url(running))
    sessions_shown(browser, 4)  # three archived, one still on disk
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sessions .archived")) == 3
    link = next(
        a
        for a in browser.find_elements(By.CSS_SELECTOR, "#sessions article a")
        if "fulfillment_status" in a.text
    )
    link.click()
    wait(browser, "#messages li.msg")
    assert "fulfillment_status" in browser.find_element(By.ID, "messages").text
    assert wait(browser, "#session-meta .archived").text == "archived"
    browser.find_element(By.ID, "export-md").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "export-info").text == f"saved session-{SESSION}.md"
    )


def test_a_forget_asked_of_the_running_importer_removes_the_archived_part(
    running: dict[str, str],
) -> None:
    state = Path(running["STATE_DIR"])
    blog = "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036"
    kept = state / "archive" / "-home-dev-blog" / f"{blog}.jsonl.gz"
    assert kept.exists()
    query_running(state / "importer.json", "/forget", {"session": blog}, method="POST")
    assert not kept.exists()
    assert (state / "archive" / f"{PATH}.gz").exists()


def demo_imported(tmp_path: Path, **more: str) -> dict[str, str]:
    """A copy of the demo imported by ``--once`` into ``tmp_path/s``; the environment."""
    shutil.copytree(DEMO, tmp_path / "conversations", dirs_exist_ok=True)
    env = {"CONVERSATIONS_DIR": str(tmp_path / "conversations"), "STATE_DIR": str(tmp_path / "s")}
    env.update(more)
    out = run_cli("--once", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return env


def test_delete_removed_files_deletes_the_archived_part_too(tmp_path: Path) -> None:
    env = demo_imported(tmp_path, DELETE_REMOVED_FILES="true")
    kept = tmp_path / "s" / "archive" / f"{PATH}.gz"
    assert kept.exists()
    (tmp_path / "conversations" / PATH).unlink()
    assert run_cli("--once", env=env).returncode == 0
    assert not kept.exists()


def test_forget_removes_the_archived_part(tmp_path: Path) -> None:
    env = demo_imported(tmp_path)
    kept = tmp_path / "s" / "archive" / f"{PATH}.gz"
    assert kept.exists()
    out = run_cli("forget", "--session", SESSION, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not kept.exists()
    assert len(list((tmp_path / "s" / "archive").rglob("*.gz"))) == 4


def test_a_no_index_session_is_not_kept(tmp_path: Path) -> None:
    folder = tmp_path / "conversations" / "-home-dev-private"
    folder.mkdir(parents=True)
    lines = [
        {
            "type": "user",
            "uuid": f"00000000-0000-4000-8000-00000000020{i}",
            "sessionId": "private-session",
            "cwd": "/home/dev/private",
            "timestamp": f"2026-11-0{i + 1}T10:00:00.000Z",
            "message": {"role": "user", "content": text},
        }
        for i, text in enumerate(["a first prompt", "keep this out #no-index", "and this"])
    ]
    (folder / "private-session.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    env = demo_imported(tmp_path)
    archive = tmp_path / "s" / "archive"
    assert not (archive / "-home-dev-private").exists() or not any(
        (archive / "-home-dev-private").iterdir()
    )
    assert len(list(archive.rglob("*.gz"))) == 5  # the demo's
    # Appended to later: still not kept.
    with (folder / "private-session.jsonl").open("a") as f:
        f.write(json.dumps({**lines[0], "uuid": "00000000-0000-4000-8000-000000000299"}) + "\n")
    assert run_cli("--once", env=env).returncode == 0
    assert len(list(archive.rglob("*.gz"))) == 5


def test_archive_off_keeps_nothing(tmp_path: Path) -> None:
    env = demo_imported(tmp_path, ARCHIVE="off")
    assert not (tmp_path / "s" / "archive").exists()
    status = json.loads(run_cli("status", "--json", env=env).stdout)
    assert status["archive"]["enabled"] is False
