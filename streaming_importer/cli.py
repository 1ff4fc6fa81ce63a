"""Command line: ``python -m streaming_importer [--once] | search QUERY | status``.

Parses flags, sets up logging (the only place that does), builds the
settings, runs the app and maps the outcome to an exit code.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson

from streaming_importer import __version__, memory
from streaming_importer import checkpoint as ckpt
from streaming_importer.app import Forget, Importer, Stats
from streaming_importer.config import SEARCH_MODES, Settings, parse_duration
from streaming_importer.control import query_running
from streaming_importer.errors import (
    ConfigError,
    ExitCode,
    ImporterError,
    StartupError,
    StoreLockedError,
    StoreUnavailableError,
)
from streaming_importer.lexical import Bm25Encoder
from streaming_importer.report import status_report
from streaming_importer.search import (
    SearchQuery,
    candidates,
    find,
    parse_kinds,
    parse_when,
    search,
)
from streaming_importer.sink import Sink, check_identity, check_schema, open_sink
from streaming_importer.startup import (
    STOP,
    catch_stop_signals,
    reexec_with_arena_limit,
    release_stop_signals,
)

__all__ = ["main"]

logger = logging.getLogger("streaming_importer")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(environ)
    except ConfigError as e:
        print(f"streaming_importer: configuration error: {e}", file=sys.stderr)  # noqa: T201
        return ExitCode.CONFIG
    if args.command is not None:
        # Not an import: Ctrl-C and SIGTERM act at once, as usual.
        release_stop_signals()
        if STOP.is_set():
            return 128 + signal.SIGINT
    quiet = args.command in ("search", "status", "forget", "mcp")
    console = _setup_logging(settings.log_level, settings.log_format, quiet=quiet)
    try:
        if args.command == "search":
            return _search(settings, args)
        if args.command == "status":
            return _status(settings, args)
        if args.command == "forget":
            return _forget(settings, args)
        if args.command == "reindex":
            return _reindex(settings, console)
        if args.command == "mcp":
            from streaming_importer.mcp_server import serve_stdio

            return serve_stdio(settings)
        return _import(settings, once=args.once, console=console)
    except ImporterError as e:
        logger.error("%s", e)
        return e.exit_code
    except BrokenPipeError:
        # The reader went away (``search ... | head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    except Exception:
        logger.exception("unexpected error")
        return ExitCode.ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streaming_importer",
        description="Import Claude Code transcripts into Qdrant and search them. "
        "Settings come from environment variables (see README).",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--once", action="store_true", help="import what is not yet imported, then exit"
    )
    sub = parser.add_subparsers(dest="command")
    search = sub.add_parser(
        "search",
        help="search the imported conversations",
        description="Search the imported conversations: one result per session, its best "
        "chunk with the text around it. Times: a date (2025-06-01), a date and time "
        "(2025-06-01T14:30, local unless a zone is given) or a duration back from now "
        "(30m, 12h, 7d, 2w).",
    )
    search.add_argument("query")
    search.add_argument(
        "--limit", type=int, default=10, help="sessions to show, best chunk each (default 10)"
    )
    search.add_argument("--project", help="a project path, or just its last folder name")
    search.add_argument("--session", help="only this session id")
    search.add_argument(
        "--kind",
        action="append",
        default=[],
        help="only these kinds (repeat or comma-separate): prompt, answer, thinking, "
        "tool_call, tool_result, summary",
    )
    search.add_argument("--since", help="only messages at or after this time")
    search.add_argument("--until", help="only messages before this time (a date: its end)")
    recent = search.add_mutually_exclusive_group()
    recent.add_argument(
        "--recent",
        nargs="?",
        const="",
        metavar="HALF_LIFE",
        help="weigh recent messages up; the bonus halves every HALF_LIFE "
        "(default SEARCH_HALF_LIFE, 30d)",
    )
    recent.add_argument(
        "--no-recent", action="store_true", help="pure similarity (overrides SEARCH_RECENT)"
    )
    search.add_argument(
        "--mode",
        choices=SEARCH_MODES,
        help="hybrid: exact terms (BM25) and meaning (the model), fused; default SEARCH_MODE "
        "(hybrid)",
    )
    search.add_argument("--json", action="store_true", help="print a JSON array")
    forget = sub.add_parser(
        "forget",
        help="delete a session's or a project's points and never import them again",
    )
    which = forget.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", help="a session id")
    which.add_argument("--project", help="a project path, or just its last folder name")
    sub.add_parser(
        "reindex",
        help="delete the collection and import everything again (after a model change, "
        "or from an older version)",
    )
    sub.add_parser("mcp", help="serve search to Claude Code over MCP (stdio)")
    status = sub.add_parser("status", help="what is imported and what is pending")
    status.add_argument("--json", action="store_true", help="print a JSON object")
    return parser


# -- import ----------------------------------------------------------------


def _import(settings: Settings, *, once: bool, console: Any) -> int:
    if not settings.conversations_dir.is_dir():
        raise ConfigError(
            f"CONVERSATIONS_DIR={str(settings.conversations_dir)!r} does not exist or is not a "
            "folder"
        )
    settings.log_summary(logging.getLogger("streaming_importer.config"))
    _make_state_dir(settings.state_dir)
    with _state_lock(settings.state_dir), _early_signals() as early_stop:
        state = ckpt.load(settings.checkpoint_path)
        ckpt.remove_stale_temporaries(settings.checkpoint_path)
        started = time.monotonic()
        from streaming_importer.embed import load_embedder

        embedder = load_embedder(settings)
        _check_baseline(settings)
        sink = open_sink(settings)
        sink.open(embedder.identity)
        logger.info("ready in %.1f s", time.monotonic() - started)
        try:
            with _progress(console, once) as progress:
                importer = Importer(
                    settings, embedder, sink, state, progress=progress, early_stop=early_stop
                )
                code = anyio.run(
                    lambda: importer.run(once=once, handle_signals=True, serve_control=True)
                )
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


def run() -> None:
    """The program's entry point (``python -m streaming_importer``, ``streaming-importer``)."""
    reexec_with_arena_limit()  # a no-op under ``python -m``: __main__ did it first
    catch_stop_signals()
    if STOP.is_set():  # stopped before it even started
        raise SystemExit(ExitCode.OK)
    raise SystemExit(main())


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
def _state_lock(state_dir: Path) -> Iterator[None]:
    """One importer per state folder: an exclusive flock held for its lifetime."""
    fd = os.open(state_dir / "importer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise StartupError(
                f"another importer is running with STATE_DIR={str(state_dir)!r}"
            ) from e
        yield
    finally:
        os.close(fd)


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


