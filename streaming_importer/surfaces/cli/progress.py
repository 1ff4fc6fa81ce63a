"""Import progress as the command line shows it: a bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streaming_importer.pipeline.monitor import Progress
from streaming_importer.state.counters import Stats

__all__ = ["progress_display", "progress_text"]

logger = logging.getLogger(__name__)


class LogProgress:
    """Progress as a log line every ``interval`` seconds (not on a terminal)."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._last = time.monotonic()

    def update(self, stats: Stats) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        logger.info("progress: %s", progress_text(stats))


def progress_text(stats: Stats) -> str:
    """Files, megabytes done of the total, chunks, tokens/s and the time left."""
    share = stats.bytes_done / stats.bytes_total if stats.bytes_total else 1.0
    rate = stats.bytes_done / max(stats.elapsed(), 1e-9)
    eta = (stats.bytes_total - stats.bytes_done) / rate if rate > 0 else float("inf")
    return (
        f"{stats.files_imported} files, {stats.bytes_done / 1e6:.1f}/"
        f"{stats.bytes_total / 1e6:.1f} MB ({share:.0%}), {stats.chunks} chunks, "
        f"{stats.tokens_per_s():.0f} tokens/s, eta {eta:.0f} s"
    )


class BarProgress:
    """A rich progress bar: files, chunks, tokens/s, ETA."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._task = bar.add_task("importing", total=None, info="")

    def update(self, stats: Stats) -> None:
        self._bar.update(
            self._task,
            total=max(stats.bytes_total, 1),
            completed=stats.bytes_done,
            info=f"{stats.files_imported} files, {stats.chunks} chunks, "
            f"{stats.tokens_per_s():.0f} tokens/s",
        )


@contextmanager
def progress_display(console: Any, once: bool) -> Iterator[Progress]:
    """A bar for ``--once`` on a terminal (``console``), log lines otherwise."""
    if console is None or not once:
        yield LogProgress()
        return
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        yield BarProgress(bar)
