"""Secrets out of text before it is embedded or stored.

Transcripts routinely hold keys and passwords that a user pasted or a tool
printed (``cat .env``, ``env``, a failing ``curl``). :func:`redact` replaces
each one with a typed marker, ``[REDACTED:<kind>]``, so the text stays
readable and searchable ("the session where the AWS key leaked") while the
secret itself never reaches the model, the store or a search result.

Pure functions, no I/O. The patterns favour precision on ordinary code: a git
SHA, a UUID, ``max_tokens=128`` or ``password = get_password()`` are left
alone (tests/sources/test_redact.py holds both lists).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["KINDS", "redact"]

_PLACEHOLDER_START = ("$", "<", "{", "%", "*", "xxx", "XXX", "...", "[REDACTED")

# Order matters: specific formats go before the generic ones. No pattern may
# match a marker an earlier one wrote (hence no "[" or "]" in the
# credentials of a connection string).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"
            # To its END line, or (a tool result cut short) to the end of the
            # base64 body.
            r"(?:.*?-----END \1PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:-]*)",
            re.DOTALL,
        ),
    ),
    ("aws-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[0-9A-Z]{16}\b")),
    (
        "aws-secret",
        re.compile(
            r"(?i)(?P<keep>aws_secret_access_key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
        ),
    ),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})\b")),
    ("gitlab-token", re.compile(r"\bgl(?:pat|dt|rt|ptt|ft|soat)-[A-Za-z0-9_-]{20,}")),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    (
        "openai-key",
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    ),
    ("slack-token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    (
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    ("bearer-token", re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/-]{20,}=*")),
    # scheme://user:password@host: only the credentials go, the host stays.
    (
        "connection-credentials",
        re.compile(r"(?<=://)[^\s:/@'\"\[\]]+:[^\s@'\"/\[\]]+(?=@[A-Za-z0-9.\[\]-])"),
    ),
)

#: ``password=...``, ``client_secret: "..."``, ``API_TOKEN='...'``: a key that
#: ends in one of these words, then ``=`` or ``:``, then a value.
_ASSIGNMENT = re.compile(
    # No key prefix in the pattern (DB_PASSWORD, client_secret): matching
    # from the keyword is several times faster, and only the value is replaced.
    r"(?i)(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)"
    r"[\"']?(?P<sep>\s*[:=]\s*)"
    r"(?:(?P<q>[\"'])(?P<quoted>[^\"'\s]{4,})(?P=q)"
    r"|(?P<bare>[^\s\"'(){}\[\],;]{6,})(?![\w(.]))"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_.]*$")

#: Every marker kind :func:`redact` can write.
KINDS = (*(kind for kind, _ in _PATTERNS), "password")


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact(text: str) -> tuple[str, Mapping[str, int]]:
    """``text`` with every secret found replaced, and the count per kind."""
    counts: dict[str, int] = {}
    for kind, pattern in _PATTERNS:
        # A group named "keep" is context that stays (the key's name).
        template = (r"\g<keep>" if "keep" in pattern.groupindex else "") + _marker(kind)
        text, n = pattern.subn(template, text)
        if n:
            counts[kind] = n
    replaced = 0

    def assignment(m: re.Match[str]) -> str:
        nonlocal replaced
        group = "quoted" if m.group("quoted") is not None else "bare"
        value = m.group(group)
        if value.startswith(_PLACEHOLDER_START):
            return m.group(0)  # ${DB_PASSWORD}, <token>, ***: no secret here
        if group == "bare" and _IDENTIFIER.match(value):
            return m.group(0)  # password=password, token=self.token: code, not a secret
        replaced += 1
        start, end = (i - m.start() for i in m.span(group))
        return m.group(0)[:start] + _marker("password") + m.group(0)[end:]

    text = _ASSIGNMENT.sub(assignment, text)
    if replaced:
        counts["password"] = replaced
    return text, counts
