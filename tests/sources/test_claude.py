from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from streaming_importer.search.query import KINDS
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import FileContext, Message, ParseLimits, file_context_for

from ..conftest import PEER_FIXTURES

LIMITS = ParseLimits(tool_result_max_chars=2000, tool_call_max_chars=500)


def parse_file(path: Path, rel: str) -> tuple[list[Message], list[str], FileContext]:
    context = file_context_for(rel)
    messages: list[Message] = []
    errors: list[str] = []
    with path.open("rb") as f:
        for raw in f:
            result = parse_line(raw.rstrip(b"\n"), context, LIMITS)
            context = result.context
            messages.extend(result.messages)
            if result.error:
                errors.append(result.error)
    return messages, errors, context


def test_every_corpus_file_parses(corpus: Path) -> None:
    files = sorted(corpus.rglob("*.jsonl"))
    assert len(files) == 54
    kinds: Counter[str] = Counter()
    for path in files:
        messages, errors, _ = parse_file(path, path.relative_to(corpus).as_posix())
        assert errors == [], path
        kinds.update(m.kind for m in messages)
        for m in messages:
            assert m.text.strip()
            assert m.session_id
    # Every kind a person searches for occurs in the real corpus.
    assert set(kinds) == set(KINDS)
    assert kinds["tool_call"] == 1345


def test_bookkeeping_records_are_not_embedded(corpus: Path) -> None:
    context = file_context_for("p/s.jsonl")
    for path in sorted(corpus.rglob("*.jsonl")):
        for raw in path.read_bytes().splitlines():
            record = json.loads(raw)
            if record.get("type") in ("progress", "file-history-snapshot", "queue-operation"):
                result = parse_line(raw, context, LIMITS)
                assert result.messages == () and result.error is None


def rec(**fields: object) -> bytes:
    base: dict[str, object] = {
        "type": "user",
        "uuid": "11111111-1111-4111-8111-111111111111",
        "sessionId": "sess-1",
        "cwd": "/home/dev/app",
        "gitBranch": "main",
        "timestamp": "2026-01-02T03:04:05.000Z",
        "isSidechain": False,
    }
    base.update(fields)
    return json.dumps(base).encode()


def test_prompt_payload_fields() -> None:
    ctx = file_context_for("-home-dev-app/sess-1.jsonl")
    result = parse_line(rec(message={"role": "user", "content": "fix the login bug"}), ctx, LIMITS)
    (m,) = result.messages
    assert (m.kind, m.role, m.text) == ("prompt", "user", "fix the login bug")
    assert m.project == "/home/dev/app"
    assert m.session_id == "sess-1"
    assert m.timestamp == "2026-01-02T03:04:05.000Z"
    assert m.message_uuid == "11111111-1111-4111-8111-111111111111"
    assert m.record_key == m.message_uuid
    assert m.git_branch == "main"
    assert result.context.project == "/home/dev/app"


def test_project_is_the_first_cwd_of_the_file() -> None:
    ctx = file_context_for("p/sess-1.jsonl")
    ctx = parse_line(rec(message={"role": "user", "content": "a"}), ctx, LIMITS).context
    later = rec(cwd="/home/dev/app/assets", message={"role": "user", "content": "b"})
    (m,) = parse_line(later, ctx, LIMITS).messages
    assert m.project == "/home/dev/app"
    assert m.cwd == "/home/dev/app/assets"


def test_assistant_blocks_become_answer_thinking_and_compact_tool_calls() -> None:
    content = [
        {"type": "thinking", "thinking": "consider the index", "signature": "x" * 400},
        {"type": "text", "text": "I will add an index."},
        {
            "type": "tool_use",
            "id": "t1",
            "name": "Bash",
            "input": {"command": "psql -c 'create index'", "description": "Create it"},
        },
        {
            "type": "tool_use",
            "id": "t2",
            "name": "Write",
            "input": {"file_path": "/a/b.py", "content": "print('secret body')\n" * 100},
        },
    ]
    line = rec(type="assistant", message={"role": "assistant", "content": content})
    result = parse_line(line, file_context_for("p/s.jsonl"), LIMITS)
    got = [(m.kind, m.text, m.part) for m in result.messages]
    assert got == [
        ("thinking", "consider the index", 0),
        ("answer", "I will add an index.", 1),
        ("tool_call", "Bash: psql -c 'create index' | Create it", 2),
        ("tool_call", "Write: /a/b.py", 3),
    ]


