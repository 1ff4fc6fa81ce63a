"""The program's first steps: the malloc arena limit, and stop signals caught early.

``python -m streaming_importer`` takes a few hundred milliseconds to import
its modules (more on a loaded machine). A SIGTERM in that window would kill
it with the default disposition instead of a clean exit, so ``__main__``
installs these handlers before importing anything else; the CLI then reads
:data:`STOP` (and keeps using it while the model loads).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

__all__ = ["STOP", "catch_stop_signals", "reexec_with_arena_limit", "release_stop_signals"]

#: Set by SIGINT or SIGTERM before the importer's own handlers take over.
STOP = threading.Event()


def _remember(_signum: int, _frame: Any) -> None:
    STOP.set()


def catch_stop_signals() -> None:
    """Remember SIGINT and SIGTERM instead of dying of them."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _remember)


def release_stop_signals() -> None:
    """The default dispositions again (commands that do not import)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def reexec_with_arena_limit(program: tuple[str, ...] = ("-m", "streaming_importer")) -> None:
    """Re-execute this program (``python PROGRAM ARGS``) once with ``MALLOC_ARENA_MAX=2`` (Linux).

    glibc reads ``MALLOC_ARENA_MAX`` only at start-up, and with one arena per
    thread (the model, parser and store threads) freed memory is spread over
    arenas that are rarely given back. So a run without the variable
    re-executes itself (same pid, same arguments) before doing anything
    else; setting the variable, to any value, skips that.
    """
    if "MALLOC_ARENA_MAX" not in os.environ and sys.platform.startswith("linux"):
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        os.execve(sys.executable, [sys.executable, *program, *sys.argv[1:]], env)
