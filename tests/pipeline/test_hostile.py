"""Hostile input: random bytes, random JSON, and real lines interleaved with damage."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming_importer.ops.config import Settings
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import ParseLimits, file_context_for
from streaming_importer.sources.tail import read_line_blocks
from streaming_importer.state import checkpoint as ckpt

from ..conftest import ROOT, clean_env, settings_for, stored_points

LIMITS = ParseLimits()
CTX = file_context_for("p/s.jsonl")
VALID = json.dumps(
    {
        "type": "user",
        "uuid": "11111111-2222-4333-8444-555555555555",
        "sessionId": "s",
        "message": {"role": "user", "content": "the valid line after the damage"},
    }
).encode()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
# Records shaped like transcripts, with any value anywhere.
records = st.fixed_dictionaries(
    {"type": st.sampled_from(["user", "assistant", "summary", "progress", "system", "x"])},
    optional={
        "message": st.fixed_dictionaries(
            {},
            optional={
                "content": json_values
                | st.lists(
                    st.dictionaries(
                        st.sampled_from(["type", "text", "thinking", "name", "input", "content"]),
                        json_values | st.sampled_from(["text", "tool_use", "tool_result", "image"]),
                        max_size=4,
                    ),
                    max_size=4,
                )
            },
        ),
        "uuid": json_values,
        "sessionId": json_values,
        "cwd": json_values,
        "isMeta": json_values,
        "summary": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = parse_line(data, CTX, LIMITS)
    assert result.context.rel_path == "p/s.jsonl"


@settings(max_examples=300, deadline=None)
@given(records)
def test_random_records_never_raise(record: dict[str, object]) -> None:
    result = parse_line(orjson.dumps(record), CTX, LIMITS)
    for message in result.messages:
        assert isinstance(message.text, str) and message.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    garbage=st.lists(st.binary(max_size=300), min_size=1, max_size=5), seed=st.integers(0, 10**6)
)
async def test_the_tailer_never_loses_a_valid_line_after_an_invalid_one(
    tmp_path: Path, garbage: list[bytes], seed: int
) -> None:
    path = tmp_path / f"t{seed}.jsonl"
    # Garbage lines (any bytes but a newline), each followed by a valid record.
    lines = [g.replace(b"\n", b" ") for g in garbage]
    body = b"".join(g + b"\n" + VALID + b"\n" for g in lines)
    path.write_bytes(body)
    rng = random.Random(seed)
    got = []
    async for block in read_line_blocks(
        path, 0, block_bytes=rng.randint(1, 64), max_line_bytes=rng.choice([len(VALID), 1 << 20])
    ):
        for line in block:
            if not line.overlong:
                result = parse_line(line.data, CTX, LIMITS)
                got.extend(m.text for m in result.messages)
    assert got.count("the valid line after the damage") >= len(lines)


#: Runs a command and prints its exit code and its own peak RSS (KiB).
PEAK = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def test_real_lines_interleaved_with_damage(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "-home-dev-spotter" / "short.jsonl"
    good = source.read_bytes().splitlines(keepends=True)
    huge_image = (
        json.dumps(  # 20 MB of base64 in a tool result: valid, kept, not embedded
            {
                "type": "user",
                "uuid": "99999999-0000-4000-8000-000000000001",
                "sessionId": "s",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [
                                {
                                    "type": "image",
                                    "source": {"type": "base64", "data": "A" * 20_000_000},
                                },
                                {"type": "text", "text": "screenshot of the login page"},
                            ],
                        }
                    ],
                },
            }
        ).encode()
        + b"\n"
    )
    damage = [
        (b"{not json at all\n", "invalid JSON"),
        (b"\x00" * 300 + b"\n", "NUL bytes"),
        (b'{"type": "user", "x": "\xff\xfe"}\n', "not UTF-8"),
        (b'"a bare string"\n', "not a JSON object"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"type": "user", "message": "' + b"z" * 26_000_000 + b'"}\n', "line too long"),
    ]
    out: list[bytes] = []
    expected: list[tuple[int, str]] = []
    for i, line in enumerate(good):
        out.append(line)
        if i < len(damage):
            bad, reason = damage[i]
            expected.append((sum(map(len, out)), reason))
            out.append(bad)
    out.append(huge_image)
    out.append(good[0][:50])  # an unterminated last line: held back, not quarantined
    conversations = tmp_path / "conversations"
    conversations.mkdir()
    (conversations / "damaged.jsonl").write_bytes(b"".join(out))
    (conversations / "notes.jsonl").write_bytes(b"# not a transcript\nhello world\n")

    settings = settings_for(conversations, tmp_path / "state", MAX_LINE_BYTES="25000000")
    # The real program, so its peak is an importer's alone (the test process
    # holds whatever models earlier tests loaded).
    env = {
        "CONVERSATIONS_DIR": str(conversations),
        "STATE_DIR": str(settings.state_dir),
        "MAX_LINE_BYTES": "25000000",
    }
    # Started from a small process: a child's peak counts the memory it was
    # started from (this test process holds gigabytes late in the suite).
    measured = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "streaming_importer", "--once"],
        env=clean_env(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    code, peak_kib = map(int, measured.stdout.split())
    assert code == 0, measured.stderr[-2000:]
    # Its peak (RSS, so stricter than anonymous memory) stayed under the
    # default ceiling, 20 MB line and 26 MB skipped line included.
    peak_mb = peak_kib / 1024
    default_ceiling = Settings.from_env({}).operational_memory_mb
    assert peak_mb < default_ceiling, peak_mb

    quarantine = [
        json.loads(x) for x in (tmp_path / "state" / "quarantine.jsonl").read_bytes().splitlines()
    ]
    got = sorted((q["offset"], q["reason"]) for q in quarantine if q["path"] == "damaged.jsonl")
    assert got == sorted(expected)
    assert (
        sorted(q["reason"] for q in quarantine if q["path"] == "notes.jsonl")
        == ["invalid JSON"] * 2
    )
    assert ckpt.load(settings.checkpoint_path).totals.quarantined == len(expected) + 2

    points = stored_points(tmp_path / "state")
    stored = {p["message_uuid"] for p in points.values() if p["path"] == "damaged.jsonl"}
    valid = {
        m.message_uuid
        for line in good
        for m in parse_line(line.rstrip(b"\n"), CTX, LIMITS).messages
    }
    assert valid and valid <= stored  # every valid line of the damaged file was imported
    image = [
        p for p in points.values() if p["message_uuid"] == "99999999-0000-4000-8000-000000000001"
    ]
    assert [p["text"] for p in image] == ["[image]\nscreenshot of the login page"]
    saved = ckpt.load(settings.checkpoint_path).files["damaged.jsonl"]
    assert saved.offset == len(b"".join(out)) - 50  # the partial last line waits