def test_tool_result_is_capped_and_images_leave_a_marker() -> None:
    png = base64.b64encode(b"\x89PNG" + bytes(3000)).decode()
    content = [
        {"type": "tool_result", "tool_use_id": "t1", "content": "x " * 5000},
        {
            "type": "tool_result",
            "tool_use_id": "t2",
            "content": [
                {"type": "text", "text": "screenshot taken"},
                {"type": "image", "source": {"type": "base64", "data": png}},
            ],
        },
    ]
    result = parse_line(
        rec(message={"role": "user", "content": content}), file_context_for("p/s.jsonl"), LIMITS
    )
    first, second = result.messages
    assert first.kind == "tool_result"
    assert len(first.text) < 2100 and "more characters" in first.text
    assert second.text == "screenshot taken\n[image]"
    assert png[:50] not in line_text(result.messages)


def line_text(messages: tuple[Message, ...]) -> str:
    return "\n".join(m.text for m in messages)


def test_pasted_image_and_inline_base64_are_not_embedded() -> None:
    blob = base64.b64encode(bytes(range(256)) * 20).decode()
    content = [
        {"type": "text", "text": f"what is in this picture? data:image/png;base64,{blob}"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": blob}},
    ]
    (m,) = parse_line(
        rec(message={"role": "user", "content": content}), file_context_for("p/s.jsonl"), LIMITS
    ).messages
    assert m.text == "what is in this picture? [image]\n[image]"


def test_compact_summary_and_summary_title() -> None:
    ctx = file_context_for("p/s.jsonl")
    line = rec(
        isCompactSummary=True,
        message={"role": "user", "content": "This session is being continued..."},
    )
    (m,) = parse_line(line, ctx, LIMITS).messages
    assert (m.kind, m.is_compact_summary) == ("summary", True)
    title = json.dumps(
        {"type": "summary", "summary": "Add an Atom feed", "leafUuid": "abc"}
    ).encode()
    (t,) = parse_line(title, ctx, LIMITS).messages
    assert (t.kind, t.text, t.record_key, t.session_id) == (
        "summary",
        "Add an Atom feed",
        "summary:abc",
        "s",
    )


def test_meta_and_interrupt_lines_are_skipped() -> None:
    ctx = file_context_for("p/s.jsonl")
    meta = rec(isMeta=True, message={"role": "user", "content": "Caveat: local commands"})
    assert parse_line(meta, ctx, LIMITS).messages == ()
    interrupted = rec(
        message={
            "role": "user",
            "content": [{"type": "text", "text": "[Request interrupted by user]"}],
        }
    )
    assert parse_line(interrupted, ctx, LIMITS).messages == ()


def test_records_with_text_are_numbered_in_file_order_across_a_resume() -> None:
    lines = [
        rec(message={"role": "user", "content": "first question"}),
        rec(type="progress"),
        rec(
            type="assistant",
            message={
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm"},
                    {"type": "text", "text": "an answer"},
                ],
            },
        ),
        rec(message={"role": "user", "content": "second question"}),
    ]
    context = file_context_for("p/s.jsonl")
    turns = []
    for i, line in enumerate(lines):
        result = parse_line(line, context, LIMITS)
        # The checkpoint keeps the context as JSON: a resume numbers on.
        context = FileContext.from_json(json.loads(json.dumps(result.context.to_json())))
        turns += [(i, m.kind, m.turn) for m in result.messages]
    assert turns == [(0, "prompt", 1), (2, "thinking", 2), (2, "answer", 2), (3, "prompt", 3)]


def test_subagent_files_know_their_parent_session() -> None:
    nested = file_context_for("proj/abc-123/subagents/agent-a7c31e9.jsonl")
    assert (nested.session_id, nested.parent_session_id, nested.is_subagent) == (
        "abc-123",
        "abc-123",
        True,
    )
    line = rec(
        agentId="a7c31e9",
        sessionId="abc-123",
        isSidechain=True,
        message={"role": "user", "content": "find it"},
    )
    (m,) = parse_line(line, nested, LIMITS).messages
    assert (m.agent_id, m.parent_session_id, m.is_sidechain) == ("a7c31e9", "abc-123", True)
    # 2.0.x: agent files beside the sessions; the parent is named by the records.
    flat = file_context_for("proj/agent-a02a5b8.jsonl")
    (m,) = parse_line(
        rec(sessionId="parent-1", message={"role": "user", "content": "go"}), flat, LIMITS
    ).messages
    assert (m.session_id, m.parent_session_id, m.agent_id) == ("parent-1", "parent-1", "a02a5b8")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b'"just a string"', "not a JSON object"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b'{"type": "user", "message": "\x00\x00"}', "NUL bytes"),
        (b'{"type": "user", "text": "\xff\xfe"}', "not UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "invalid JSON"),
    ],
)
def test_bad_lines_are_reported_not_raised(line: bytes, reason: str) -> None:
    result = parse_line(line, file_context_for("p/s.jsonl"), LIMITS)
    assert result.messages == ()
    assert result.error == reason


