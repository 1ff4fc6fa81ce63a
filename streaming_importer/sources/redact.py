"""Secrets out of text before it is embedded or stored.

Transcripts routinely hold keys and passwords that a user pasted or a tool
printed (``cat .env``, ``env``, a failing ``curl``). :func:`redact` replaces
each one with a typed marker, ``[REDACTED:<kind>]``, so the text stays
readable and searchable ("the session where the AWS key leaked") while the
secret itself never reaches the model, the store, a search result or an agent.

The rules are detect-secrets' (Yelp's maintained rule set, pinned: its
version is part of :data:`RULESET`): its regular-expression detectors for
token formats and its keyword detector for assignments (``SECRET_KEY=...``,
``"password": "..."``), applied by position so only the secret is replaced.
Left out of it: the entropy detectors (a git SHA, a UUID or base64 image data
is not a secret) and the public-IP one; and the IBM Cloud, IBM COS, Cloudant
and SoftLayer detectors, keyword patterns the keyword rule covers, which cost
9.5 s of CPU over the 17.6 MB first corpus. Our own rules (:data:`_OWN`) add
what that rule set does not know: whole private-key blocks, newer token
formats (Anthropic, OpenAI projects, Google, Hugging Face, npm, fine-grained
GitHub), HTTP auth headers, ``mysql -p...``, ``curl -u user:pass`` and
``.netrc`` lines, and filters that keep code (``password = get_password()``,
``${DB_PASSWORD}``, a URL with no credentials) as it is.

Pure functions, no I/O (tests/sources/test_redact.py holds both lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib.metadata import version

from detect_secrets.plugins import keyword as ds_keyword
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

__all__ = ["KINDS", "RULESET", "redact"]

#: Bumped whenever our own rules change what is redacted.
_OWN_RULES_VERSION = 1
#: What decides what is redacted: stored with the collection, so text stored
#: under an older rule set is known (``status``, ``redact-again``).
RULESET = f"detect-secrets {version('detect-secrets')}; own rules {_OWN_RULES_VERSION}"

#: Our own rules, run first: (kind, gate, pattern). A group named ``secret`` is
#: what is replaced (the rest of the match stays); without one, the whole match.
#: The gate is a lower-case string the text must hold for the pattern to run at
#: all: most texts hold none, and a substring test costs far less than a scan.
_OWN: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "private-key",
        "-----begin",
        re.compile(
            r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"
            # To its END line, or (a tool result cut short) to the end of the body.
            r"(?:.*?-----END \1PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:-]*)",
            re.DOTALL,
        ),
    ),
    ("anthropic-key", "sk-ant-", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    (
        "openai-key",
        "sk-",
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    ),
    ("github-token", "github_pat_", re.compile(r"\bgithub_pat_\w{22,255}")),
    ("google-api-key", "aiza", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    ("huggingface-token", "hf_", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("npm-token", "npm_", re.compile(r"\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
    ("slack-token", "xox", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    # An Authorization header's credentials, and a bearer token anywhere (one
    # with a digit in it: "bearer of bad news" is prose).
    (
        "http-auth",
        "authorization",
        re.compile(
            r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?(?:basic|bearer|token|digest)\s+"
            r"(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"
        ),
    ),
    (
        "http-auth",
        "bearer",
        re.compile(r"(?i)\bbearer\s+(?P<secret>(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{20,}=*)"),
    ),
    (
        "password",
        "-p",
        re.compile(
            r"(?:^|\s)(?:mysql|mysqldump|mariadb)\b[^\n]*?\s-p(?P<secret>[^\s'\"]{3,}|'[^'\n]+'|\"[^\"\n]+\")"
        ),
    ),
    (
        "password",
        "curl",
        re.compile(r"\bcurl\b[^\n]*?\s(?:-u|--user)\s+['\"]?[^\s:'\"]+:(?P<secret>[^\s'\"]+)"),
    ),
    # .netrc: machine HOST login USER password SECRET, on one line or several.
    (
        "password",
        "password",
        re.compile(r"\b(?:machine|login)\s+\S+\s+(?:login\s+\S+\s+)?password\s+(?P<secret>\S+)"),
    ),
    # scheme://user:password@host, also with an empty user (redis://:pw@host).
    (
        "connection-credentials",
        "://",
        re.compile(r"://[^\s:/@'\"\[\]]*:(?P<secret>[^\s@'\"/\[\]]+)(?=@[A-Za-z0-9.\[\]-])"),
    ),
)

#: detect-secrets' token detectors, in its own words (``secret_type``).
_DETECTORS: tuple[RegexBasedDetector, ...] = (
    AWSKeyDetector(),
    AzureStorageKeyDetector(),
    BasicAuthDetector(),
    DiscordBotTokenDetector(),
    GitHubTokenDetector(),
    GitLabTokenDetector(),
    JwtTokenDetector(),
    MailchimpDetector(),
    NpmDetector(),
    OpenAIDetector(),
    PypiTokenDetector(),
    SendGridDetector(),
    SlackDetector(),
    SquareOAuthDetector(),
    StripeDetector(),
    TelegramBotTokenDetector(),
    TwilioKeyDetector(),
)
#: detect-secrets' keywords, and three it lacks: ``API_TOKEN=...``,
#: ``ACCESS_KEY=...``, ``credentials: ...``.
_KEYWORDS = ds_keyword.DENYLIST_REGEX.replace(
    "|".join(ds_keyword.DENYLIST),
    "|".join((*ds_keyword.DENYLIST, "token", "access_?key", "credential")),
)


def _with_keywords(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """detect-secrets' ``pattern`` (built from its keyword list) over :data:`_KEYWORDS`."""
    return re.compile(pattern.pattern.replace(ds_keyword.DENYLIST_REGEX, _KEYWORDS), pattern.flags)


