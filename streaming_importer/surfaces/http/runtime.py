"""Whether an importer runs on a state folder, and the files its control surface uses.

Standard library only: the recall hook reads this before anything else, and
an agent runs that hook on every prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RUNTIME_NAME", "SOCKET_NAME", "TOKEN_NAME", "read_runtime"]

#: The files of the control surface, all in the state folder.
SOCKET_NAME = "control.sock"
TOKEN_NAME = "control.token"
RUNTIME_NAME = "importer.json"


def read_runtime(path: Path) -> dict[str, Any] | None:
    """How the running importer answers (pid, socket: bool, port), or None if none runs."""
    try:
        data = json.loads(path.read_text())
        pid = int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a stale file from a killed importer
    except PermissionError:
        pass
    return {"pid": pid, "socket": bool(data.get("socket")), "port": data.get("port")}
