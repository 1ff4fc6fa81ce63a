"""The commands that read or delete what is stored: ``search``, ``status``, ``forget``.

Each opens the store itself; while an importer runs (the store is locked),
it asks that importer on its control port instead
(:mod:`~streaming_importer.surfaces.http.control`).
"""

from __future__ import annotations

import argparse
import datetime
import html
import sys
import urllib.parse
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import load_embedder
from streaming_importer.embedding.query_model import load_query_model
from streaming_importer.errors import ConfigError, ExitCode, StartupError, StoreLockedError
from streaming_importer.ops.config import Settings
from streaming_importer.ops.values import parse_duration
from streaming_importer.pipeline.items import Forget
from streaming_importer.search.find import find
from streaming_importer.search.query import SearchQuery, candidates, parse_kinds, parse_when
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.archive import Archive
from streaming_importer.state.folder import make_private, state_lock, write_private
from streaming_importer.store import Sink, check_identity, check_schema, open_sink
from streaming_importer.surfaces.http.client import query_running
from streaming_importer.surfaces.report import in_units, status_report, store_counts

__all__ = ["forget", "search_command", "status", "web"]


def search_command(settings: Settings, args: argparse.Namespace) -> int:
    """``search QUERY``: the best sessions, as text or JSON."""
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
    elif hits[0].get("confident") is False:
        print("no confident match; closest:")  # noqa: T201
    for rank, hit in enumerate(hits, 1):
        print(_format_hit(rank, hit, candidates(query.limit)))  # noqa: T201
    return ExitCode.OK


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
            agent=args.agent,
            source=args.source,
            kinds=parse_kinds(",".join(args.kind)),
            since=parse_when(args.since, now) if args.since else None,
            until=parse_when(args.until, now, end=True) if args.until else None,
            half_life_s=half_life,
            mode=args.mode or settings.search_mode,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _format_hit(rank: int, p: Mapping[str, Any], fetched: int) -> str:
    """One result as a few lines: where and when, what was asked, the lines that
    answer, the match in its context, what the exchange concluded, how to resume."""
    when = (p.get("timestamp") or "")[:16].replace("T", " ")
    branch = f"  ({p['git_branch']})" if p.get("git_branch") else ""
    more = f", {p['matches']} of the top {fetched} chunks" if p.get("matches", 1) > 1 else ""
    lines = [
        f"{rank:>2}. {p['score']:.3f}  {when or '-'}  {p.get('project') or '-'}{branch}",
        f"    session {p.get('session_id')}  [{p.get('kind')}{more}]{_elsewhere(p)}",
    ]
    before = _clip(p.get("context_before", ""), 160, keep_end=True)
    after = _clip(p.get("context_after", ""), 160)
    text = _clip(p.get("text", ""), 400)
    if p.get("prompt"):
        lines.append(f"    asked: {_clip(p['prompt'], 200)}")
    for h in p.get("highlight") or ():
        at = (h.get("timestamp") or "")[:16].replace("T", " ")
        place = ", ".join(filter(None, (h.get("kind"), at)))
        lines.append(f"    » {_clip(h.get('text'), 320)}  ({place})")
    lines.append("    " + " ".join(t for t in (before, f">>> {text} <<<", after) if t))
    if p.get("conclusion"):
        lines.append(f"    concluded: {_clip(p['conclusion'], 300)}")
    lines.append(f"    resume: {p.get('resume')}")
    return "\n".join(lines)


def _elsewhere(p: Mapping[str, Any]) -> str:
    """Where the session was written, when more than one machine writes the collection."""
    return f"  on {p['source']}" if p.get("source") not in (None, "local") else ""


def _clip(text: Any, n: int, *, keep_end: bool = False) -> str:
    flat = " ".join(str(text or "").split())
    if len(flat) <= n:
        return flat
    return "…" + flat[-n + 1 :] if keep_end else flat[: n - 1] + "…"


def _search_store(settings: Settings, query: SearchQuery) -> list[dict[str, Any]]:
    sink = open_sink(settings, one_shot=True)
    try:
        # Open the store before loading the model: if a running importer
        # holds it, asking that importer is faster than loading a model.
        sink.open(None, create=False)
        encoder = Bm25Encoder()
        if query.mode == "bm25":  # no model needed
            check_schema(sink.stored_identity(), "the collection")
            hits = find(sink, encoder, query, None)
        else:
            # The query side alone where it can: FastEmbed's import is half a second.
            model = load_query_model(settings) or load_embedder(settings)
            check_identity(sink.stored_identity(), model.identity, "the collection")
            hits = find(sink, encoder, query, model.embed([query.text])[0])
    finally:
        sink.close()
    return [h.to_json() for h in hits]


