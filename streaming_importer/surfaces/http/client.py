"""Asking the running importer: find it in ``$STATE_DIR/importer.json``, then its socket.

The importer writes how it answers (its pid, whether it has its socket, its TCP
port) when it starts; the socket and the token are files beside that file, so
a client finds them from wherever it runs, whatever path the importer was
given. :func:`query_running` prefers the Unix socket and falls back to TCP with
the token (see :mod:`~streaming_importer.surfaces.http.control`).
"""

from __future__ import annotations

import json
import socket
import urllib.parse
from pathlib import Path
from typing import Any

from streaming_importer.errors import ControlError
from streaming_importer.surfaces.http.runtime import (
    RUNTIME_NAME,
    SOCKET_NAME,
    TOKEN_NAME,
    read_runtime,
)

__all__ = [
    "MAX_ANSWER_BYTES",
    "RUNTIME_NAME",
    "SOCKET_NAME",
    "TOKEN_NAME",
    "query_running",
    "read_runtime",
]

#: An answer longer than this is refused, in bytes.
MAX_ANSWER_BYTES = 64 << 20


def query_running(
    runtime_path: Path,
    path: str,
    params: dict[str, str],
    *,
    method: str = "GET",
    timeout_s: float = 60.0,
) -> Any:
    """Ask the running importer (its socket, else its port with the token).

    ``timeout_s`` bounds each step (connect, send, each read), in seconds.

    Raises OSError if none answers, ValueError for a refused request (4xx),
    ControlError for its failure (5xx).
    """
    found = read_runtime(runtime_path)
    if found is None:
        raise ConnectionRefusedError("no running importer found")
    headers = {"Host": "localhost", "Connection": "close"}
    state_dir = runtime_path.parent
    if found["socket"]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        address: Any = str(state_dir / SOCKET_NAME)
    elif found["port"]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        address = ("127.0.0.1", int(found["port"]))
        token = (state_dir / TOKEN_NAME).read_text().strip()
        headers["Authorization"] = f"Bearer {token}"
    else:
        raise ConnectionRefusedError("the running importer has no control socket or port")
    query = urllib.parse.urlencode(params)
    body = b""
    target = f"{path}?{query}"
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body, target = query.encode(), path
    headers["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with sock:
        sock.connect(address)
        sock.sendall(head.encode() + b"\r\n" + body)
        status, data = _read_answer(sock)
    if status == 200:
        return json.loads(data)
    try:
        message = str(json.loads(data).get("error"))
    except (ValueError, AttributeError):
        message = data.decode("utf-8", "replace")[:200]
    if status < 500:
        raise ValueError(message)
    raise ControlError(f"the running importer could not answer: {message}")


def _read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of the one answer the importer sends, then closes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ConnectionError(f"the running importer's answer is over {MAX_ANSWER_BYTES} bytes")
    head, found, body = b"".join(chunks).partition(b"\r\n\r\n")
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    if not found or not status or length < 0 or len(body) < length:
        raise ConnectionError("the running importer's answer was cut off")
    return status, body[:length]
