"""The process's own memory, in MiB (2**20 bytes).

``anon`` is anonymous memory (``RssAnon``): what the process itself allocated
and cannot give back without freeing it. The embedded store maps its files,
and those file-backed pages count in ``rss`` but are reclaimable, so limits
are judged on ``anon``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
from pathlib import Path
from typing import Any

import psutil

__all__ = ["MemorySample", "sample", "trim"]

_MIB = 1 << 20
_STATUS = Path("/proc/self/status")


@dataclasses.dataclass(frozen=True, slots=True)
class MemorySample:
    """Resident memory and its anonymous part, in MiB."""

    rss_mb: float
    anon_mb: float


def sample() -> MemorySample:
    """Measure this process now."""
    rss = psutil.Process().memory_info().rss
    anon = _rss_anon_bytes()
    return MemorySample(rss_mb=rss / _MIB, anon_mb=(anon if anon is not None else rss) / _MIB)


def _rss_anon_bytes() -> int | None:
    # Linux only; elsewhere rss stands in for it.
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def trim() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim(0)``; no-op elsewhere).

    Parsing a large transcript frees many small objects; without a trim glibc
    keeps those pages, and RSS ratchets up file after file.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None  # not glibc: nothing to trim
    return libc
