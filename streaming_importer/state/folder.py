"""The state folder: private, and held by one writer at a time."""

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


def make_private(path: Path) -> None:
    """The state folder holds conversation text: created private (0700).

    An existing folder open to others gets a warning, not a chmod: it is the
    user's folder.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning(
                "STATE_DIR=%s is open to other users (mode %o) and holds conversation text; "
                "consider chmod 700",
                path,
                mode,
            )


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """One writer per state folder: an exclusive flock held while the block runs.

    Raises StartupError if another process (a running importer) holds it.
    """
    fd = os.open(state_dir / "importer.lock", os.O_RDWR | os.O_CREAT, 0o644)
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
