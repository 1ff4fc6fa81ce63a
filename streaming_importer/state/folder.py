"""The state folder: private, and held by one writer at a time.

The program runs with umask 077 (``surfaces/cli/main.run``), so what it
creates is owner-only; files an older version left readable are made so at
start. A folder other users can write is refused: they could swap the store,
the checkpoint or the control socket under the owner.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streaming_importer.errors import StartupError

__all__ = ["make_private", "state_lock"]

logger = logging.getLogger(__name__)


#: What the program keeps directly in the state folder, made owner-only at start.
_PRIVATE = {
    "checkpoint.json": 0o600,
    "quarantine.jsonl": 0o600,
    "importer.lock": 0o600,
    "importer.json": 0o600,
    "control.token": 0o600,
    "qdrant": 0o700,
}


def make_private(path: Path) -> None:
    """The state folder holds conversation text: created private (0700).

    Raises StartupError if other users can write it (with the fix). An existing
    folder they can only read gets a warning, not a chmod (it is the user's
    folder); what the program keeps in it is made owner-only either way.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o022:
            raise StartupError(
                f"STATE_DIR={str(path)!r} is writable by other users (mode {mode:o}): they "
                f"could replace the store or the control socket; run `chmod 700 {path}`"
            ) from None
        if mode & 0o077:
            logger.warning(
                "STATE_DIR=%s is open to other users (mode %o) and holds conversation text; "
                "consider chmod 700",
                path,
                mode,
            )
    for name, private in _PRIVATE.items():
        target = path / name
        if target.exists() and target.stat().st_mode & 0o777 != private:
            target.chmod(private)


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """One writer per state folder: an exclusive flock held while the block runs.

    Raises StartupError if another process (a running importer) holds it.
    """
    fd = os.open(state_dir / "importer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise StartupError(
                f"another importer is running with STATE_DIR={str(state_dir)!r}"
            ) from e
        yield
    finally:
        os.close(fd)