class _LogProgress:
    """Progress as a log line every ``interval`` seconds (not on a terminal)."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._last = time.monotonic()

    def update(self, stats: Stats) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        logger.info("progress: %s", _progress_text(stats))


def _progress_text(stats: Stats) -> str:
    share = stats.bytes_done / stats.bytes_total if stats.bytes_total else 1.0
    rate = stats.bytes_done / max(stats.elapsed(), 1e-9)
    eta = (stats.bytes_total - stats.bytes_done) / rate if rate > 0 else float("inf")
    return (
        f"{stats.files_imported} files, {stats.bytes_done / 1e6:.1f}/"
        f"{stats.bytes_total / 1e6:.1f} MB ({share:.0%}), {stats.chunks} chunks, "
        f"{stats.tokens_per_s():.0f} tokens/s, eta {eta:.0f} s"
    )


class _BarProgress:
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
def _progress(console: Any, once: bool) -> Iterator[Any]:
    if console is None or not once:
        yield _LogProgress()
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        yield _BarProgress(bar)


def _make_state_dir(path: Path) -> None:
    """The state folder holds conversation text: created private (0700)."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning(
                "STATE_DIR=%s is open to other users (mode %o) and holds conversation text; "
                "consider chmod 700",
                path,
                mode,
            )


class _JsonFormatter(logging.Formatter):
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


