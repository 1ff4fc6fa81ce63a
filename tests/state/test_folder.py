"""The state folder: owner-only whatever the folder's or the shell's defaults; refused if shared.

Through the real program: it must make what it writes private itself (umask
077), not rely on the mode of the folder it is given.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from streaming_importer.errors import ExitCode

from ..conftest import run_cli


def modes_open_to_others(root: Path) -> dict[str, str]:
    """Everything below ``root`` that another user could read or enter, with its mode."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                found[str(path.relative_to(root))] = f"{mode:o}"
    return found


def test_what_the_program_writes_is_owner_only_in_a_folder_others_can_read(
    demo_copy: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # readable by others: allowed, with a warning
    # An older version's lock file, readable by others, is made private too.
    (state / "importer.lock").touch(mode=0o644)
    (state / "importer.lock").chmod(0o644)
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state), "CONTROL_PORT": "0"}
    result = run_cli("--once", env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "open to other users" in result.stderr
    assert (state / "checkpoint.json").exists() and (state / "qdrant").is_dir()
    assert modes_open_to_others(state) == {}


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777])
def test_a_state_folder_other_users_can_write_is_refused_with_the_fix(
    demo_copy: Path, tmp_path: Path, mode: int
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(mode)
    env = {"CONVERSATIONS_DIR": str(demo_copy), "STATE_DIR": str(state)}
    result = run_cli("--once", env=env, timeout=120)
    assert result.returncode == ExitCode.STARTUP, result.stderr[-2000:]
    assert "writable by other users" in result.stderr
    assert f"chmod 700 {state}" in result.stderr
    assert list(state.iterdir()) == []  # nothing was written there