def _ask_running_importer(
    settings: Settings,
    path: str,
    params: dict[str, str],
    locked: StoreLockedError,
    *,
    method: str = "GET",
) -> Any:
    try:
        return query_running(settings.runtime_path, path, params, method=method)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    except OSError as e:
        raise StoreLockedError(f"{locked}, and no running importer answers ({e})") from e


def web(settings: Settings, args: argparse.Namespace) -> int:
    """``web``: a one-time link to the running importer's page, printed and opened."""
    try:
        answer = query_running(settings.runtime_path, "/web-login", {}, method="POST")
    except ValueError as e:
        raise ConfigError(str(e)) from e
    except OSError as e:
        raise StoreLockedError(
            f"no running importer answers in STATE_DIR={settings.state_dir} ({e}): "
            "start `python -m streaming_importer` first"
        ) from e
    url = str(answer["url"])
    print(url)  # noqa: T201
    if not args.no_open:
        # The browser is opened on a local file that posts the token: a URL
        # with the token in it would sit in the process list while xdg-open runs.
        webbrowser.open(login_file(settings.state_dir, url).as_uri())
    return ExitCode.OK


def login_file(state_dir: Path, url: str) -> Path:
    """A 0600 page in the state folder that signs in by posting the token of ``url``."""
    base, _, query = url.partition("?")
    token = urllib.parse.parse_qs(query).get("token", [""])[0]
    page = (
        '<!doctype html><meta charset="utf-8"><title>Signing in</title>'
        f'<form method="post" action="{html.escape(base)}">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        "<noscript><button>Sign in</button></noscript></form>"
        "<script>document.forms[0].submit()</script>\n"
    )
    path = state_dir / "web-login.html"
    write_private(path, page)
    return path


def forget(settings: Settings, args: argparse.Namespace) -> int:
    """``forget --session ID | --project P``: delete the points, keep a tombstone."""
    request = Forget(session=args.session, project=args.project)
    make_private(settings.state_dir)
    try:
        with state_lock(settings.state_dir):
            sink = open_sink(settings)
            try:
                sink.open(None, create=False)
                sessions = request.delete_points(sink, settings.source_name)
            finally:
                sink.close()
            state = ckpt.load(settings.checkpoint_path)
            for session in sessions:
                state.forgotten.add_session(session)
            if args.project:
                state.forgotten.add_project(args.project)
            ckpt.save(settings.checkpoint_path, state)
            Archive(settings.archive_dir).remove_forgotten(state.forgotten)
    except StartupError as running:
        params = {"session": args.session or "", "project": args.project or ""}
        _ask_running_importer(
            settings, "/forget", params, StoreLockedError(str(running)), method="POST"
        )
    done = f"forgot {request.describe()}: its points are deleted and it will not be imported again"
    print(done)  # noqa: T201
    return ExitCode.OK


def status(settings: Settings, args: argparse.Namespace) -> int:
    """``status``: what is imported and what is pending, as text or JSON."""
    sink: Sink = open_sink(settings)
    try:
        model = sink.stored_identity()
        sink.open(None, create=False)
        counts = store_counts(sink, settings)
        state = ckpt.load(settings.checkpoint_path)
        data = status_report(settings, state, counts, model)
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
        if key == "agents" and isinstance(value, dict):
            for agent, seen in value.items():
                stored = f", {seen['points']} points" if "points" in seen else ""
                line = f"{seen['files']} files ({seen['files_imported']} imported){stored}"
                print(f"{agent:>18}: {line} in {seen['folder']}")  # noqa: T201
            continue
        if key == "sources" and isinstance(value, dict):
            value = ", ".join(f"{name} {n:,} points" for name, n in value.items()) or "none"
        if key == "redaction" and isinstance(value, dict):
            value = value["note"] or value["rules"]
        if key == "archive" and isinstance(value, dict):
            value = (
                f"{value['transcripts']} transcripts ({value['deleted_by_agent']} deleted by "
                f"their agent), {in_units(value['bytes'])} in {value['folder']}"
                if value["enabled"]
                else "off (ARCHIVE=off)"
            )
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
