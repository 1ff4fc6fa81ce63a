from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streaming_importer.errors import CheckpointError
from streaming_importer.sources.files import FileIdentity
from streaming_importer.state import checkpoint as ckpt


def sample(n: int) -> ckpt.Checkpoint:
    state = ckpt.Checkpoint()
    for i in range(n):
        state.files[f"proj/{i:05d}.jsonl"] = ckpt.FileState(
            offset=i * 100,
            identity=FileIdentity(device=1, inode=i),
            context={"rel_path": f"proj/{i:05d}.jsonl"},
        )
    state.totals.lines = n
    return state


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    assert ckpt.load(path).files == {}  # missing file: nothing imported yet
    state = sample(3)
    state.last_import = "2026-11-22T10:00:00+00:00"
    ckpt.save(path, state)
    again = ckpt.load(path)
    assert again.files == state.files
    assert again.totals == state.totals
    assert again.last_import == state.last_import


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"version": 99, "files": {}, "totals": {}}', b'{"version": 1}'],
)
def test_a_damaged_checkpoint_is_an_error_not_an_empty_state(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="checkpoint"):
        ckpt.load(path)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint.json"
    ckpt.save(path, sample(2))
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CheckpointError, match="No space left"):
        ckpt.save(path, sample(50))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json"]


WRITER = """
import sys
from streaming_importer.state import checkpoint as ckpt
from tests.state.test_checkpoint import sample
path = sys.argv[1]
big, small = sample(4000), sample(10)
ckpt.save(__import__("pathlib").Path(path), small)
print("ready", flush=True)
while True:
    ckpt.save(__import__("pathlib").Path(path), big)
    ckpt.save(__import__("pathlib").Path(path), small)
"""


def test_sigkill_mid_write_leaves_old_or_new_state(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    root = Path(__file__).resolve().parent.parent.parent
    for attempt in range(12):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], cwd=root, stdout=subprocess.PIPE
        ) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"ready"
            time.sleep(0.05 + 0.037 * attempt)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        state = ckpt.load(path)  # never raises: the file is whole
        assert len(state.files) in (4000, 10)
    # Killed temporaries are cleared at the next start.
    ckpt.remove_stale_temporaries(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "checkpoint.json.prev"]


@pytest.mark.parametrize("damage", [b"", b'{"version": 1, "files": {"a": {"off', b"\x00" * 64])
def test_a_damaged_checkpoint_falls_back_to_the_previous_copy_loudly(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "checkpoint.json"
    older, newer = sample(3), sample(5)
    older.last_import = "2026-11-01T10:00:00+00:00"
    ckpt.save(path, older)
    ckpt.save(path, newer)
    assert len(ckpt.load(path).files) == 5
    path.write_bytes(damage)  # truncated or overwritten: a disk or a person did it
    recovered = ckpt.load(path)
    assert len(recovered.files) == 3
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "using the previous copy" in record.getMessage()
    assert "2026-11-01T10:00:00" in record.getMessage()
    # The next save writes a good file again, and keeps that one as previous.
    ckpt.save(path, recovered)
    assert len(ckpt.load(path).files) == 3


def test_both_copies_damaged_is_an_error_never_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    ckpt.save(path, sample(1))
    ckpt.save(path, sample(2))
    path.write_bytes(b"{")
    (tmp_path / "checkpoint.json.prev").write_bytes(b"[]")
    with pytest.raises(CheckpointError, match="previous copy cannot be used"):
        ckpt.load(path)


def test_removing_the_checkpoint_asks_for_a_fresh_import(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "checkpoint.json"
    ckpt.save(path, sample(1))
    ckpt.save(path, sample(2))
    path.unlink()  # saves never leave the name missing: a person did this
    assert ckpt.load(path).files == {}
    assert "importing everything again" in caplog.text
