"""The import commands: ``--once``, the daemon (no command) and ``reindex``.

Each holds the state folder's lock for its whole run, loads the checkpoint,
the model and the store, runs the :class:`~streaming_importer.pipeline.lifecycle.Importer`
and returns its exit code.
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anyio

from streaming_importer.embedding.embedder import load_embedder
from streaming_importer.errors import ConfigError, ExitCode, StoreUnavailableError
from streaming_importer.ops import memory
from streaming_importer.ops.config import Settings
from streaming_importer.ops.startup import STOP
from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.pipeline.redact_again import redact_again
from streaming_importer.sources.files import SourceFile, scan_all
from streaming_importer.sources.redact import RULESET
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.archive import Archive
from streaming_importer.state.folder import make_private, state_lock
from streaming_importer.store import Sink, open_sink
from streaming_importer.surfaces.cli.progress import progress_display
from streaming_importer.surfaces.http.services import Surfaces
from streaming_importer.surfaces.report import redaction_status

__all__ = ["import_", "redact_again_command", "reindex"]

logger = logging.getLogger(__name__)


def import_(
    settings: Settings,
    *,
    once: bool,
    console: Any,
    serve_only: bool = False,
    restored: Sequence[SourceFile] = (),
) -> int:
    """Import (``once``: what is new, then exit; else until stopped); the exit code.

    ``serve_only`` (``serve``): import nothing; answer the control port and
    the web page from the state folder's store until stopped. ``restored``:
    transcripts from the archive, read beside the agents' folders (``reindex``).
    """
    if not serve_only and (missing := settings.missing_folder()):
        raise ConfigError(missing)
    settings.log_summary(logging.getLogger("streaming_importer.ops.config"))
    make_private(settings.state_dir)
    with state_lock(settings.state_dir), _early_signals() as early_stop:
        state = ckpt.load(settings.checkpoint_path)
        ckpt.remove_stale_temporaries(settings.checkpoint_path)
        started = time.monotonic()
        embedder = load_embedder(settings)
        _check_baseline(settings)
        sink = open_sink(settings)
        sink.open(embedder.identity)
        _check_redaction(settings, sink)
        logger.info("ready in %.1f s", time.monotonic() - started)
        try:
            with progress_display(console, once) as progress:
                importer = Importer(
                    settings,
                    embedder,
                    sink,
                    state,
                    progress=progress,
                    early_stop=early_stop,
                    scan=_with(restored, settings) if restored else None,
                )

                async def run() -> ExitCode:
                    # The surfaces are built on the event loop: their locks need one.
                    return await importer.run(
                        once=once,
                        handle_signals=True,
                        services=[Surfaces(importer)],
                        serve_only=serve_only,
                    )

                code = anyio.run(run)
            try:
                points: int | None = sink.count()
            except StoreUnavailableError:
                points = None  # the import is done; only the count is missing
        finally:
            sink.close()
    logger.info("summary: %s; %s points in the collection", importer.stats, points)
    if code == ExitCode.MEMORY_CEILING and once:
        logger.warning(
            "stopped at the memory ceiling with everything so far saved: run the same command "
            "again to continue"
        )
    return code


def reindex(settings: Settings, console: Any) -> int:
    """Drop the collection, forget all progress (not the tombstones), import again.

    Transcripts the agents deleted are read from the archive: restored to a
    private folder in the state folder for the run, removed after it.
    """
    make_private(settings.state_dir)
    folder = settings.state_dir / "restored"
    with state_lock(settings.state_dir):
        sink = open_sink(settings)
        try:
            sink.drop()
        finally:
            sink.close()
        state = ckpt.load(settings.checkpoint_path)
        state.files.clear()
        ckpt.save(settings.checkpoint_path, state)
        shutil.rmtree(folder, ignore_errors=True)
        restored = Archive(settings.archive_dir).restore_missing(settings.source_folders, folder)
    logger.info(
        "reindex: collection deleted and progress reset; importing everything again "
        "(%d transcripts from the archive)",
        len(restored),
    )
    try:
        return import_(settings, once=True, console=console, restored=restored)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _with(restored: Sequence[SourceFile], settings: Settings) -> Callable[[], list[SourceFile]]:
    """A scan of the agents' folders, and the transcripts restored from the archive."""
    paths = {f.rel_path for f in restored}

    def scan() -> list[SourceFile]:
        found = [f for f in scan_all(settings.source_folders) if f.rel_path not in paths]
        return sorted([*found, *restored], key=lambda f: f.rel_path)

    return scan


def redact_again_command(settings: Settings) -> int:
    """``redact-again``: stored text under today's redaction rules, re-embedding only changes."""
    make_private(settings.state_dir)
    with state_lock(settings.state_dir):
        embedder = load_embedder(settings)
        sink = open_sink(settings)
        try:
            sink.open(embedder.identity, create=False)
            outcome = redact_again(sink, embedder)
        finally:
            sink.close()
    print(  # noqa: T201
        f"{outcome.checked} points checked, {outcome.changed} re-redacted and embedded again "
        f"({outcome.secrets} secrets) in {outcome.seconds:.1f} s; rules: {RULESET}"
    )
    return ExitCode.OK


def _check_redaction(settings: Settings, sink: Sink) -> None:
    """A new collection records the rule set; one stored under another is named, once."""
    stored = sink.stored_redaction()
    if not settings.redact_secrets or stored == RULESET:
        return
    points = sink.count()
    if stored is None and points == 0:
        sink.record_redaction(RULESET)
        return
    logger.warning(
        "%s (new text follows the new rules)", redaction_status(settings, stored, points)["note"]
    )


def _check_baseline(settings: Settings) -> None:
    """Refuse to start if the model alone is over the ceiling: no crash loop."""
    ceiling = settings.operational_memory_mb
    mem = memory.sample()
    logger.info(
        "memory after loading the model: rss %.0f MiB, anon %.0f MiB (ceiling %s)",
        mem.rss_mb,
        mem.anon_mb,
        f"{ceiling} MiB" if ceiling else "off",
    )
    if ceiling and mem.anon_mb > ceiling:
        raise ConfigError(
            f"OPERATIONAL_MEMORY_MB={ceiling} is below the {mem.anon_mb:.0f} MiB of anonymous "
            "memory the process needs after loading the model; raise it (or set 0 to disable)"
        )


@contextmanager
def _early_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM during start-up: remembered, and the run stops at once.

    The running importer installs its own handlers; these cover the seconds
    before (loading the model), so a stop then is a clean exit, not a kill.
    """
    # A signal caught before this point (startup.py) counts too.
    stop = STOP

    def remember(signum: int, _frame: Any) -> None:
        logger.info("%s during start-up: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, remember) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
