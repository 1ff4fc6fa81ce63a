"""Secrets never reach the model or the store; ordinary code is left alone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import FastEmbedEmbedder
from streaming_importer.search.find import search
from streaming_importer.search.query import SearchQuery
from streaming_importer.sources.claude import parse_line
from streaming_importer.sources.messages import FileContext, ParseLimits
from streaming_importer.sources.redact import KINDS, RULESET, redact

from ..conftest import all_points, import_once

# Made-up values in each format (none of them is a live credential): the text a
# person pastes or a tool prints, and the secret in it that must not be stored.
SECRETS: list[tuple[str, str]] = [
    ("export AWS_ACCESS_KEY_ID=AKIAQ3EGRT5Y2NW7XK4P", "AKIAQ3EGRT5Y2NW7XK4P"),
    (
        "aws_secret_access_key = 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",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vN2pL5x",
    ),
    (
        "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    (
        "GH_TOKEN=github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    ),
    ("token glpat-xY9z8W7v6U5t4S3r2Q1p here", "glpat-xY9z8W7v6U5t4S3r2Q1p"),
    (
        "ANTHROPIC_API_KEY=sk-ant-api03-AbCdEf0123456789_AbCdEf0123456789-xyzXYZ",
        "AbCdEf0123456789_AbCdEf0123456789",
    ),
    (
        'client = OpenAI(api_key="sk-proj-AbC123dEf456GhI789jKl012MnO345")',
        "sk-proj-AbC123dEf456GhI789jKl012MnO345",
    ),
    (
        "OPENAI_API_KEY=sk-AbCdEf0123456789AbCdT3BlbkFJAbCdEf0123456789AbCd",
        "T3BlbkFJAbCdEf0123456789AbCd",
    ),
    ("SLACK_BOT=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890"),
    (
        "xoxp-2394712394-2394712394-2394712394-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    ),
    (
        "POST https://hooks.slack.com/services/T0001ABCD/B0002EFGH/XyZ123abcDEF456ghiJKL789",
        "XyZ123abcDEF456ghiJKL789",
    ),
    (
        "cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ),
    (
        "cat id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2c3d4\nZm9vYmFy\n-----END RSA PRIVATE KEY-----\ndone",
        "MIIEowIBAAKCAQEA1b2c3d4",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n[truncated]",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
    ),
    (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oR4lMnqrpwUz\n-----END EC PRIVATE KEY-----",
        "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oR4lMnqrpwUz",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    ),
    ("STRIPE_SECRET_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    (
        "restricted key rk_live_51HqLyjWDarjtT1zdp7dcXyZ0 for the worker",
        "51HqLyjWDarjtT1zdp7dcXyZ0",
    ),
    (
        "SECRET_KEY=django-insecure-8#l@x!0v^z3k2p9m4q7w1e6r5t",
        "django-insecure-8#l@x!0v^z3k2p9m4q7w1e6r5t",
    ),
    (
        "PRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    ),
    ("DB_PASS=correcthorsebattery9", "correcthorsebattery9"),
    ('DB_PASSWORD: "s3cr3t-Pa55"', "s3cr3t-Pa55"),
    ("client_secret='Zq8vN2pL5x'", "Zq8vN2pL5x"),
    ("API_TOKEN=4f9a1c7e2b8d", "4f9a1c7e2b8d"),
    ('{"password": "correct-horse-battery-staple"}', "correct-horse-battery-staple"),
    ("mysql -u root password=hunter22", "hunter22"),
    (
        "maps_key = AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    ("HF_TOKEN=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567", "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567"),
    (
        "npm token create: npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    ),
    (
        "//registry.npmjs.org/:_authToken=0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    ),
    ("curl -H 'Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQxMjM='", "YWRtaW46c3VwZXJzZWNyZXQxMjM="),
    (
        "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0'",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
    ("mysql -h db -u root -pS3cretPassw0rd shop < dump.sql", "S3cretPassw0rd"),
    ("curl -u admin:hunter2pass https://ci.example.com/api/json", "hunter2pass"),
    ("DATABASE_URL=postgres://app:Tr0ub4dor@db.internal:5432/shop", "Tr0ub4dor"),
    ("mongodb+srv://admin:pw-9931x@cluster0.example.net", "pw-9931x"),
    ("REDIS_URL=redis://:r3dis-pass-77@cache:6379/0", "r3dis-pass-77"),
    (
        "cat ~/.netrc\nmachine api.heroku.com\n  login me@example.com\n  password 01234567-89ab-cdef-0123-456789abcdef",
        "01234567-89ab-cdef-0123-456789abcdef",
    ),
    (
        "machine github.com login octocat password gho_abcdefghijklmnopqrstuvwxyz0123456789",
        "gho_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    (
        "SENDGRID_API_KEY=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",
        "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
    ),
    ("twilio SK2a9f8e7d6c5b4a39281706f5e4d3c2b1", "SK2a9f8e7d6c5b4a39281706f5e4d3c2b1"),
    ("mailchimp 0123456789abcdef0123456789abcdef-us14", "0123456789abcdef0123456789abcdef-us14"),
    ("bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"),
    (
        "PYPI=pypi-AgEIcHlwaS5vcmcCJDU3OTM5MjQ4LWQ1ZjMtNGNjNS1hNzhjLTliNmU5YTE4ZTM2MAACKlszLCJjZTNkYmQ5Yi0xZWJiLTQ",
        "AgEIcHlwaS5vcmcCJDU3OTM5MjQ4LWQ1ZjMtNGNjNS1hNzhjLTliNmU5YTE4ZTM2MAACKlszLCJjZTNkYmQ5Yi0xZWJiLTQ",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ==;",
        "lJzRc1YdHaAA2KCNJJ1tkYwF",
    ),
    (
        "square sq0csp-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
        "sq0csp-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
    ),
    (
        "export GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    ),
    ("password=hunter2", "hunter2"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_each_secret_is_replaced_by_a_marker(text: str, secret: str) -> None:
    redacted, counts = redact(text)
    assert secret not in redacted
    assert "[REDACTED:" in redacted and sum(counts.values()) >= 1
    assert set(counts) <= set(KINDS)


def test_the_table_holds_at_least_40_forms_and_20_look_alikes() -> None:
    assert len(SECRETS) >= 40 and len(ORDINARY) >= 20


def test_what_surrounds_a_secret_stays_searchable() -> None:
    text, _ = redact("DATABASE_URL=postgres://app:Tr0ub4dor@db.internal:5432/shop was wrong")
    assert text == (
        "DATABASE_URL=postgres://app:[REDACTED:connection-credentials]@db.internal:5432/shop "
        "was wrong"
    )


def test_the_rule_set_names_its_version() -> None:
    assert RULESET.startswith("detect-secrets 1.5.0; own rules ")


# What looks like a secret and is not: it must be stored exactly as written.
ORDINARY = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main)",
    "git checkout 3f78685 && git log --oneline",
    "sessionId 123e4567-e89b-12d3-a456-426614174000",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    'password_reset_url = "https://example.com/account/reset"',
    "CHUNK_MAX_TOKENS=128 max_tokens=4096",
    "password = get_password(user)",
    "token=self.token",
    "password: ${DB_PASSWORD}",
    "api_key: <your-api-key>",
    "password: str = ''",
    "def check(password: str, token: Token) -> bool:",
    "api_key=settings.api_key",
    "git@github.com:org/repo.git and https://user@github.com/org/repo",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host",
    "pip install scikit-learn; the task-management-system-overview-document is done",
    "the bearer of bad news; Reset your password: click the link",
    "tokens_per_s=6300 and secret_name=prod-db",
    "arn:aws:iam::123456789012:role/deploy in us-east-1",
    "docker pull python@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "$ pwd\n/home/dev/shop-api",
    "PASSWORD_MIN_LENGTH=12 and token_count = 4096",
    "mail jane.doe@example.com about 203.0.113.7 and /home/dev/.ssh/id_rsa.pub",
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


def prompts_transcript(folder: Path, session: str, texts: list[str]) -> Path:
    """One session of /home/dev/ops whose prompts are ``texts``, one record each."""
    path = folder / "-home-dev-ops" / f"{session}.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        {
            "type": "user",
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{session}/{i}")),
            "sessionId": session,
            "cwd": "/home/dev/ops",
            "timestamp": "2026-10-30T09:00:00.000Z",
            "message": {"role": "user", "content": text},
        }
        for i, text in enumerate(texts)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def transcript_with_secrets(folder: Path) -> Path:
    return prompts_transcript(
        folder, "cccccccc-0000-4000-8000-000000000003", [text for text, _ in SECRETS[:9]]
    )


async def test_secrets_never_reach_the_store_and_are_counted(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    transcript_with_secrets(tmp_path / "conversations")
    importer, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    try:
        stored = " ".join(p["text"] for p in all_points(sink).values())
    finally:
        sink.close()
    for _, secret in SECRETS[:9]:
        assert secret not in stored
    assert stored.count("[REDACTED:") == 9
    assert importer.stats.secrets_redacted == 9
    saved = json.loads((tmp_path / "state" / "checkpoint.json").read_text())
    assert saved["totals"]["secrets_redacted"] == 9


def table_transcript(folder: Path) -> Path:
    """One prompt per secret form and one per look-alike, in one session."""
    texts = [text for text, _ in SECRETS] + ORDINARY
    return prompts_transcript(folder, "cccccccc-0000-4000-8000-000000000005", texts)


async def test_the_whole_table_through_the_importer_and_search(
    tmp_path: Path, embedder: FastEmbedEmbedder
) -> None:
    table_transcript(tmp_path / "conversations")
    importer, sink = await import_once(tmp_path / "conversations", tmp_path / "state", embedder)
    try:
        stored = [p["text"] for p in all_points(sink).values()]
        queries = ["password secret key token", "export API key", "private key curl mysql"]
        shown = [
            json.dumps(hit.to_json())
            for q in queries
            for hit in search(embedder, Bm25Encoder(), sink, SearchQuery(q, limit=100))
        ]
    finally:
        sink.close()
    everything = "\n".join(stored + shown)
    assert [secret for _, secret in SECRETS if secret in everything] == []
    # Each look-alike is stored exactly as written (its own chunk: short prompts).
    assert [text for text in ORDINARY if text not in stored] == []
    assert importer.stats.secrets_redacted >= len(SECRETS)


async def test_redaction_can_be_turned_off(tmp_path: Path, embedder: FastEmbedEmbedder) -> None:
    transcript_with_secrets(tmp_path / "conversations")
    importer, sink = await import_once(
        tmp_path / "conversations", tmp_path / "state", embedder, REDACT_SECRETS="false"
    )
    try:
        stored = " ".join(p["text"] for p in all_points(sink).values())
    finally:
        sink.close()
    assert "AKIAQ3EGRT5Y2NW7XK4P" in stored
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
    for _, secret in SECRETS[:9]:
        assert secret not in shown
    assert shown.count("[REDACTED:") == 9
    assert "AKIAQ3EGRT5Y2NW7XK4P" in expand(REDACT_SECRETS="false")
    # An excluded project, and a forgotten session, are not shown at all.
    assert json.loads(expand(EXCLUDE_PROJECTS="/home/dev/ops")) == []
    state = ckpt.Checkpoint()
    state.forgotten.add_session("cccccccc-0000-4000-8000-000000000003")
    ckpt.save(tmp_path / "s" / "checkpoint.json", state)
    assert json.loads(expand()) == []
