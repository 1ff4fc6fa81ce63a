"""Parsers of setting values: text in, a value out, or ValueError saying why. Pure.

:class:`~streaming_importer.ops.config.Settings` names the variable and the value
around the reason; durations are also what ``--since``, ``--until`` and
``--recent`` take.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "LOG_LEVELS",
    "SEARCH_MODES",
    "SOURCE_NAMES",
    "is_duration",
    "is_loopback",
    "mask_url",
    "parse_bool",
    "parse_duration",
    "parse_globs",
    "parse_log_format",
    "parse_log_level",
    "parse_name",
    "parse_nonempty",
    "parse_port",
    "parse_search_mode",
    "parse_sources",
    "parse_url",
    "parse_web_port",
]

#: How a search ranks: both rankings fused, the model alone, BM25 alone.
SEARCH_MODES = ("hybrid", "dense", "bm25")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_nonempty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def parse_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError("use 1-64 letters, digits, '_', '-' or '.'")
    return value


def parse_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected http://host:port or https://host:port")
    return value.rstrip("/")


def mask_url(url: str) -> str:
    """``url`` with any user name and password in it replaced by ``***``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@", r"\1***@", url)


def parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def is_duration(text: str) -> bool:
    """Whether ``text`` has the form of a :func:`parse_duration` value."""
    return DURATION.match(text) is not None


def parse_duration(text: str) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"90s"`` -> seconds."""
    m = DURATION.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration (use e.g. 30m, 12h, 7d, 2w)")
    return float(m.group(1)) * UNIT_S[m.group(2)]


def parse_globs(value: str) -> tuple[str, ...]:
    return tuple(g.strip() for g in value.split(",") if g.strip())


#: Names ``SOURCES`` accepts, in the order they are read.
SOURCE_NAMES = ("claude", "codex", "gemini")


def parse_sources(value: str) -> tuple[str, ...]:
    names = {n.strip().lower() for n in value.split(",") if n.strip()}
    unknown = names - set(SOURCE_NAMES)
    if unknown or not names:
        raise ValueError(f"expected a comma-separated list of {', '.join(SOURCE_NAMES)}")
    return tuple(n for n in SOURCE_NAMES if n in names)


def parse_web_port(value: str) -> int | None:
    """A port, ``0`` for any free one, or ``off``."""
    return None if value.lower() == "off" else parse_port(value)


def parse_search_mode(value: str) -> str:
    lowered = value.lower()
    if lowered not in SEARCH_MODES:
        raise ValueError(f"expected one of {', '.join(SEARCH_MODES)}")
    return lowered


def parse_port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError("must be between 0 and 65535 (0: any free port)")
    return port


def parse_log_format(value: str) -> str:
    lowered = value.lower()
    if lowered not in ("text", "json"):
        raise ValueError("expected text or json")
    return lowered


def parse_log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback: ``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
