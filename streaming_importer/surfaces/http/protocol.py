"""The little HTTP/1.1 the control surface speaks: one request in, one JSON answer out.

Bounded: a request's head and body together are at most
:data:`MAX_REQUEST_BYTES`; the caller bounds the time. Answers carry no CORS
header (a web page may not read them) and close the connection.
"""

from __future__ import annotations

import contextlib
import http.client
import urllib.parse
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
from anyio.abc import SocketStream

__all__ = ["MAX_REQUEST_BYTES", "Refused", "Request", "answer", "read_request", "send"]

MAX_REQUEST_BYTES = 16 << 10


class Refused(Exception):
    """A request answered with ``status`` before any handler saw it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Request:
    __slots__ = ("headers", "method", "params", "path")

    def __init__(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> None:
        self.method, self.path, self.params, self.headers = method, path, params, headers


async def read_request(stream: SocketStream) -> Request:
    """One request: its line, headers and (for POST) a body of parameters."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
        if len(data) > MAX_REQUEST_BYTES:
            raise Refused(413, "request too large")
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise Refused(400, "not an HTTP request") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise Refused(400, "bad Content-Length") from None
    if length > MAX_REQUEST_BYTES:
        raise Refused(413, "request too large")
    while len(body) < length:
        body += await stream.receive()
    url = urllib.parse.urlsplit(target)
    params = dict(urllib.parse.parse_qsl(url.query))
    if body[:length]:
        params.update(_body_params(body[:length], headers.get("content-type", "")))
    return Request(method.upper(), url.path, params, headers)


def _body_params(body: bytes, content_type: str) -> dict[str, str]:
    if content_type.startswith("application/json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Refused(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise Refused(400, "the body must be a JSON object")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))


async def answer(stream: SocketStream, status: int, body: Any, *, timeout_s: float) -> None:
    """Send ``body`` as JSON with ``status``; give up after ``timeout_s``."""
    await send(stream, status, orjson.dumps(body), "application/json", timeout_s=timeout_s)


async def send(
    stream: SocketStream,
    status: int,
    payload: bytes,
    content_type: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
) -> None:
    """Send ``payload`` with ``status`` and ``headers``; give up after ``timeout_s``."""
    reason = http.client.responses.get(status, "Error")
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"{extra}"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    # A client that does not read its answer is not waited for.
    with anyio.move_on_after(timeout_s):
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await stream.send(head.encode() + payload)
