"""Logging set-up, for the command line only (everything else just logs)."""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any

import orjson

__all__ = ["JsonFormatter", "setup_logging"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


def setup_logging(level: str, log_format: str, *, quiet: bool) -> Any:
    """Configure logging; returns the rich console on a terminal, else None.

    ``log_format`` json writes one JSON object per line, also on a terminal.
    ``quiet`` (commands that print results) keeps INFO lines out unless
    ``LOG_LEVEL`` asks for more.
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.WARNING if quiet and level == "INFO" else level)
    for noisy in ("httpx", "httpcore", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        return None
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(stderr=True)
        root.addHandler(RichHandler(console=console, show_path=False))
        return console
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return None
