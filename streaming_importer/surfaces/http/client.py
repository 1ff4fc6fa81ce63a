"""Asking the running importer: find it in ``$STATE_DIR/importer.json``, then its socket.

The importer writes how it answers (its pid, whether it has its socket, its TCP
port) when it starts; the socket and the token are files beside that file, so
a client finds them from wherever it runs, whatever path the importer was
given. :func:`query_running` prefers the Unix socket and falls back to TCP with
the token (see :mod:`~streaming_importer.surfaces.http.control`).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from pathlib import Path
from typing import Any

import orjson

from streaming_importer.errors import ControlError

__all__ = ["RUNTIME_NAME", "SOCKET_NAME", "TOKEN_NAME", "query_running", "read_runtime"]

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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def query_running(
    runtime_path: Path, path: str, params: dict[str, str], *, method: str = "GET"
) -> Any:
    """Ask the running importer (its socket, else its port with the token).

    Raises OSError if none answers, ValueError for a refused request (4xx),
    ControlError for its failure (5xx).
    """
    found = read_runtime(runtime_path)
    if found is None:
        raise ConnectionRefusedError("no running importer found")
    connection: http.client.HTTPConnection
    headers = {"Host": "localhost"}
    state_dir = runtime_path.parent
    if found["socket"]:
        connection = _UnixConnection(str(state_dir / SOCKET_NAME), timeout=60)
    elif found["port"]:
        connection = http.client.HTTPConnection("127.0.0.1", int(found["port"]), timeout=60)
        token = (state_dir / TOKEN_NAME).read_text().strip()
        headers["Authorization"] = f"Bearer {token}"
    else:
        raise ConnectionRefusedError("the running importer has no control socket or port")
    query = urllib.parse.urlencode(params)
    try:
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request("POST", path, body=query.encode(), headers=headers)
        else:
            connection.request("GET", f"{path}?{query}", headers=headers)
        response = connection.getresponse()
        data = response.read()
    except http.client.HTTPException as e:
        raise ConnectionError(f"the running importer's answer was cut off ({e})") from e
    finally:
        connection.close()
    if response.status == 200:
        return orjson.loads(data)
    try:
        message = str(orjson.loads(data).get("error"))
    except (orjson.JSONDecodeError, AttributeError):
        message = data.decode("utf-8", "replace")[:200]
    if response.status < 500:
        raise ValueError(message)
    raise ControlError(f"the running importer could not answer: {message}")
