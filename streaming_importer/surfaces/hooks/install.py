"""``hooks install|uninstall``: the recall hook in an agent's settings, only when told to.

- Claude Code: ``SessionStart`` and ``UserPromptSubmit``, in ``~/.claude/settings.json``
  (user) or ``<project>/.claude/settings.local.json`` (project: personal, not committed);
- Codex CLI: ``SessionStart`` and ``UserPromptSubmit``, in ``$CODEX_HOME/hooks.json`` or
  ``<project>/.codex/hooks.json``;
- Gemini CLI: ``SessionStart`` and ``BeforeAgent``, in ``$GEMINI_DIR/settings.json`` or
  ``<project>/.gemini/settings.json``.

Without ``--write`` nothing is written: the file and the exact change (a
unified diff) are shown. With it, the file's previous content is kept beside
it (``<name>.bak-<time>``) and the new one replaces it atomically. Our entries
are the ones whose command runs ``streaming_importer recall``: installing
again replaces them (a moved virtual environment), uninstalling removes them
and nothing else; everything else in the file is kept as it was.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from streaming_importer.errors import ConfigError
from streaming_importer.ops.config import Settings

__all__ = [
    "AGENTS",
    "MARK",
    "Change",
    "hook_command",
    "our_commands",
    "plan_change",
    "settings_file",
    "write",
]

#: What our hook's command contains, and nothing else's does.
MARK = "streaming_importer recall"
AGENTS = ("claude", "codex", "gemini")
#: Agent -> (its event at a session's start, its event on a prompt).
_EVENTS = {
    "claude": ("SessionStart", "UserPromptSubmit"),
    "codex": ("SessionStart", "UserPromptSubmit"),
    "gemini": ("SessionStart", "BeforeAgent"),
}
#: How long an agent waits for the hook: seconds (Claude Code, Codex), milliseconds (Gemini).
_TIMEOUT = {"claude": 5, "codex": 5, "gemini": 5000}


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One settings file, before and after."""

    path: Path
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changes(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """The change as a unified diff of the formatted JSON ("" for none)."""
        return "".join(
            difflib.unified_diff(
                _dump(self.before).splitlines(keepends=True) if self.path.exists() else [],
                _dump(self.after).splitlines(keepends=True),
                fromfile=f"{self.path} (now)",
                tofile=f"{self.path} (after)",
            )
        )


def settings_file(settings: Settings, agent: str, scope: str, project: Path) -> Path:
    """Where ``agent`` reads hooks for ``scope`` (``user`` or ``project``)."""
    if scope == "project":
        return (
            project
            / {
                "claude": ".claude/settings.local.json",
                "codex": ".codex/hooks.json",
                "gemini": ".gemini/settings.json",
            }[agent]
        )
    return {
        "claude": Path.home() / ".claude" / "settings.json",
        "codex": settings.codex_home / "hooks.json",
        "gemini": settings.gemini_dir / "settings.json",
    }[agent]


def hook_command(settings: Settings) -> str:
    """The shell command the hook runs: this Python, this state folder."""
    state_dir = shlex.quote(str(settings.state_dir.resolve()))
    return f"{shlex.quote(sys.executable)} -m streaming_importer recall --state-dir {state_dir}"


def plan_change(path: Path, agent: str, command: str | None) -> Change:
    """``path``'s settings with our hooks replaced by ``command``'s (None: removed)."""
    before = _read(path)
    after = json.loads(json.dumps(before))  # a deep copy
    hooks = after.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise ConfigError(f"{path}: 'hooks' is not an object; fix it by hand first")
    for event in _EVENTS[agent]:
        groups = [g for g in hooks.get(event) or [] if not _ours(g)]
        if command is not None:
            groups.append(_group(agent, event, command))
        if groups:
            hooks[event] = groups
        else:
            hooks.pop(event, None)
    if not hooks and before.get("hooks") != {}:
        after.pop("hooks")  # no hooks left: the file as if none had been added
    return Change(path, before, after)


def write(change: Change) -> Path | None:
    """Write ``change`` (atomically), keeping the previous file; the backup's path."""
    change.path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if change.path.exists():
        stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
        backup = change.path.with_name(f"{change.path.name}.bak-{stamp}")
        backup.write_bytes(change.path.read_bytes())
    tmp = change.path.with_name(f".{change.path.name}.tmp")
    tmp.write_text(_dump(change.after))
    if change.path.exists():
        os.chmod(tmp, change.path.stat().st_mode & 0o777)
    os.replace(tmp, change.path)
    return backup


def _group(agent: str, event: str, command: str) -> dict[str, Any]:
    hook: dict[str, Any] = {"type": "command", "command": command, "timeout": _TIMEOUT[agent]}
    if agent == "gemini":
        hook["name"] = "streaming-importer-recall"
    group: dict[str, Any] = {"hooks": [hook]}
    if event == "SessionStart" and agent != "gemini":
        group = {"matcher": "startup|resume|clear|compact", **group}
    return group


def our_commands(data: dict[str, Any]) -> list[str]:
    """The commands of our recall hooks in an agent's settings ``data``."""
    hooks = data.get("hooks")
    return [
        str(h["command"])
        for groups in (hooks.values() if isinstance(hooks, dict) else ())
        if isinstance(groups, list)
        for group in groups
        if isinstance(group, dict)
        for h in group.get("hooks") or []
        if isinstance(h, dict) and MARK in str(h.get("command", ""))
    ]


def _ours(group: Any) -> bool:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    return isinstance(hooks, list) and any(
        isinstance(h, dict) and MARK in str(h.get("command", "")) for h in hooks
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {path} as JSON ({e}); nothing was changed") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; nothing was changed")
    return data


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
