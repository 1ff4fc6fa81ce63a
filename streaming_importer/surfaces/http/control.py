"""The running importer's control surface: for the state folder's owner, nobody else.

Both Qdrant engines lock their folder, so while the importer runs, ``search``,
``status`` and ``forget`` cannot open the store themselves; the importer
answers them instead, over HTTP/1.1 (JSON), on:

- a Unix domain socket, ``$STATE_DIR/control.sock``: mode 0600 in a 0700
  folder, so only the folder's owner (and root) can connect, and the peer's
  uid is checked again when it does (``SO_PEERCRED``). Always on.
- TCP, only with ``CONTROL_PORT`` (on ``CONTROL_HOST``, 127.0.0.1 by default):
  every request must carry ``Authorization: Bearer <token>``, the token being
  made anew at each start in ``$STATE_DIR/control.token`` (0600) and compared
  in constant time, and a loopback ``Host`` (a DNS-rebinding page has the
  attacker's name there).

``$STATE_DIR/importer.json`` says where the importer is (pid, socket, port);
:func:`~streaming_importer.surfaces.http.client.query_running` finds it, and the
token, by itself. Writes (``/forget``)
are POST only; no CORS header is ever sent, so a web page can neither send the
token nor read an answer.

Every request is bounded: :data:`MAX_CONNECTIONS` at once on each listener
(more are answered 503 at once), the socket's counted apart from the TCP
port's, and a socket peer checked before it takes one, so nobody else can
crowd out the owner's own requests; :data:`READ_TIMEOUT_S` to send the request, 16 KB of head and
body (:mod:`~streaming_importer.surfaces.http.protocol`). A handler's error becomes a
JSON error with its status (:func:`~streaming_importer.surfaces.http.serving.error_answer`:
400 bad input, 404, 405, 503 while the store does not answer, 500 otherwise,
logged once); it never ends the importer.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import logging
import os
import secrets
import socket
import struct
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.abc import SocketListener, SocketStream, TaskStatus

from streaming_importer.state.folder import write_private
from streaming_importer.surfaces.http.client import (
    RUNTIME_NAME,
    SOCKET_NAME,
    TOKEN_NAME,
    read_runtime,
)
from streaming_importer.surfaces.http.protocol import Request, answer, read_request
from streaming_importer.surfaces.http.serving import (
    MAX_CONNECTIONS,
    READ_TIMEOUT_S,
    Gate,
    Handler,
    MethodNotAllowed,
    Refused,
    check_loopback_host,
    error_answer,
)

__all__ = ["ControlServer"]

logger = logging.getLogger(__name__)

#: Room for a socket path in ``sockaddr_un`` (108 bytes on Linux, with its NUL).
_SUN_PATH_MAX = 107


class ControlServer:
    """Serves a handler on the state folder's socket (and a TCP port, with a token)."""

    def __init__(self, state_dir: Path, handler: Handler, *, port: int | None, host: str) -> None:
        self._state_dir = state_dir
        self._handler = handler
        self._port = port
        self._host = host
        self._token = ""
        self._gate = Gate()
        #: Requests in flight per listener (False: the socket, True: TCP).
        self._busy = {False: 0, True: 0}
        #: The TCP port bound, if any.
        self.port: int | None = None

    @property
    def socket_path(self) -> Path:
        return self._state_dir / SOCKET_NAME

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen, write ``importer.json``, answer until :meth:`close`; then clean up."""
        listeners: list[tuple[SocketListener, bool]] = []
        unix = await self._unix_listener()
        if unix is not None:
            listeners.append((unix, False))
        if self._port is not None:
            token = secrets.token_urlsafe(32)
            try:
                write_private(self._state_dir / TOKEN_NAME, token + "\n")
            except OSError as e:
                # Without its token nobody could use the port: it stays closed.
                logger.warning("cannot write %s (%s): no TCP control port", TOKEN_NAME, e)
            else:
                self._token = token
                tcp = await self._tcp_listener(self._port)
                self.port = int(tcp.extra(anyio.abc.SocketAttribute.local_port))
                listeners.append((tcp, True))
        runtime = self._state_dir / RUNTIME_NAME
        try:
            write_private(runtime, json.dumps(self._runtime(unix is not None)))
        except OSError as e:
            # Importing matters more than being found: go on without it.
            logger.warning("cannot write %s (%s): nothing can find this run", runtime, e)
        if unix is not None:
            logger.info("answering search, status and forget on %s", self.socket_path)
        if self.port is not None:
            logger.info("answering on %s:%d too (token in %s)", self._host, self.port, TOKEN_NAME)
        task_status.started()
        try:
            with self._gate.requests:
                async with anyio.create_task_group() as connections:
                    with self._gate.accepting:
                        async with anyio.create_task_group() as accept:
                            for listener, needs_token in listeners:
                                accept.start_soon(self._accept, listener, needs_token, connections)
        finally:
            self._cleanup(unix is not None)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting; let open requests finish for up to ``grace_s``, then end them."""
        await self._gate.close(grace_s)

    def _runtime(self, has_socket: bool) -> dict[str, Any]:
        # Names no path: the client finds the socket and token beside the file.
        return {"pid": os.getpid(), "socket": has_socket, "port": self.port}

    async def _unix_listener(self) -> SocketListener | None:
        path = self.socket_path
        if len(os.fsencode(path)) > _SUN_PATH_MAX:
            logger.warning(
                "STATE_DIR=%s is too long a path for a Unix socket (%d bytes at most): "
                "set CONTROL_PORT to reach this importer over TCP with its token",
                self._state_dir,
                _SUN_PATH_MAX - len(SOCKET_NAME) - 1,
            )
            return None
        # Whoever holds the state folder's lock owns the name: a socket left
        # here is a killed importer's.
        try:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return await anyio.create_unix_listener(path, mode=0o600)
        except OSError as e:
            # Importing matters more than being reachable: go on without it.
            logger.warning("cannot listen on %s (%s): search and status cannot reach it", path, e)
            return None

    async def _tcp_listener(self, port: int) -> SocketListener:
        try:
            multi = await anyio.create_tcp_listener(local_host=self._host, local_port=port)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            # Another program has the port: any free one will do, since the
            # CLI finds it in the runtime file.
            logger.warning("CONTROL_PORT=%d is in use; answering on a free port instead", port)
            multi = await anyio.create_tcp_listener(local_host=self._host, local_port=0)
        # One address, so one listener.
        (listener,) = multi.listeners
        assert isinstance(listener, SocketListener)
        return listener

    async def _accept(
        self,
        listener: SocketListener,
        needs_token: bool,
        connections: anyio.abc.TaskGroup,
    ) -> None:
        async with listener:
            while True:
                stream = await listener.accept()
                refused = None
                if not needs_token and not _peer_is_owner(stream):
                    # Known before a byte is read: no slot for another user.
                    refused = 403, {"error": "another user's request"}
                elif self._busy[needs_token] >= MAX_CONNECTIONS:
                    refused = 503, {"error": "busy: too many open requests"}
                if refused is not None:
                    await answer(stream, *refused, timeout_s=1.0)
                    await stream.aclose()
                    continue
                self._busy[needs_token] += 1
                self._gate.enter()
                connections.start_soon(self._serve_one, stream, needs_token)

    async def _serve_one(self, stream: SocketStream, needs_token: bool) -> None:
        try:
            async with stream:
                status, body = await self._respond(stream, needs_token)
                await answer(stream, status, body, timeout_s=READ_TIMEOUT_S)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return  # the client hung up: nobody to answer
        finally:
            self._busy[needs_token] -= 1
            self._gate.leave()

    async def _respond(self, stream: SocketStream, needs_token: bool) -> tuple[int, Any]:
        try:
            with anyio.fail_after(READ_TIMEOUT_S):
                request = await read_request(stream)
            if needs_token:
                self._check_tcp(request)
            if request.method not in ("GET", "POST"):
                raise MethodNotAllowed(f"{request.method} is not answered here")
            return 200, await self._handler(request.method, request.path, request.params)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise
        except Exception as e:
            return error_answer(e)

    def _check_tcp(self, request: Request) -> None:
        check_loopback_host(request)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            raise Refused(401, f"a valid token is required (see {TOKEN_NAME} in STATE_DIR)")

    def _cleanup(self, had_socket: bool) -> None:
        # Only our own files: a newer importer may have replaced them.
        runtime = self._state_dir / RUNTIME_NAME
        if read_runtime(runtime) == self._runtime(had_socket):
            for path in (runtime, self._state_dir / TOKEN_NAME, self.socket_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _peer_is_owner(stream: SocketStream) -> bool:
    """On the socket: only this user (or root) may ask; the file mode says so too."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
    creds = raw.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (os.getuid(), 0)
