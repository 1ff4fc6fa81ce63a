"""The web page: static files and a read-only JSON API, on loopback, for the owner only.

Served by the running importer (``WEB_PORT``, on 127.0.0.1 only), with the
process's own store and model: it adds no second copy of either. Who may
look is decided by :class:`~streaming_importer.surfaces.http.web_auth.WebAuth`: a one-time
token (``/login``, by GET from the printed link or by POST from the 0600 local
file ``python -m streaming_importer web`` opens) is traded for a session
credential that the page itself holds (in its tab's ``sessionStorage``) and
sends as the ``X-Session`` header. No cookie is set: a browser sends a
127.0.0.1 cookie to every port of 127.0.0.1, so any local process that got
the owner to open its port would receive it. Every API call must also be the
page's own (``Sec-Fetch-Site: same-origin``, and no other ``Origin``: 403),
come with a live credential (401), and name a loopback ``Host`` (403: a
DNS-rebinding page has its own name there). The page's three files hold no
data and are served to anyone. The API (``/api/search``, ``/api/status``,
``/api/health``, ``/api/sessions``, ``/api/transcript``, ``/api/session``,
``/api/export``) is
the control surface's read-only part; nothing here deletes.

The page is three static files shipped in the package (no build step, no
CDN); a Content-Security-Policy lets it load nothing else and run no inline
script, so even a transcript's text that got into the page as HTML could not
run. Requests are bounded as on the control surface: connections, time, size.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

import anyio
import anyio.abc
import orjson
from anyio.abc import SocketListener, SocketStream, TaskStatus

from streaming_importer.surfaces.http.protocol import Request, read_request, send
from streaming_importer.surfaces.http.serving import (
    READ_TIMEOUT_S,
    Gate,
    Handler,
    MethodNotAllowed,
    NotFound,
    Refused,
    Unavailable,
    check_loopback_host,
    error_answer,
)
from streaming_importer.surfaces.http.web_auth import SESSION_HEADER, SESSION_META, WebAuth

__all__ = ["API_PATHS", "WebServer"]

logger = logging.getLogger(__name__)

#: What the page may ask the importer, below ``/api``.
API_PATHS = frozenset(
    {"/search", "/status", "/health", "/sessions", "/transcript", "/session", "/export"}
)
#: The page's files: URL path -> (file in the package's ``page`` folder, content type).
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_WEB_COMMAND = "`python -m streaming_importer web`"
#: (status, body, content type, extra headers)
_Answer = tuple[int, bytes, str, dict[str, str]]


class WebServer:
    """Serves the page and its API on a loopback port."""

    def __init__(self, api: Handler, auth: WebAuth, *, port: int) -> None:
        self._api = api
        self._auth = auth
        self._port = port
        self._gate = Gate()
        #: The port bound, once serving.
        self.port: int | None = None

    def login_url(self) -> str:
        """A one-time link that opens the page (valid for a couple of minutes)."""
        if self.port is None:
            raise Unavailable("the web page is not served (WEB_PORT=off)")
        return f"http://127.0.0.1:{self.port}/login?token={self._auth.new_link_token()}"

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on 127.0.0.1 and answer until :meth:`close`."""
        multi = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self._port)
        (listener,) = multi.listeners
        assert isinstance(listener, SocketListener)
        self.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
        logger.info(
            "the web page is on http://127.0.0.1:%d (python -m streaming_importer web)", self.port
        )
        task_status.started()
        with self._gate.requests:
            async with anyio.create_task_group() as connections:
                with self._gate.accepting:
                    async with listener:
                        while True:
                            stream = await listener.accept()
                            if self._gate.full():
                                await _send(stream, _json(503, {"error": "busy"}))
                                await stream.aclose()
                                continue
                            self._gate.enter()
                            connections.start_soon(self._serve_one, stream)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting; let open requests finish for up to ``grace_s``, then end them."""
        await self._gate.close(grace_s)

    async def _serve_one(self, stream: SocketStream) -> None:
        try:
            async with stream:
                await _send(stream, await self._respond(stream))
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return  # the client hung up
        finally:
            self._gate.leave()

    async def _respond(self, stream: SocketStream) -> _Answer:
        try:
            with anyio.fail_after(READ_TIMEOUT_S):
                request = await read_request(stream)
            return await self._route(request)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise
        except Exception as e:
            return _json(*error_answer(e))

    async def _route(self, request: Request) -> _Answer:
        check_loopback_host(request)
        if request.path == "/login" and request.method in ("GET", "POST"):
            return self._login(request.params.get("token", ""))
        if request.method != "GET":
            raise MethodNotAllowed(f"{request.method} is not answered here: the page only reads")
        if request.path in _FILES:
            return _page_file(request.path)
        if request.path.startswith("/api/") and request.path[4:] in API_PATHS:
            self._check_own_page(request)
            if not self._auth.allows(request.headers.get(SESSION_HEADER.lower())):
                raise Refused(
                    401, "sign in with the link `python -m streaming_importer web` prints"
                )
            return _json(200, await self._api("GET", request.path[4:], request.params))
        raise NotFound(f"no such page: {request.path}")

    def _login(self, token: str) -> _Answer:
        """The page, holding a new session credential, for a valid one-time ``token``."""
        credential = self._auth.redeem(token)
        if credential is None:
            raise Refused(
                401, "this link is used or expired: run `python -m streaming_importer web`"
            )
        status, page, content_type, headers = _page_file("/")
        meta = f'<meta name="{SESSION_META}" content="{credential}">'.encode()
        return status, page.replace(b"</head>", meta + b"</head>", 1), content_type, headers

    def _check_own_page(self, request: Request) -> None:
        """Refuse (403) an API call another page made: another port, another site."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site != "same-origin":
            raise Refused(403, f"an API call from another page (Sec-Fetch-Site: {site})")
        origin = request.headers.get("origin")
        if origin is not None and origin not in (
            f"http://127.0.0.1:{self.port}",
            f"http://localhost:{self.port}",
        ):
            raise Refused(403, f"an API call from another origin ({origin})")


def _page_file(path: str) -> _Answer:
    name, content_type = _FILES[path]
    data = resources.files("streaming_importer.surfaces.http").joinpath("page", name).read_bytes()
    # Never kept by a cache: the login answer holds a credential.
    return 200, data, content_type, {"Cache-Control": "no-store"}


def _json(status: int, body: Any) -> _Answer:
    return status, orjson.dumps(body), "application/json", {}


async def _send(stream: SocketStream, reply: _Answer) -> None:
    status, body, content_type, headers = reply
    await send(
        stream,
        status,
        body,
        content_type,
        headers={**_HEADERS, **headers},
        timeout_s=READ_TIMEOUT_S,
    )