@pytest.mark.parametrize(
    "record",
    [
        {"type": "user"},
        {"type": "user", "message": None},
        {"type": "user", "message": {"content": 5}},
        {"type": "user", "message": {"content": [None, 1, "x", {"type": "text", "text": 7}]}},
        {"type": "assistant", "message": {"content": [{"type": "tool_use", "input": [1]}]}},
        {"type": 12, "uuid": 5, "cwd": ["x"]},
        {"timesstamp": "misspelled", "type": "summary", "summary": None},
    ],
)
def test_oddly_typed_records_never_raise(record: dict[str, object]) -> None:
    result = parse_line(json.dumps(record).encode(), file_context_for("p/s.jsonl"), LIMITS)
    assert result.error is None


def test_peer_fixtures_never_raise() -> None:
    files = sorted(PEER_FIXTURES.rglob("*.jsonl"))
    assert files
    errors: list[str] = []
    for path in files:
        _, errs, _ = parse_file(path, path.name)
        errors += errs
    assert "not a JSON object" in errors  # the fixtures include bare strings and arrays


def test_a_record_glued_onto_a_torn_line_is_salvaged(corpus: Path) -> None:
    path = corpus / "-Users-user-project" / "b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl"
    lines = path.read_bytes().splitlines()
    ctx = file_context_for("p/s.jsonl")
    whole = [parse_line(x, ctx, LIMITS) for x in lines]
    for i in range(1, len(lines)):
        torn = lines[i - 1][: len(lines[i - 1]) // 2] + lines[i]  # writer died mid-line
        result = parse_line(torn, ctx, LIMITS)
        assert result.error == "torn line"
        assert [m.text for m in result.messages] == [m.text for m in whole[i].messages]


#: The four real lines of claude-projects-2 that hold two records with no
#: newline between them (file, line number), per its README.
GLUED = [
    ("-Users-soph-Work-entire-devenv-cli/3a782158-6c7c-4d4d-9c73-eae031da5b18.jsonl", 172),
    ("-Users-soph-Work-entire-devenv-cli/86cc3044-7515-43f1-9c25-1444738c64c9.jsonl", 115),
    ("-Users-soph-Work-entire-devenv-cli/86cc3044-7515-43f1-9c25-1444738c64c9.jsonl", 241),
    ("-Users-soph-Work-entire-devenv-cli/b00b80af-879f-4265-b95b-48db0938673c.jsonl", 300),
]


@pytest.mark.parametrize(("rel", "number"), GLUED)
def test_a_line_of_glued_records_yields_every_record(rel: str, number: int) -> None:
    corpus = PEER_FIXTURES.parent / "claude-projects-2"
    line = (corpus / rel).read_bytes().splitlines()[number - 1]
    # Read independently: split where one whole object ends.
    first, end = json.JSONDecoder().raw_decode(line.decode())
    second = json.loads(line.decode()[end:])
    expected: list[Message] = []
    for record in (first, second):
        expected += parse_line(json.dumps(record).encode(), file_context_for(rel), LIMITS).messages
    result = parse_line(line, file_context_for(rel), LIMITS)
    assert result.error is None
    assert [(m.kind, m.text, m.record_key) for m in result.messages] == [
        (m.kind, m.text, m.record_key) for m in expected
    ]
    # A glued line whose second half is damaged keeps the first record.
    cut = parse_line(line[: end + 40], file_context_for(rel), LIMITS)
    assert cut.error == "torn line"
    assert [m.record_key for m in cut.messages] == [
        m.record_key for m in parse_line(line[:end], file_context_for(rel), LIMITS).messages
    ]


def test_nothing_of_the_second_corpus_is_bad_input() -> None:
    corpus = PEER_FIXTURES.parent / "claude-projects-2"
    errors = []
    for path in sorted(corpus.rglob("*.jsonl")):
        _, errs, _ = parse_file(path, path.relative_to(corpus).as_posix())
        errors += [(path.name, e) for e in errs]
    assert errors == []
