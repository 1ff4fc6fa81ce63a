"""``doctor`` through the real program: a healthy state, and broken ones it must name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streaming_importer.store.edge import EdgeSink

from ..conftest import DEMO, run_cli, running_importer


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("doctor")
    shutil.copytree(DEMO, tmp / "conversations")
    out = run_cli("--once", env=env_for(tmp))
    assert out.returncode == 0, out.stderr[-2000:]
    return tmp


def env_for(tmp: Path, **more: str) -> dict[str, str]:
    return {
        "CONVERSATIONS_DIR": str(tmp / "conversations"),
        "STATE_DIR": str(tmp / "state"),
        "HOME": str(tmp / "home"),
        **more,
    }


def doctor(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    out = run_cli("doctor", "--json", env=env)
    return out.returncode, {f["check"]: f for f in json.loads(out.stdout)["findings"]}


def test_a_healthy_state_passes_every_check(healthy: Path) -> None:
    code, found = doctor(env_for(healthy))
    assert code == 0, found
    assert {f["status"] for f in found.values()} == {"ok"}
    for check in ("model", "lock", "state folder", "source claude", "disk", "store"):
        assert check in found
    assert "5 transcripts" in found["archive"]["detail"]
    assert " KiB, all read back" in found["archive"]["detail"]  # the demo's are small
    text = run_cli("doctor", env=env_for(healthy))
    assert text.returncode == 0 and "[  ok] store: 53 points" in text.stdout


def test_with_the_importer_running_it_asks_the_importer(healthy: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(healthy, copy)
    with running_importer(env_for(copy)) as env:
        code, found = doctor(env)
    assert code == 0, found
    assert found["importer"]["status"] == "ok" and "answering: ok" in found["importer"]["detail"]
    assert found["store"]["detail"].startswith("53 points")


def _open_to_others(tmp: Path) -> dict[str, str]:
    (tmp / "state").chmod(0o755)
    return env_for(tmp)


def _archive_damaged(tmp: Path) -> dict[str, str]:
    kept = next((tmp / "state" / "archive").rglob("*.gz"))
    data = bytearray(kept.read_bytes())
    data[len(data) // 2] ^= 0xFF
    kept.write_bytes(bytes(data))
    return env_for(tmp)


def _points_missing(tmp: Path) -> dict[str, str]:
    path = tmp / "state" / "checkpoint.json"
    state = json.loads(path.read_text())
    next(iter(state["files"].values()))["chunks"] += 10  # acknowledged, yet not stored
    path.write_text(json.dumps(state))
    return env_for(tmp)


def _source_gone(tmp: Path) -> dict[str, str]:
    return env_for(tmp, CONVERSATIONS_DIR=str(tmp / "nowhere"))


def _hook_python_gone(tmp: Path) -> dict[str, str]:
    settings = tmp / "home" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    command = "/opt/gone/bin/python -m streaming_importer recall --state-dir /x"
    hook = {"hooks": [{"type": "command", "command": command}]}
    settings.write_text(json.dumps({"hooks": {"UserPromptSubmit": [hook]}}))
    return env_for(tmp)


def _model_tampered(tmp: Path) -> dict[str, str]:
    models = tmp / "models"
    folder = models / "all-MiniLM-L6-v2-fp32"
    folder.mkdir(parents=True)
    (folder / "assembled.json").write_text('{"onnx_sha256": "x"}')
    (folder / "model.onnx").write_bytes(b"not the pinned model")
    return env_for(tmp, MODELS_DIR=str(models))


def _redacted_under_other_rules(tmp: Path) -> dict[str, str]:
    sink = EdgeSink(tmp / "state" / "qdrant", "conversations")
    sink.open(None, create=False)
    try:
        sink.record_redaction("detect-secrets 0.9; own rules 0")
    finally:
        sink.close()
    return env_for(tmp)


BROKEN: dict[str, tuple[Callable[[Path], dict[str, str]], str]] = {
    "state folder open to others": (_open_to_others, "state folder"),
    "archive damaged": (_archive_damaged, "archive"),
    "points missing from the store": (_points_missing, "store"),
    "source folder gone": (_source_gone, "source claude"),
    "hook runs a python that is gone": (_hook_python_gone, "hooks claude"),
    "model file not as pinned": (_model_tampered, "model"),
    "stored text under older rules": (_redacted_under_other_rules, "redaction"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_state_is_named_with_its_fix(healthy: Path, tmp_path: Path, case: str) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(healthy, copy)
    break_it, check = BROKEN[case]
    code, found = doctor(break_it(copy))
    assert code == 1
    assert found[check]["status"] == "fail", found
    assert found[check]["fix"]
    failed = {name for name, f in found.items() if f["status"] == "fail"}
    assert failed == {check}  # and nothing else is blamed


def test_a_lock_held_by_no_importer_that_answers(healthy: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(healthy, copy)
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(copy / "state" / "importer.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            code, found = doctor(env_for(copy))
            assert code == 1 and found["importer"]["status"] == "fail"
            assert "fuser" in str(found["importer"]["fix"])
        finally:
            holder.kill()
