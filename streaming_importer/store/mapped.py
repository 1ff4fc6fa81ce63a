"""Map a file's pages into this process ahead of use (``madvise(MADV_POPULATE_READ)``).

The embedded engine memory-maps its segment files and marks the mappings for
random access, so each page a search first touches costs a page fault even
when the file is already in the page cache; in a virtual machine a fault is
expensive. Measured at 400,000 points on this project's machine (a
Firecracker VM), a dense search right after opening touched about 18 MB of
vectors it had not touched before and took 35-60 ms, falling to 3 ms only
after some 150 searches had faulted in the working set (``benchmarks/scale.py``
and docs/scale.md have the figures).

Linux 5.14 added ``MADV_POPULATE_READ``: it fills the page tables of a range
in one call, reading what is not cached. :func:`populate` applies it to this
process's mappings of given files, found in ``/proc/self/maps``. It only
reads: a range unmapped meanwhile (an index build merged the segment away) or
past the file's end is skipped by the kernel with an error, not a signal.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from collections.abc import Callable, Collection, Iterator

__all__ = ["data_ranges", "mappings", "populate", "populate_resident"]

logger = logging.getLogger(__name__)

#: ``MADV_POPULATE_READ`` from <linux/mman.h> (Linux 5.14).
_MADV_POPULATE_READ = 22
PAGE = os.sysconf("SC_PAGE_SIZE")
#: Bytes populated per call, so that a stop is noticed between calls.
_STEP = 16 << 20

_libc = ctypes.CDLL(None, use_errno=True)
_madvise = _libc.madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise.restype = ctypes.c_int
_mincore = _libc.mincore
_mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
_mincore.restype = ctypes.c_int
_LOW_BIT = bytes(b & 1 for b in range(256))
#: Set once the kernel said it has no MADV_POPULATE_READ.
_unsupported = False


def mappings(paths: Collection[str]) -> list[tuple[int, int, int, str]]:
    """(start, end, file offset, path) of this process's mappings of ``paths`` (resolved)."""
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and (path := fields[5].rstrip("\n")) in paths:
                start, end = fields[0].split("-")
                found.append((int(start, 16), int(end, 16), int(fields[2], 16), path))
    return found


def data_ranges(fd: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of the file ``fd`` holding data (the engine preallocates: holes skipped)."""
    position = 0
    while True:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # no data past position
                return
            raise
        position = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, position


def populate_resident(paths: Collection[str]) -> tuple[int, int]:
    """Map the pages of ``paths``' mappings already in the page cache; (mapped, missing) bytes.

    Cheap (no disk read: ``mincore`` says which pages are cached), so it can
    run before the first search; ``missing`` is what only a read would bring.
    """
    mapped = missing = 0
    for start, end, offset, path in mappings(paths):
        for first, last in _spans(start, end, offset, path):
            pages = (last - first + PAGE - 1) // PAGE
            vector = ctypes.create_string_buffer(pages)
            if _mincore(first, last - first, vector) != 0:
                break  # unmapped meanwhile
            resident = vector.raw.translate(_LOW_BIT)  # 1: cached (the other bits are reserved)
            run = 0
            while run < pages:
                cached = resident[run]
                stop = resident.find(b"\x00" if cached else b"\x01", run)
                stop = pages if stop < 0 else stop
                low, high = first + run * PAGE, min(first + stop * PAGE, last)
                if cached:
                    mapped += _populate(low, high, path, lambda: False)
                else:
                    missing += high - low
                run = stop
    return mapped, missing


def populate(paths: Collection[str], stopped: Callable[[], bool]) -> int:
    """Map the pages holding data of this process's mappings of ``paths``; bytes mapped.

    A hole is left alone: mapping it would fill the page cache with zeros.
    Returns early (with what was mapped) once ``stopped()`` is true, and at
    once where the kernel lacks the call.
    """
    done = 0
    for start, end, offset, path in mappings(paths):
        for first, last in _spans(start, end, offset, path):
            mapped = _populate(first, last, path, stopped)
            done += mapped
            if _unsupported or stopped():
                return done
            if mapped < last - first:
                break  # unmapped meanwhile: the rest of it too
    return done


def _spans(start: int, end: int, offset: int, path: str) -> list[tuple[int, int]]:
    """The addresses of the mapping ``[start, end)`` (of ``path`` from ``offset``) holding data."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return []  # merged away meanwhile
    try:
        ranges = list(data_ranges(fd))
    except OSError:
        return []
    finally:
        os.close(fd)
    spans = []
    for low, high in ranges:
        first = start + max(low - offset, 0) // PAGE * PAGE
        last = min(start + high - offset, end)
        if first < last:
            spans.append((first, last))
    return spans


def _populate(first: int, last: int, path: str, stopped: Callable[[], bool]) -> int:
    """madvise ``[first, last)`` in steps; bytes mapped (fewer: stopped, or it failed)."""
    global _unsupported
    done = 0
    for at in range(first, last, _STEP):
        if _unsupported or stopped():
            return done
        length = min(_STEP, last - at)
        if _madvise(at, length, _MADV_POPULATE_READ) != 0:
            code = ctypes.get_errno()
            if code == errno.EINVAL:
                _unsupported = True  # before Linux 5.14: the reads alone warm the files
                logger.debug("madvise(MADV_POPULATE_READ) is not supported here")
            else:
                # Unmapped meanwhile (ENOMEM) or past the file's end (EFAULT).
                logger.debug("not mapping %s ahead: %s", path, os.strerror(code))
            return done
        done += length
    return done