#: detect-secrets' keyword assignments: unquoted values (config files, shells)
#: and quoted ones (code), each pattern with the group of the value.
_KEYWORD_PATTERNS = tuple(
    (_with_keywords(pattern), group)
    for pattern, group in (
        *ds_keyword.CONFIG_DENYLIST_REGEX_TO_GROUP.items(),
        *ds_keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP.items(),
    )
)
#: What every keyword holds, lower-case: a text with none of them has no assignment.
_KEYWORD_STEMS = ("key", "pass", "pwd", "secret", "token", "credential", "contrase")
#: Lines worth the keyword patterns: those holding one of the keywords.
_KEYWORD_LINE = re.compile(_KEYWORDS, re.IGNORECASE)

# Values after a keyword that are code or a placeholder, not a secret.
_PLACEHOLDER_START = ("$", "<", "{", "%", "*", "xxx", "XXX", "...", "[REDACTED")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_.]*(?:\(.*\))?|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
#: Words that mark a value as a stand-in: ``your-key-here``, ``example-token``.
_STAND_IN = re.compile(
    r"(?i)(?:^|[-_.])(?:your|here|example|placeholder|changeme|dummy|redacted)(?:$|[-_.])"
)
_CALL = re.compile(r"[A-Za-z_][\w.]*\(.*")
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^@\s]*")
_NOT_SECRET = frozenset({"true", "false", "null", "none", "nil", "undefined", "required"})
#: Names that hold something about a secret, not the secret.
_NOT_SECRET_KEYS = (
    "_name", "_id", "_url", "_uri", "_path", "_file", "_dir", "_length", "_len",
    "_count", "_size", "_type", "_field", "_policy", "_ttl", "_env", "_var", "_hint",
)  # fmt: skip
_WORD = re.compile(r"\w*")


