"""Command line: ``python -m streaming_importer [--once] | search | status | forget | ...``.

Parses flags, sets up logging (the only place that does,
:mod:`~streaming_importer.ops.logs`), builds the settings, runs the command and
maps the outcome to an exit code. The commands live by family: importing in
:mod:`~streaming_importer.surfaces.cli.importing`, reading and deleting what is stored in
:mod:`~streaming_importer.surfaces.cli.querying`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from streaming_importer import __version__
from streaming_importer.errors import ConfigError, ExitCode, ImporterError
from streaming_importer.ops.config import SEARCH_MODES, Settings
from streaming_importer.ops.logs import setup_logging
from streaming_importer.ops.startup import (
    STOP,
    catch_stop_signals,
    reexec_with_arena_limit,
    release_stop_signals,
)
from streaming_importer.search.query import AGENT_NAMES
from streaming_importer.surfaces.cli import importing as cli_import
from streaming_importer.surfaces.cli import querying as cli_query
from streaming_importer.surfaces.cli.doctor import doctor_command
from streaming_importer.surfaces.cli.exporting import export_command
from streaming_importer.surfaces.cli.hooking import hooks_command
from streaming_importer.surfaces.export import FORMATS
from streaming_importer.surfaces.hooks.install import AGENTS as HOOK_AGENTS
from streaming_importer.surfaces.hooks.recall import main as recall

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
    quiet = args.command in ("search", "status", "forget", "mcp", "web", "export", "hooks")
    if args.command == "recall":
        return recall(["--state-dir", args.state_dir] if args.state_dir else [])
    console = setup_logging(settings.log_level, settings.log_format, quiet=quiet)
    try:
        if args.command == "search":
            return cli_query.search_command(settings, args)
        if args.command == "status":
            return cli_query.status(settings, args)
        if args.command == "forget":
            return cli_query.forget(settings, args)
        if args.command == "web":
            return cli_query.web(settings, args)
        if args.command == "export":
            return export_command(settings, args)
        if args.command == "hooks":
            return hooks_command(settings, args)
        if args.command == "doctor":
            return doctor_command(settings, args)
        if args.command == "reindex":
            return cli_import.reindex(settings, console)
        if args.command == "redact-again":
            return cli_import.redact_again_command(settings)
        if args.command == "mcp":
            # Imported here: the MCP SDK takes half a second to import, which
            # no other command should pay.
            from streaming_importer.surfaces.mcp import serve_stdio

            return serve_stdio(settings)
        if args.command == "serve":
            return cli_import.import_(settings, once=False, console=console, serve_only=True)
        return cli_import.import_(settings, once=args.once, console=console)
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
        "Settings come from environment variables (see docs/configuration.md).",
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
        "--agent",
        choices=AGENT_NAMES,
        help="only what this agent's sessions hold (default: every agent read)",
    )
    search.add_argument(
        "--source",
        help="only sessions written on this machine (its importer's SOURCE_NAME; "
        "default: every machine writing to the collection)",
    )
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
    sub.add_parser(
        "redact-again",
        help="redact the stored text again under this version's rules, re-embedding only "
        "what changed (stop the importer first)",
    )
    sub.add_parser("mcp", help="serve search to Claude Code over MCP (stdio)")
    sub.add_parser(
        "serve",
        help="answer search and the web page from STATE_DIR without importing (when no "
        "importer runs); `web` prints the page's link",
    )
    web = sub.add_parser(
        "web", help="print (and open) a one-time link to the running importer's web page"
    )
    web.add_argument("--no-open", action="store_true", help="print the link only")
    status = sub.add_parser("status", help="what is imported and what is pending")
    status.add_argument("--json", action="store_true", help="print a JSON object")
    export = sub.add_parser(
        "export", help="a session as Markdown or one self-contained HTML file (redacted)"
    )
    export.add_argument("session", help="the session id")
    export.add_argument("--format", choices=FORMATS, default="markdown")
    export.add_argument(
        "--output", "-o", help="the file to write (default: session-<id>.md/.html; - for stdout)"
    )
    doctor = sub.add_parser("doctor", help="check everything, and say how to fix what is wrong")
    doctor.add_argument("--json", action="store_true", help="print a JSON object")
    recall_cmd = sub.add_parser(
        "recall",
        help="what an agent's hook runs: the hook's JSON on stdin, its answer on stdout "
        "(see `hooks install`)",
    )
    recall_cmd.add_argument("--state-dir", help="the importer's STATE_DIR (default: STATE_DIR)")
    hooks = sub.add_parser(
        "hooks",
        help="add recall to (or remove it from) Claude Code's, Codex CLI's and Gemini CLI's "
        "hooks: shows the change, writes it only with --write",
    )
    hooks.add_argument("action", choices=("install", "uninstall"))
    hooks.add_argument(
        "--agent", action="append", choices=HOOK_AGENTS, help="only this agent (repeatable)"
    )
    hooks.add_argument("--scope", choices=("user", "project"), default="user")
    hooks.add_argument("--project", help="the project folder for --scope project (default: .)")
    hooks.add_argument("--write", action="store_true", help="write the change (with a backup)")
    return parser


def run() -> None:
    """The program's entry point (``python -m streaming_importer``, ``streaming-importer``)."""
    reexec_with_arena_limit()  # a no-op under ``python -m``: __main__ did it first
    catch_stop_signals()
    # Everything the program creates (store, checkpoint, quarantine, lock,
    # socket, logs) holds conversation text or guards it: owner-only, whatever
    # the folder's or the shell's defaults.
    os.umask(0o077)
    if STOP.is_set():  # stopped before it even started
        raise SystemExit(ExitCode.OK)
    raise SystemExit(main())