def _setup_logging(level: str, log_format: str, *, quiet: bool) -> Any:
    """Configure logging; returns the rich console on a terminal, else None.

    ``log_format`` json writes one JSON object per line, also on a terminal.
    """
    root = logging.getLogger()
    root.handlers.clear()
    # search and status print results; their logs stay quiet unless asked.
    root.setLevel(logging.WARNING if quiet and level == "INFO" else level)
    for noisy in ("httpx", "httpcore", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
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


# -- search and status -----------------------------------------------------


def _search_query(settings: Settings, args: argparse.Namespace) -> SearchQuery:
    """The command line's search, with times resolved now (also for a running importer)."""
    now = datetime.datetime.now(datetime.UTC)
    half_life: float | None = None
    if args.recent is not None or (settings.search_recent and not args.no_recent):
        half_life = settings.search_half_life_s
        if args.recent:
            try:
                half_life = parse_duration(args.recent)
            except ValueError as e:
                raise ConfigError(f"--recent {e}") from None
    try:
        return SearchQuery(
            text=args.query,
            limit=args.limit,
            project=args.project,
            session=args.session,
            kinds=parse_kinds(",".join(args.kind)),
            since=parse_when(args.since, now) if args.since else None,
            until=parse_when(args.until, now, end=True) if args.until else None,
            half_life_s=half_life,
            mode=args.mode or settings.search_mode,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _search(settings: Settings, args: argparse.Namespace) -> int:
    query = _search_query(settings, args)
    try:
        hits = _search_store(settings, query)
    except StoreLockedError as locked:
        hits = _ask_running_importer(settings, "/search", query.to_params(), locked)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(hits, option=orjson.OPT_INDENT_2) + b"\n")
        return ExitCode.OK
    if not hits:
        print("no hits")  # noqa: T201
    for rank, hit in enumerate(hits, 1):
        print(_format_hit(rank, hit, candidates(query.limit)))  # noqa: T201
    return ExitCode.OK


def _format_hit(rank: int, p: Mapping[str, Any], fetched: int) -> str:
    """One result as a few lines: where and when, the match in its context, how to resume."""
    when = (p.get("timestamp") or "")[:16].replace("T", " ")
    branch = f"  ({p['git_branch']})" if p.get("git_branch") else ""
    more = f", {p['matches']} of the top {fetched} chunks" if p.get("matches", 1) > 1 else ""
    lines = [
        f"{rank:>2}. {p['score']:.3f}  {when or '-'}  {p.get('project') or '-'}{branch}",
        f"    session {p.get('session_id')}  [{p.get('kind')}{more}]",
    ]
    before = _clip(p.get("context_before", ""), 160, keep_end=True)
    after = _clip(p.get("context_after", ""), 160)
    text = _clip(p.get("text", ""), 400)
    lines.append("    " + " ".join(t for t in (before, f">>> {text} <<<", after) if t))
    lines.append(f"    resume: {p.get('resume')}")
    return "\n".join(lines)


def _clip(text: Any, n: int, *, keep_end: bool = False) -> str:
    flat = " ".join(str(text or "").split())
    if len(flat) <= n:
        return flat
    return "…" + flat[-n + 1 :] if keep_end else flat[: n - 1] + "…"


def _search_store(settings: Settings, query: SearchQuery) -> list[dict[str, Any]]:
    from streaming_importer.embed import load_embedder

    sink = open_sink(settings)
    try:
        # Open the store before loading the model: if a running importer
        # holds it, asking that importer is faster than loading a model.
        sink.open(None, create=False)
        encoder = Bm25Encoder()
        if query.mode == "bm25":  # no model needed
            check_schema(sink.stored_identity(), "the collection")
            hits = find(sink, encoder, query, None)
        else:
            embedder = load_embedder(settings)
            check_identity(sink.stored_identity(), embedder.identity, "the collection")
            hits = search(embedder, encoder, sink, query)
    finally:
        sink.close()
    return [h.to_json() for h in hits]


def _ask_running_importer(
    settings: Settings, path: str, params: dict[str, str], locked: StoreLockedError
) -> Any:
    try:
        return query_running(settings.runtime_path, path, params)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    except OSError as e:
        raise StoreLockedError(f"{locked}, and no running importer answers ({e})") from e


def _forget(settings: Settings, args: argparse.Namespace) -> int:
    forget = Forget(session=args.session, project=args.project)
    what = f"session {args.session}" if args.session else f"project {args.project}"
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _state_lock(settings.state_dir):
            sink = open_sink(settings)
            try:
                sink.open(None, create=False)
                forget.delete_points(sink, settings.source_name)
            finally:
                sink.close()
            state = ckpt.load(settings.checkpoint_path)
            if args.session:
                state.forgotten.sessions.add(args.session)
            else:
                state.forgotten.projects.add(args.project)
            ckpt.save(settings.checkpoint_path, state)
    except StartupError as running:
        params = {"session": args.session or "", "project": args.project or ""}
        _ask_running_importer(settings, "/forget", params, StoreLockedError(str(running)))
    print(f"forgot {what}: its points are deleted and it will not be imported again")  # noqa: T201
    return ExitCode.OK


def _reindex(settings: Settings, console: Any) -> int:
    """Drop the collection, forget all progress (not the tombstones), import again."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with _state_lock(settings.state_dir):
        sink = open_sink(settings)
        try:
            sink.drop()
        finally:
            sink.close()
        state = ckpt.load(settings.checkpoint_path)
        state.files.clear()
        ckpt.save(settings.checkpoint_path, state)
    logger.info("reindex: collection deleted and progress reset; importing everything again")
    return _import(settings, once=True, console=console)


def _status(settings: Settings, args: argparse.Namespace) -> int:
    sink: Sink = open_sink(settings)
    try:
        model = sink.stored_identity()
        sink.open(None, create=False)
        points = sink.count()
        data = status_report(settings, ckpt.load(settings.checkpoint_path), points, model)
        data["running"] = False
    except StoreLockedError as locked:
        data = _ask_running_importer(settings, "/status", {}, locked)
    finally:
        sink.close()
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        return ExitCode.OK
    for key, value in data.items():
        if key == "run":
            continue
        if key == "model" and isinstance(value, dict):
            value = f"{value.get('name')} ({value.get('dim')} dims)"
        if key == "health" and isinstance(value, dict):
            mem = value["memory"]
            share = f" = {mem['used']:.0%} of {mem['ceiling_mb']} MiB" if mem["used"] else ""
            print(f"{'health':>18}: {value['status']} {'; '.join(value['problems'])}")  # noqa: T201
            value = f"{mem['level']}: anon {mem['anon_mb']:.0f} MiB{share}, rss {mem['rss_mb']:.0f}"
            key = "memory"
        print(f"{key:>18}: {value}")  # noqa: T201
    return ExitCode.OK
