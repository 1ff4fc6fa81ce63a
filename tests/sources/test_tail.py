from __future__ import annotations

from pathlib import Path

from streaming_importer.sources.tail import Line, read_line_blocks


async def read_all(path: Path, offset: int = 0, **kw: int) -> list[Line]:
    options = {"block_bytes": 7, "max_line_bytes": 1024, **kw}
    return [line async for block in read_line_blocks(path, offset, **options) for line in block]


async def test_complete_lines_with_offsets(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":22}\n\n{"c":3}\n')
    lines = await read_all(path)
    assert [(ln.data, ln.start, ln.end) for ln in lines] == [
        (b'{"a":1}', 0, 8),
        (b'{"b":22}', 8, 17),
        (b"", 17, 18),
        (b'{"c":3}', 18, 26),
    ]


async def test_a_partial_last_line_is_held_back_until_complete(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":')
    lines = await read_all(path)
    assert [ln.data for ln in lines] == [b'{"a":1}']
    with path.open("ab") as f:
        f.write(b"2}\n")
    rest = await read_all(path, lines[-1].end)
    assert [(ln.data, ln.start, ln.end) for ln in rest] == [(b'{"b":2}', 8, 16)]


async def test_an_overlong_line_is_skipped_and_the_next_one_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    big = b'{"x":"' + b"y" * 5000 + b'"}'
    path.write_bytes(b'{"a":1}\n' + big + b'\n{"b":2}\n')
    lines = await read_all(path, block_bytes=1000, max_line_bytes=100)
    assert [(ln.data, ln.overlong) for ln in lines] == [
        (b'{"a":1}', False),
        (b"", True),
        (b'{"b":2}', False),
    ]
    assert lines[1].start == 8 and lines[1].end == 8 + len(big) + 1


async def test_an_unterminated_overlong_line_is_not_reported_yet(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a":1}\n' + b"z" * 3000)
    lines = await read_all(path, block_bytes=512, max_line_bytes=100)
    assert [ln.data for ln in lines] == [b'{"a":1}']


async def test_a_50_mb_transcript_is_streamed_never_held_whole(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "big.jsonl"
    line = b'{"type":"user","message":{"role":"user","content":"' + b"x" * 2000 + b'"}}\n'
    with path.open("wb") as f:
        for _ in range(50 * 2**20 // len(line) + 1):
            f.write(line)
    size = path.stat().st_size
    assert size > 50 * 2**20
    tracemalloc.start()
    try:
        count = end = 0
        async for block in read_line_blocks(path, 0, block_bytes=1 << 20, max_line_bytes=1 << 20):
            count += len(block)
            end = block[-1].end
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end == size and count == size // len(line)
    assert peak < 8 * 2**20  # a block and its lines, not the file
