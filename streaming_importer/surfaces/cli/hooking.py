"""``hooks install|uninstall``: show the settings change; write it only with ``--write``."""

from __future__ import annotations

import argparse
from pathlib import Path

from streaming_importer.errors import ExitCode
from streaming_importer.ops.config import Settings
from streaming_importer.surfaces.hooks.install import (
    AGENTS,
    hook_command,
    plan_change,
    settings_file,
    write,
)

__all__ = ["hooks_command"]


def hooks_command(settings: Settings, args: argparse.Namespace) -> int:
    """Show (or, with ``--write``, make) the change for each agent asked."""
    command = hook_command(settings) if args.action == "install" else None
    project = Path(args.project or ".").resolve()
    for agent in args.agent or AGENTS:
        change = plan_change(settings_file(settings, agent, args.scope, project), agent, command)
        if not change.changes:
            print(f"{agent}: {change.path} needs no change")  # noqa: T201
            continue
        if not args.write:
            print(f"{agent}: {change.path} would change:\n{change.diff()}")  # noqa: T201
            continue
        backup = write(change)
        kept = f" (the previous file is {backup})" if backup else ""
        print(f"{agent}: {args.action}ed in {change.path}{kept}")  # noqa: T201
    if not args.write:
        print("nothing was written: run the same command with --write to make this change")  # noqa: T201
    return ExitCode.OK
