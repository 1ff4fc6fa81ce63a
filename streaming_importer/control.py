"""The running importer's local port: search and status while it holds the store.

Both Qdrant engines lock their folder, so while the importer runs, ``search``
and ``status`` cannot open the embedded store themselves. The importer answers
them instead, over HTTP on 127.0.0.1 only (``CONTROL_PORT``; 0 picks a free
port). It writes ``$STATE_DIR/importer.json`` with its pid and port, which the
CLI reads to find it.

Endpoints (GET, JSON): ``/status``; ``/search?q=...`` (the parameters of
:meth:`~streaming_importer.search.SearchQuery.to_params`); ``/health``;
``/session?id=ID``; ``/forget?session=ID`` or ``?project=P``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
from anyio.abc import SocketStream, TaskStatus

__all__ = ["Handler", "query_running", "read_runtime", "serve"]

logger = logging.getLogger(__name__)

#: Answers a path and its query parameters with a JSON-able value, or raises
#: KeyError (404) or ValueError (400).
Handler = Callable[[str, dict[str, str]], Awaitable[Any]]

_MAX_REQUEST_BYTES = 16 << 10


async def serve(
    port: int,
    runtime_path: Path,
    handler: Handler,
    *,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on 127.0.0.1:``port`` until cancelled."""
    try:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        # Another program has the port: any free one will do, since the CLI
        # finds it in the runtime file.
        logger.warning("CONTROL_PORT=%d is in use; answering on a free port instead", port)
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    bound = int(listener.extra_attributes[anyio.abc.SocketAttribute.local_port]())
    try:
        _write_runtime(runtime_path, bound)
    except OSError as e:
        # Importing matters more than being found: go on without it.
        logger.warning(
            "cannot write %s (%s): search and status cannot find this run", runtime_path, e
        )
    logger.info("answering search and status on 127.0.0.1:%d", bound)
    task_status.started(bound)
    try:
        async with listener:
            await listener.serve(lambda stream: _handle(stream, handler))
    finally:
        _remove_runtime(runtime_path, bound)


def _write_runtime(path: Path, port: int) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "port": port}))
    os.replace(tmp, path)


def _remove_runtime(path: Path, port: int) -> None:
    # Only our own file: a newer importer may have replaced it.
    if read_runtime(path) == (os.getpid(), port):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _handle(stream: SocketStream, handler: Handler) -> None:
    async with stream:
        try:
            request = await _read_request(stream)
            target = request.split(b" ", 2)[1].decode("ascii")
        except (anyio.EndOfStream, anyio.BrokenResourceError, IndexError, UnicodeError, ValueError):
            return
        url = urllib.parse.urlsplit(target)
        params = dict(urllib.parse.parse_qsl(url.query))
        try:
            status, body = 200, await handler(url.path, params)
        except KeyError:
            status, body = 404, {"error": f"no such endpoint: {url.path}"}
        except LookupError as e:
            status, body = 404, {"error": str(e)}
        except ValueError as e:
            status, body = 400, {"error": str(e)}
        payload = orjson.dumps(body)
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        try:
            await stream.send(head.encode() + payload)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


async def _read_request(stream: SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
        if len(data) > _MAX_REQUEST_BYTES:
            raise ValueError("request too large")
    return data


def read_runtime(path: Path) -> tuple[int, int] | None:
    """(pid, port) of the running importer, or None if none is running."""
    try:
        data = json.loads(path.read_text())
        pid, port = int(data["pid"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a stale file from a killed importer
    except PermissionError:
        pass
    return pid, port


def query_running(runtime_path: Path, path: str, params: dict[str, str]) -> Any:
    """Ask the running importer; raises OSError if none answers."""
    found = read_runtime(runtime_path)
    if found is None:
        raise ConnectionRefusedError("no running importer found")
    _, port = found
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as e:
        raise ValueError(orjson.loads(e.read()).get("error", str(e))) from e
