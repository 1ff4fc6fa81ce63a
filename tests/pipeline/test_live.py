"""Live tailing: changes to the folder converge to what one clean import gives."""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.store.edge import EdgeSink

from ..conftest import import_once, run_cli, settings_for, start_cli, stored_points

BLOG = "-home-dev-blog/7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036.jsonl"
MIGRATION = "-home-dev-shop-api/3b8f6a2e-5c41-4d7a-9e0b-2f6c8d1a4e57.jsonl"


async def run_once(
    conversations: Path, state: Path, embedder: FastEmbedEmbedder, **env: str
) -> Importer:
    importer, sink = await import_once(conversations, state, embedder, **env)
    sink.close()
    return importer


async def clean_points(
    conversations: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> dict[str, Any]:
    state = tmp_path / f"clean-{random.randrange(10**9)}"
    await run_once(conversations, state, embedder)
    return stored_points(state)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# -- identity changes, in process ------------------------------------------


async def test_truncated_file_is_imported_again_and_stale_points_go(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    await run_once(demo_copy, state, embedder)
    path = demo_copy / MIGRATION
    kept = lines_of(path)[:4]
    path.write_bytes(b"".join(kept))  # same inode, fewer bytes
    second = await run_once(demo_copy, state, embedder)
    assert second.stats.files_imported == 1
    assert stored_points(state) == await clean_points(demo_copy, tmp_path, embedder)


async def test_replaced_file_at_the_same_path(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    await run_once(demo_copy, state, embedder)
    path = demo_copy / MIGRATION
    replacement = tmp_path / "replacement.jsonl"
    # Another session's content, longer than the old file: only the identity
    # hashes (a new inode here) tell that it is not an append.
    replacement.write_bytes((demo_copy / BLOG).read_bytes() * 2)
    os.replace(replacement, path)
    await run_once(demo_copy, state, embedder)
    points = stored_points(state)
    assert points == await clean_points(demo_copy, tmp_path, embedder)
    assert not any("fulfillment_status" in p["text"] for p in points.values())  # old content gone


async def test_rewritten_in_place_with_the_same_inode(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    await run_once(demo_copy, state, embedder)
    path = demo_copy / MIGRATION
    other = (demo_copy / BLOG).read_bytes()
    with path.open("r+b") as f:  # overwrite, then grow: size alone looks like an append
        f.write(other + other)
    await run_once(demo_copy, state, embedder)
    assert stored_points(state) == await clean_points(demo_copy, tmp_path, embedder)


async def test_moved_file_follows_its_state_and_is_not_embedded_again(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    await run_once(demo_copy, state, embedder)
    (demo_copy / "moved" / "deeper").mkdir(parents=True)
    os.rename(demo_copy / MIGRATION, demo_copy / "moved" / "deeper" / "m.jsonl")
    second = await run_once(demo_copy, state, embedder)
    assert second.stats.tokens_embedded == 0
    saved = ckpt.load(state / "checkpoint.json")
    assert "moved/deeper/m.jsonl" in saved.files and MIGRATION not in saved.files
    assert stored_points(state) == await clean_points(demo_copy, tmp_path, embedder)


async def test_deleted_file_drops_its_state_and_keeps_or_deletes_its_points(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    await run_once(demo_copy, state, embedder)
    before = stored_points(state)
    (demo_copy / BLOG).unlink()
    await run_once(demo_copy, state, embedder)
    assert BLOG not in ckpt.load(state / "checkpoint.json").files
    assert stored_points(state) == before  # points stay by default
    await run_once(demo_copy, state, embedder, DELETE_REMOVED_FILES="true")
    assert stored_points(state) == before  # nothing was deleted since the last run
    shutil.copy(demo_copy / MIGRATION, demo_copy / "copy.jsonl")
    await run_once(demo_copy, state, embedder, DELETE_REMOVED_FILES="true")
    (demo_copy / "copy.jsonl").unlink()
    await run_once(demo_copy, state, embedder, DELETE_REMOVED_FILES="true")
    assert not any(p["path"] == "copy.jsonl" for p in stored_points(state).values())


async def test_partial_last_line_waits_across_a_restart(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    state = tmp_path / "state"
    path = demo_copy / BLOG
    full = lines_of(path)
    path.write_bytes(b"".join(full[:-1]) + full[-1][:37])  # last record half written
    await run_once(demo_copy, state, embedder)
    saved = ckpt.load(state / "checkpoint.json").files[BLOG]
    assert saved.offset == sum(len(x) for x in full[:-1])
    assert ckpt.load(state / "checkpoint.json").totals.quarantined == 0
    with path.open("ab") as f:
        f.write(full[-1][37:])
    await run_once(demo_copy, state, embedder)
    assert ckpt.load(state / "checkpoint.json").files[BLOG].offset == path.stat().st_size
    assert stored_points(state) == await clean_points(demo_copy, tmp_path, embedder)


class RecordingSink(EdgeSink):
    """The edge sink, recording which file each upsert served (a seam we own)."""

    order: list[str]

    def upsert(self, points: Any) -> None:
        self.order.extend(p.payload["path"] for p in points)
        super().upsert(points)


async def test_a_huge_file_does_not_starve_the_others(
    corpus: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    conversations = tmp_path / "conversations"
    conversations.mkdir()
    big = "a-big.jsonl"  # sorts first
    shutil.copy(
        corpus / "sample-project" / "fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl",
        conversations / big,
    )
    shutil.copy(corpus / "-home-dev-spotter" / "short.jsonl", conversations / "z-small.jsonl")
    settings = settings_for(
        conversations, tmp_path / "state", FAIR_SLICE_BYTES="65536", UPSERT_BATCH_POINTS="4"
    )
    sink = RecordingSink(settings.store_dir, "conversations")
    sink.order = []
    sink.open(embedder.identity)
    try:
        await Importer(settings, embedder, sink, ckpt.Checkpoint()).run(once=True)
    finally:
        sink.close()
    small_done = max(i for i, p in enumerate(sink.order) if p == "z-small.jsonl")
    big_done = max(i for i, p in enumerate(sink.order) if p == big)
    assert small_done < big_done / 2  # the small file got its turn early


# -- an unreadable file, as an unprivileged user ---------------------------


def drop_file_capabilities() -> None:
    """In the child, before exec: root loses its power to read any file.

    Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so
    file permissions apply to the importer even when the tests run as root.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file_is_retried_and_imported_once_readable(
    demo_copy: Path, tmp_path: Path
) -> None:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(tmp_path / "state")}
    locked = demo_copy / BLOG
    locked.chmod(0o000)
    first = run_cli("--once", env=env, preexec_fn=drop_file_capabilities)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stderr.count(f"cannot read {BLOG}") == 1  # said once, not per scan
    assert "4 files imported, 0 unchanged, 1 failed" in first.stderr
    assert BLOG not in ckpt.load(tmp_path / "state" / "checkpoint.json").files
    locked.chmod(0o644)
    second = run_cli("--once", env=env, preexec_fn=drop_file_capabilities)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "1 files imported" in second.stderr
    saved = ckpt.load(tmp_path / "state" / "checkpoint.json")
    assert saved.files[BLOG].offset == locked.stat().st_size


# -- the daemon, as a real process ------------------------------------------


@pytest.fixture
def daemon_env(demo_copy: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "CONVERSATIONS_DIR": str(demo_copy),
        "STATE_DIR": str(tmp_path / "state"),
        "CONTROL_PORT": "0",
        "RESCAN_INTERVAL_S": "2",
        "SHUTDOWN_TIMEOUT_S": "10",
    }


@pytest.fixture
def daemon(daemon_env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    with start_cli(env=daemon_env) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def record(uuid: str, text: str) -> bytes:
    return (
        json.dumps(
            {
                "type": "user",
                "uuid": uuid,
                "sessionId": "7f0b3d95-2e6c-4a81-b4d7-c9e18a5f2036",
                "cwd": "/home/dev/blog",
                "timestamp": "2026-08-04T10:00:00.000Z",
                "message": {"role": "user", "content": text},
            }
        ).encode()
        + b"\n"
    )


def test_daemon_tails_appends_serves_search_and_stops_on_sigterm(
    daemon: subprocess.Popen[str], daemon_env: dict[str, str]
) -> None:
    state = Path(daemon_env["STATE_DIR"])
    wait_for(lambda: (state / "importer.json").exists(), 60, "the control port")
    status = wait_for(
        lambda: (
            (r := json.loads(run_cli("status", "--json", env=daemon_env).stdout))["pending_bytes"]
            == 0
            and r["points"]
            and r
        ),
        60,
        "the initial import",
    )
    assert status["running"] is True
    path = Path(daemon_env["CONVERSATIONS_DIR"]) / BLOG
    line = record(
        "cccccccc-1111-4111-8111-000000000001", "we chose the quokka theme for the photo gallery"
    )
    with path.open("ab") as f:  # a complete line, written in two pieces
        f.write(line[:30])
        f.flush()
        time.sleep(0.5)
        f.write(line[30:])

    def found() -> bool:
        # Through the running importer's port, filters and all.
        out = run_cli(
            "search",
            "quokka theme for the photo gallery",
            *("--limit", "3", "--kind", "prompt", "--since", "2026-08-01", "--json"),
            env=daemon_env,
        )
        assert out.returncode == 0, out.stderr
        return any(
            h.get("message_uuid") == "cccccccc-1111-4111-8111-000000000001"
            for h in json.loads(out.stdout)
        )

    wait_for(found, 30, "the appended line in search")
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    assert time.monotonic() - started < float(daemon_env["SHUTDOWN_TIMEOUT_S"])
    assert not (state / "importer.json").exists()
    saved = ckpt.load(state / "checkpoint.json")
    assert saved.files[BLOG].offset == path.stat().st_size


def test_sigterm_during_start_up_is_a_clean_exit(demo_copy: Path, tmp_path: Path) -> None:
    env = {"CONVERSATIONS_DIR": str(demo_copy), "CONTROL_PORT": "0"}
    # From just after the interpreter starts to the middle of loading the model.
    for i, delay in enumerate((0.15, 0.3, 0.6, 1.2)):
        with start_cli(env={**env, "STATE_DIR": str(tmp_path / f"s{i}")}) as proc:
            time.sleep(delay)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, f"SIGTERM after {delay} s"


def test_second_sigint_exits_at_once(corpus: Path, tmp_path: Path) -> None:
    env = {
        "CONVERSATIONS_DIR": str(corpus),
        "STATE_DIR": str(tmp_path / "state"),
        "CONTROL_PORT": "0",
        "SHUTDOWN_TIMEOUT_S": "60",
    }
    with start_cli(env=env, capture=True) as proc:
        wait_for(lambda: (tmp_path / "state" / "importer.json").exists(), 60, "start-up")
        # Importing the corpus: the small folder goes first (about a second), then
        # the large sessions keep a model batch in flight at every moment.
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = proc.wait(timeout=10)
        _, err = proc.communicate()
    assert code == 128 + signal.SIGINT, err[-2000:]
    assert time.monotonic() - started < 5
    assert "second SIGINT: exiting now" in err


async def test_torn_append_loses_only_the_damaged_fragment(
    demo_copy: Path, tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    path = demo_copy / MIGRATION
    full = lines_of(path)
    # The writer died in the middle of record 3; the next records were appended
    # after the fragment.
    path.write_bytes(b"".join(full[:3]) + full[3][:40] + b"".join(full[4:]))
    state = tmp_path / "state"
    importer = await run_once(demo_copy, state, embedder)
    assert importer.stats.quarantined == 1
    (bad,) = [json.loads(x) for x in (state / "quarantine.jsonl").read_bytes().splitlines()]
    assert (bad["path"], bad["offset"], bad["reason"]) == (
        MIGRATION,
        sum(map(len, full[:3])),
        "torn line",
    )
    points = stored_points(state)
    expected = {json.loads(x)["uuid"] for x in full[4:] if b'"uuid"' in x}
    stored = {p["message_uuid"] for p in points.values() if p["path"] == MIGRATION}
    lost = json.loads(full[3])["uuid"]
    assert lost not in stored
    assert expected - stored <= {json.loads(x)["uuid"] for x in full[4:] if b'"isMeta": true' in x}
    assert {json.loads(full[4])["uuid"]} <= stored  # the record glued onto the fragment
