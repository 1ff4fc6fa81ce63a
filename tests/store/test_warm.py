"""After opening, the store's files are read and mapped in the background, in the order
searches need them; a one-shot search maps only what is already cached."""

from __future__ import annotations

import ctypes
import mmap
import os
import re
from pathlib import Path

import numpy as np
import pytest

from streaming_importer.store import Where
from streaming_importer.store.edge import EdgeSink
from tests.scale_writer import IDENTITY, point


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed store of 6,000 points in several sealed segments."""
    folder = tmp_path_factory.mktemp("warm") / "qdrant"
    rng = np.random.default_rng(0)
    sink = EdgeSink(folder, "conversations", index_points=1024)
    sink.open(IDENTITY)
    for start in range(0, 6000, 64):
        sink.upsert([point(i, rng) for i in range(start, min(start + 64, 6000))])
        if sink.index_due():
            sink.build_index()
    sink.close()
    return folder


def evict(folder: Path) -> None:
    """Drop the store's files from the page cache (the engine's close does too)."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def dense_vectors_mapped(folder: Path) -> tuple[int, int]:
    """(bytes of this process's dense-vector mappings in memory, bytes of data in those files)."""
    resident, current = 0, None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(\S.*)$", line)
            if head:
                current = head.group(1) if str(folder) in head.group(1) else None
            elif current and "vector_storage-dense" in current and line.startswith("Rss:"):
                resident += int(line.split()[1]) * 1024
    files = [p for p in folder.rglob("*") if p.is_file() and "vector_storage-dense" in p.parts]
    return resident, sum(p.stat().st_blocks * 512 for p in files)


def test_after_the_warm_up_the_files_a_search_reads_are_mapped(store: Path) -> None:
    evict(store)
    sink = EdgeSink(store, "conversations", index_points=1024)
    sink.open(IDENTITY)
    try:
        assert sink.warmed() > 0
        resident, data = dense_vectors_mapped(store)
        # Mapped without a search having touched them: no page fault for the first ones.
        assert data > 0 and resident >= 0.9 * data
        assert sink.search(1, Where(), dense=point(4321, np.random.default_rng(1)).vector)
    finally:
        sink.close()


def cached_bytes(files: list[Path]) -> int:
    """Bytes of ``files`` in the page cache now (``mincore`` over a private mapping of each)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
    total = 0
    for path in files:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as view:
            pages = (len(view) + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vector = ctypes.create_string_buffer(pages)
            address = ctypes.addressof(ctypes.c_char.from_buffer(view))
            assert libc.mincore(address, len(view), vector) == 0
            total += sum(b & 1 for b in vector.raw) * mmap.PAGESIZE
    return total


def test_a_one_shot_sink_reads_nothing_and_maps_only_what_is_cached(store: Path) -> None:
    dense = [p for p in store.rglob("*") if p.is_file() and "vector_storage-dense" in p.parts]
    evict(store)  # what stays cached (pages the kernel keeps) is what may be mapped
    before = cached_bytes(dense)
    cold = EdgeSink(store, "conversations", warm=False)
    cold.open(IDENTITY)
    try:
        assert cold.warmed() == 0  # no background read
        resident, data = dense_vectors_mapped(store)
        # Nothing read from disk to be mapped: beyond what was cached, only the
        # few pages the engine reads itself when it loads (about 2% here).
        assert resident <= before + 0.1 * data
    finally:
        cold.close()
    for path in store.rglob("*"):
        if path.is_file():
            path.read_bytes()  # now cached
    cached = EdgeSink(store, "conversations", warm=False)
    cached.open(IDENTITY)
    try:
        resident, data = dense_vectors_mapped(store)
        assert resident >= 0.9 * data  # mapped at open, read from the cache
    finally:
        cached.close()
