"""The archive on real files: exact bytes, idempotent by offset, torn frames dropped."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest

from streaming_importer.state import frames
from streaming_importer.state.archive import Archive, ArchiveError
from streaming_importer.state.privacy import Tombstones

REL = "-home-dev-app/0a1b2c3d.jsonl"
CONTEXT = {"rel_path": REL, "session_id": "0a1b2c3d", "project": "/home/dev/app"}


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(
        b'{"n": %d, "text": "line %d of the transcript"}\n' % (i, i) for i in range(start, n)
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.jsonl"
    path.write_bytes(lines(100))
    return path


def test_slices_kept_read_back_exactly_by_gzip_and_by_offset(tmp_path: Path, source: Path) -> None:
    archive = Archive(tmp_path / "archive")
    size = source.stat().st_size
    cut = size // 3
    archive.keep(REL, source, 0, cut, CONTEXT)
    archive.keep(REL, source, cut, size, CONTEXT)
    kept = archive.path_for(REL)
    assert gzip.decompress(kept.read_bytes()) == source.read_bytes()  # zcat gives it back
    assert archive.end(REL) == size
    data = source.read_bytes()
    with archive.open(REL) as f:
        for offset in (0, 17, cut - 5, cut, size - 40):
            f.seek(offset)
            assert f.read(100) == data[offset : offset + 100]
        f.seek(size)
        assert f.read(10) == b""
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert archive.get(REL) is not None and archive.get(REL).context == CONTEXT  # type: ignore[union-attr]


def test_a_restart_reading_again_from_the_checkpoint_doubles_nothing(
    tmp_path: Path, source: Path
) -> None:
    archive = Archive(tmp_path / "archive")
    size = source.stat().st_size
    archive.keep(REL, source, 0, size // 2, CONTEXT)
    # The checkpoint trailed the archive: the same bytes are read (and kept) again.
    archive.keep(REL, source, size // 4, size, CONTEXT)
    archive.keep(REL, source, size // 2, size, CONTEXT)
    assert gzip.decompress(archive.path_for(REL).read_bytes()) == source.read_bytes()


def test_a_gap_is_filled_from_the_source_and_byte_zero_starts_anew(
    tmp_path: Path, source: Path
) -> None:
    archive = Archive(tmp_path / "archive")
    size = source.stat().st_size
    archive.keep(REL, source, 0, 100, CONTEXT)
    archive.keep(REL, source, size // 2, size, CONTEXT)  # bytes 100.. were never kept
    assert gzip.decompress(archive.path_for(REL).read_bytes()) == source.read_bytes()
    source.write_bytes(lines(10, start=500))  # replaced: read again from byte 0
    archive.keep(REL, source, 0, source.stat().st_size, CONTEXT)
    assert gzip.decompress(archive.path_for(REL).read_bytes()) == source.read_bytes()


def test_a_frame_cut_short_by_a_crash_is_dropped_at_the_next_write(
    tmp_path: Path, source: Path
) -> None:
    archive = Archive(tmp_path / "archive")
    size = source.stat().st_size
    archive.keep(REL, source, 0, size // 2, CONTEXT)
    whole = archive.path_for(REL).stat().st_size
    archive.keep(REL, source, size // 2, size, CONTEXT)
    os.truncate(archive.path_for(REL), archive.path_for(REL).stat().st_size - 7)
    fresh = Archive(tmp_path / "archive")  # a new process after the crash
    assert fresh.end(REL) == size // 2
    with pytest.raises(ArchiveError, match="cut short"):
        fresh.verify(REL)
    fresh.keep(REL, source, size // 2, size, CONTEXT)
    assert archive.path_for(REL).stat().st_size > whole
    fresh.verify(REL)
    assert gzip.decompress(archive.path_for(REL).read_bytes()) == source.read_bytes()


def test_the_index_of_a_growing_archive_is_read_on_from_where_it_was(
    tmp_path: Path, source: Path
) -> None:
    archive = Archive(tmp_path / "archive")
    reader = Archive(tmp_path / "archive")  # another instance, as a view has
    size = source.stat().st_size
    archive.keep(REL, source, 0, 100, CONTEXT)
    assert reader.end(REL) == 100
    archive.keep(REL, source, 100, 200, CONTEXT)
    archive.keep(REL, source, 200, size, CONTEXT)
    assert reader.end(REL) == size and len(reader._frames(REL)[0]) == 3
    source.write_bytes(lines(300))  # replaced, and kept anew: longer than before
    archive.keep(REL, source, 0, 50, CONTEXT)
    archive.keep(REL, source, 50, source.stat().st_size, CONTEXT)
    assert reader.end(REL) == source.stat().st_size
    assert [f.start for f in reader._frames(REL)[0]] == [0, 50]


def test_a_damaged_frame_is_named(tmp_path: Path, source: Path) -> None:
    archive = Archive(tmp_path / "archive")
    archive.keep(REL, source, 0, source.stat().st_size, CONTEXT)
    path = archive.path_for(REL)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="damaged"):
        Archive(tmp_path / "archive").verify(REL)


def test_large_slices_are_cut_into_bounded_frames(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(os.urandom(frames.FRAME_BYTES // 2).hex().encode() + b"\n")
    archive = Archive(tmp_path / "archive")
    archive.keep(REL, big, 0, big.stat().st_size, CONTEXT)
    kept, _ = archive._frames(REL)
    assert len(kept) == 2 and all(f.length <= frames.FRAME_BYTES for f in kept)
    assert gzip.decompress(archive.path_for(REL).read_bytes()) == big.read_bytes()


def test_forgotten_sessions_and_moves_and_off(tmp_path: Path, source: Path) -> None:
    archive = Archive(tmp_path / "archive")
    other = {**CONTEXT, "session_id": "other", "rel_path": "-home-dev-app/other.jsonl"}
    archive.keep(REL, source, 0, 100, CONTEXT)
    archive.keep("-home-dev-app/other.jsonl", source, 0, 100, other)
    assert len(archive.sizes()) == 2
    assert archive.remove_forgotten(Tombstones({"0a1b2c3d"}, set())) == 1
    assert [k.rel_path for k in archive.kept()] == ["-home-dev-app/other.jsonl"]
    archive.move("-home-dev-app/other.jsonl", "-home-dev-app/moved.jsonl")
    assert [k.rel_path for k in archive.kept()] == ["-home-dev-app/moved.jsonl"]
    off = Archive(None)
    off.keep(REL, source, 0, 100, CONTEXT)
    assert off.end(REL) == 0 and list(off.kept()) == []
    with pytest.raises(ValueError):
        archive.path_for("../escape.jsonl")
