"""Secrets never reach the model or the store; ordinary code is left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import FileContext, ParseLimits
from streaming_importer.sources.redact import KINDS, redact

from ..conftest import all_points, import_once

# Made-up values in each format (none of them is a live credential).
SECRETS = [
    ("aws-key", "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws-secret",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "github-token",
        "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    (
        "github-token",
        "GH_TOKEN=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    ),
    ("gitlab-token", "token glpat-xY9z8W7v6U5t4S3r2Q1p here", "glpat-xY9z8W7v6U5t4S3r2Q1p"),
    (
        "anthropic-key",
        "ANTHROPIC_API_KEY=sk-ant-api03-AbCdEf0123456789_AbCdEf0123456789-xyzXYZ",
        "sk-ant-api03-AbCdEf0123456789",
    ),
    (
        "openai-key",
        'client = OpenAI(api_key="sk-proj-AbC123dEf456GhI789jKl012MnO345")',
        "sk-proj-AbC123dEf456GhI789jKl012MnO345",
    ),
    ("slack-token", "SLACK_BOT=xoxb-1234567890-0987654321-AbCdEfGh", "xoxb-1234567890"),
    (
        "slack-webhook",
        "POST https://hooks.slack.com/services/T0001ABCD/B0002EFGH/XyZ123abcDEF456ghi",
        "XyZ123abcDEF456ghi",
    ),
    (
        "jwt",
        "cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ),
    (
        "private-key",
        "cat id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2c3d4\nZm9vYmFy\n"
        "-----END RSA PRIVATE KEY-----\ndone",
        "MIIEowIBAAKCAQEA1b2c3d4",
    ),
    (
        "private-key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n[truncated]",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
    ),
    ("password", "mysql -u root password=hunter22", "hunter22"),
    ("password", 'DB_PASSWORD: "s3cr3t-Pa55"', "s3cr3t-Pa55"),
    ("password", "client_secret='Zq8vN2pL5x'", "Zq8vN2pL5x"),
    ("password", "API_TOKEN=4f9a1c7e2b", "4f9a1c7e2b"),
    (
        "connection-credentials",
        "DATABASE_URL=postgres://app:Tr0ub4dor@db.internal:5432/shop",
        "Tr0ub4dor",
    ),
    ("connection-credentials", "mongodb+srv://admin:pw-9931@cluster0.example.net", "pw-9931"),
    (
        "bearer-token",
        "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0'",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
]


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS)
def test_each_kind_of_secret_is_replaced_by_its_marker(kind: str, text: str, secret: str) -> None:
    redacted, counts = redact(text)
    assert secret not in redacted
    assert f"[REDACTED:{kind}]" in redacted
    assert counts == {kind: 1}


def test_every_kind_has_a_case() -> None:
    assert {kind for kind, _, _ in SECRETS} == set(KINDS)


def test_what_surrounds_a_secret_stays_searchable() -> None:
    text, _ = redact("DATABASE_URL=postgres://app:Tr0ub4dor@db.internal:5432/shop was wrong")
    assert text == (
        "DATABASE_URL=postgres://[REDACTED:connection-credentials]@db.internal:5432/shop was wrong"
    )


ORDINARY = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main)",
    "sessionId 123e4567-e89b-12d3-a456-426614174000",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "CHUNK_MAX_TOKENS=128 max_tokens=4096",
    "password = get_password(user)",
    "token=self.token",
    "password: ${DB_PASSWORD}",
    "password: str = ''",
    "def check(password: str, token: Token) -> bool:",
    "api_key=settings.api_key",
    "git@github.com:org/repo.git and https://user@github.com/org/repo",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host",
    "pip install scikit-learn; the task-management-system-overview-document is done",
    "the bearer of bad news; Reset your password: click the link",
    "tokens_per_s=6300 and secret_name=prod-db",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_code_is_not_redacted(text: str) -> None:
    assert redact(text) == (text, {})


def test_nothing_in_the_real_corpus_is_mistaken_for_a_secret(corpus: Path) -> None:
    # 1.5 MB of real coding transcripts, with no credentials in them.
    limits = ParseLimits(tool_result_max_chars=2000, tool_call_max_chars=500)
    texts = 0
    for path in sorted(corpus.rglob("*.jsonl")):
        context = FileContext(str(path), path.stem)
        for line in path.read_bytes().splitlines():
            result = parse_line(line, context, limits)
            context = result.context
            for message in result.messages:
                texts += 1
                assert redact(message.text)[1] == {}, message.text[:300]
    assert texts > 3000


def transcript_with_secrets(folder: Path) -> Path:
    path = folder / "-home-dev-ops" / "cccccccc-0000-4000-8000-000000000003.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        {
            "type": "user",
            "uuid": f"dddddddd-0000-4000-8000-00000000000{i}",
            "sessionId": "cccccccc-0000-4000-8000-000000000003",
            "cwd": "/home/dev/ops",
            "timestamp": "2026-10-30T09:00:00.000Z",
            "message": {"role": "user", "content": text},
        }
        for i, (_, text, _) in enumerate(SECRETS[:9])
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


async def test_secrets_never_reach_the_store_and_are_counted(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    transcript_with_secrets(tmp_path / "conversations")
    importer, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    try:
        stored = " ".join(p["text"] for p in all_points(sink).values())
    finally:
        sink.close()
    for _, _, secret in SECRETS[:9]:
        assert secret not in stored
    assert stored.count("[REDACTED:") == 9
    assert importer.stats.secrets_redacted == 9
    saved = json.loads((tmp_path / "state" / "checkpoint.json").read_text())
    assert saved["totals"]["secrets_redacted"] == 9


async def test_redaction_can_be_turned_off(tmp_path: Path, embedder: FastEmbedEmbedder) -> None:
    transcript_with_secrets(tmp_path / "conversations")
    importer, sink = await import_once(
        tmp_path / "conversations", tmp_path / "state", embedder, REDACT_SECRETS="false"
    )
    try:
        stored = " ".join(p["text"] for p in all_points(sink).values())
    finally:
        sink.close()
    assert "AKIAIOSFODNN7EXAMPLE" in stored
    assert "[REDACTED:" not in stored
    assert importer.stats.secrets_redacted == 0


def tool_result_transcript(folder: Path, text: str) -> Path:
    path = folder / "-home-dev-ops" / "cccccccc-0000-4000-8000-000000000004.jsonl"
    path.parent.mkdir(parents=True)
    line = {
        "type": "user",
        "uuid": "dddddddd-0000-4000-8000-000000000099",
        "sessionId": "cccccccc-0000-4000-8000-000000000004",
        "cwd": "/home/dev/ops",
        "timestamp": "2026-10-30T09:00:00.000Z",
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": text}],
        },
    }
    path.write_text(json.dumps(line) + "\n")
    return path


async def test_a_secret_cut_by_the_tool_result_cap_leaves_nothing_of_it(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    secret = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    # The cap (2,000 characters) falls in the middle of the token.
    text = "x " * 995 + "token " + secret + " and then more output " * 20
    assert text.index(secret) < 2000 < text.index(secret) + len(secret)
    tool_result_transcript(tmp_path / "conversations", text)
    importer, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    try:
        stored = " ".join(p["text"] for p in all_points(sink).values())
    finally:
        sink.close()
    # Not whole, and no telling prefix either (the prefix alone would match no pattern).
    assert not any(secret[:n] in stored for n in range(8, len(secret) + 1))
    assert "x x token" in stored  # what came before it is there
    assert importer.stats.secrets_redacted == 1  # found whole, then cut


def test_expand_shows_what_search_shows_and_nothing_forgotten(tmp_path: Path) -> None:
    from streaming_importer.ops.config import Settings
    from streaming_importer.state import checkpoint as ckpt
    from streaming_importer.surfaces.mcp import Backend

    conversations = tmp_path / "conversations"
    path = transcript_with_secrets(conversations)
    rel = str(path.relative_to(conversations))

    def expand(**env: str) -> str:
        settings = Settings.from_env(
            {"CONVERSATIONS_DIR": str(conversations), "STATE_DIR": str(tmp_path / "s"), **env}
        )
        return json.dumps(Backend(settings).expand(rel, 0, 0, 20))

    shown = expand()
    for _, _, secret in SECRETS[:9]:
        assert secret not in shown
    assert shown.count("[REDACTED:") == 9
    assert "AKIAIOSFODNN7EXAMPLE" in expand(REDACT_SECRETS="false")
    # An excluded project, and a forgotten session, are not shown at all.
    assert json.loads(expand(EXCLUDE_PROJECTS="/home/dev/ops")) == []
    state = ckpt.Checkpoint()
    state.forgotten.add_session("cccccccc-0000-4000-8000-000000000003")
    ckpt.save(tmp_path / "s" / "checkpoint.json", state)
    assert json.loads(expand()) == []
