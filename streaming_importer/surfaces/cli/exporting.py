"""``export SESSION``: a session as Markdown or a self-contained HTML file.

Reads the transcript (or, when the agent deleted it, the archive) as every
view does, redacted; needs neither the store nor a running importer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streaming_importer.errors import ConfigError, ExitCode
from streaming_importer.ops.config import Settings
from streaming_importer.search.expand import ExpandError
from streaming_importer.state import checkpoint as ckpt
from streaming_importer.state.archive import Archive
from streaming_importer.surfaces.export import export_transcript, session_paths

__all__ = ["export_command"]


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    """Write the session to ``--output`` (a file, or ``-`` for stdout)."""
    state = ckpt.load(settings.checkpoint_path)
    paths = session_paths(state.files, Archive(settings.archive_dir), args.session)
    if not paths:
        raise ConfigError(f"no imported session {args.session!r} (see `status`, or the page)")
    try:
        # A session resumed into a new file has several: the first is the session's own.
        saved = state.files.get(paths[0])
        exported = export_transcript(
            settings, state.forgotten, paths[0], args.format, saved.context if saved else None
        )
    except ExpandError as e:
        raise ConfigError(str(e)) from None
    if args.output == "-":
        sys.stdout.write(exported.text)
        return ExitCode.OK
    target = Path(args.output or exported.name)
    target.write_text(exported.text, encoding="utf-8")
    print(f"wrote {target} ({len(exported.text.encode()):,} bytes)")  # noqa: T201
    return ExitCode.OK
