"""The state folder: private, and held by one writer at a time.

The program runs with umask 077 (``surfaces/cli/main.run``), so what it
creates is owner-only; files an older version left readable are made so at
start. A folder other users can write is refused: they could swap the store,
the checkpoint or the control socket under the owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streaming_importer.errors import StartupError

__all__ = ["make_private", "state_lock", "write_private"]

logger = logging.getLogger(__name__)


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
    # What an older version (or another umask) left readable is made private.
    for entry in path.iterdir():
        mode = entry.lstat().st_mode
        if mode & 0o077 and not entry.is_symlink():
            entry.chmod(0o700 if entry.is_dir() else 0o600)


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (0600), atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


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