def _kind(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


#: Every marker kind :func:`redact` can write.
KINDS = tuple(
    dict.fromkeys(
        [kind for kind, _, _ in _OWN]
        + [_kind(d.secret_type) for d in _DETECTORS]
        + ["secret-keyword"]
    )
)


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def redact(text: str) -> tuple[str, Mapping[str, int]]:
    """``text`` with every secret found replaced, and the count per kind."""
    counts: dict[str, int] = {}

    def replace(kind: str, spans: list[tuple[int, int]]) -> None:
        nonlocal text
        # Right to left, so earlier spans keep their place; overlaps merged.
        last = len(text) + 1
        done = 0
        for start, end in sorted(set(spans), reverse=True):
            if end > last:
                continue
            text = text[:start] + _marker(kind) + text[end:]
            last = start
            done += 1
        if done:
            counts[kind] = counts.get(kind, 0) + done

    lowered = text.lower()
    for kind, gate, pattern in _OWN:
        if gate in lowered:
            replace(kind, [_span(m) for m in pattern.finditer(text)])
    for detector in _DETECTORS:
        kind = _kind(detector.secret_type)
        replace(kind, [s for p in detector.denylist for s in _group_spans(p, text)])
    if any(stem in lowered for stem in _KEYWORD_STEMS):
        replace("secret-keyword", list(_keyword_spans(text)))
    return text, counts


def _span(m: re.Match[str]) -> tuple[int, int]:
    return m.span("secret") if "secret" in m.re.groupindex else m.span()


def _group_spans(pattern: re.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
    """Where ``pattern`` finds a secret: its first group that matched, else the whole match."""
    for m in pattern.finditer(text):
        groups = [i for i in range(1, (pattern.groups or 0) + 1) if m.group(i)]
        start, end = m.span(groups[0]) if groups else m.span()
        if end > start and "[REDACTED:" not in m.group(0):
            yield start, end


def _keyword_spans(text: str) -> Iterator[tuple[int, int]]:
    """Values assigned to secret-sounding names, line by line (as detect-secrets scans).

    detect-secrets reads config files, where an unquoted value runs to the end
    of the line; in a transcript it ends at the first space (prose or code
    follows), and the rest of the line is searched again.
    """
    position = 0
    for line in text.splitlines(keepends=True):
        if _KEYWORD_LINE.search(line):
            for pattern, group in _KEYWORD_PATTERNS:
                at = 0
                while (m := pattern.search(line, at)) is not None:
                    start, end = m.span(group)
                    if end <= start:
                        break
                    if start == 0 or line[start - 1] not in "'\"`":
                        end = _unquoted_end(line, start)
                    if end > start and _is_secret(line[start:end], _key(line, m.start())):
                        yield position + start, position + end
                    at = max(end, m.start() + 1)
        position += len(line)


def _unquoted_end(line: str, start: int) -> int:
    """Where an unquoted value from ``start`` ends: at a space, a quote, a comma or a
    semicolon, and before the brackets or backslash that close code around it."""
    end = start
    while end < len(line) and not line[end].isspace() and line[end] not in ",;'\"`":
        end += 1
    while end > start and line[end - 1] in ")]}\\":
        end -= 1
    return end


def _key(line: str, at: int) -> str:
    """The whole name a keyword match starts in (``CHUNK_MAX_TOKENS`` for ``TOKENS``)."""
    start = at
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    return line[start:at] + (_WORD.match(line, at).group())  # type: ignore[union-attr]


def _is_secret(value: str, key: str) -> bool:
    """Whether a value assigned to ``key`` is a secret, not code, a stand-in or a name."""
    if key.lower().endswith(_NOT_SECRET_KEYS):
        return False  # password_reset_url, secret_name, PASSWORD_MIN_LENGTH
    value = value.strip()
    if len(value) < 4 or value.startswith(_PLACEHOLDER_START) or "[REDACTED:" in value:
        return False
    if value.lower() in _NOT_SECRET or value.isdigit():
        return False
    if _IDENTIFIER.fullmatch(value) or _CALL.fullmatch(value):
        return False  # password=password, token=self.token, get_password(), env.X: code
    if _STAND_IN.search(value):
        return False
    return not _PLAIN_URL.fullmatch(value)  # a URL with no credentials in it
