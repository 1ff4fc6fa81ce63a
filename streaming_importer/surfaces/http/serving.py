"""What the program's servers share: limits, errors and their statuses, who may ask.

The control surface (:mod:`~streaming_importer.surfaces.http.control`) and the web page
(:mod:`~streaming_importer.surfaces.http.web`) bound every request the same way (at most
:data:`MAX_CONNECTIONS` at once through a :class:`Gate`, :data:`READ_TIMEOUT_S`
to send it), answer a handler's error with the same status
(:func:`error_answer`), and on TCP refuse a ``Host`` that is not a loopback
name (:func:`check_loopback_host`: a DNS-rebinding page has its own name there).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from streaming_importer.errors import StoreUnavailableError
from streaming_importer.surfaces.http.protocol import Refused, Request

__all__ = [
    "LOOPBACK_HOSTS",
    "MAX_CONNECTIONS",
    "READ_TIMEOUT_S",
    "Gate",
    "Handler",
    "MethodNotAllowed",
    "NotFound",
    "Refused",
    "Unavailable",
    "check_loopback_host",
    "error_answer",
]

logger = logging.getLogger(__name__)

#: Answers (method, path, params) with a JSON-able value; raises the errors below.
Handler = Callable[[str, str, dict[str, str]], Awaitable[Any]]

MAX_CONNECTIONS = 16
READ_TIMEOUT_S = 5.0
#: Names a loopback Host header may carry (with or without a port).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class NotFound(LookupError):
    """No such endpoint or thing (404)."""


class MethodNotAllowed(Exception):
    """The endpoint takes another method (405)."""


class Unavailable(Exception):
    """The importer cannot do it now: stopping, say (503)."""


class Gate:
    """The requests in flight on one server: at most :data:`MAX_CONNECTIONS`.

    :meth:`close` stops accepting, lets open requests finish for a grace
    period, then ends them.
    """

    def __init__(self) -> None:
        self.active = 0
        self._idle = anyio.Event()
        #: Entered around the accept loops, and around the requests' task group.
        self.accepting = anyio.CancelScope()
        self.requests = anyio.CancelScope()

    def full(self) -> bool:
        return self.active >= MAX_CONNECTIONS

    def enter(self) -> None:
        self.active += 1
        self._idle = anyio.Event()

    def leave(self) -> None:
        self.active -= 1
        if not self.active:
            self._idle.set()

    async def close(self, grace_s: float) -> None:
        self.accepting.cancel()
        if self.active:
            with anyio.move_on_after(grace_s):
                await self._idle.wait()
        self.requests.cancel()


def error_answer(error: Exception) -> tuple[int, dict[str, str]]:
    """The status and JSON body a request that raised ``error`` is answered with.

    400 bad input, 404, 405, 408, 503 while the store does not answer; anything
    else 500, logged with its traceback (the server goes on).
    """
    if isinstance(error, Refused):
        return error.status, {"error": str(error)}
    if isinstance(error, TimeoutError):
        return 408, {"error": f"the request did not arrive within {READ_TIMEOUT_S:.0f} s"}
    for kinds, status in _STATUSES:
        if isinstance(error, kinds):
            return status, {"error": str(error)}
    logger.error("a request failed", exc_info=error)
    return 500, {"error": f"internal error: {type(error).__name__}"}


#: Errors a handler raises on purpose, and their status (the first match wins).
_STATUSES: tuple[tuple[type[Exception] | tuple[type[Exception], ...], int], ...] = (
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (LookupError, 404),
    (ValueError, 400),
    ((StoreUnavailableError, Unavailable), 503),
)


def check_loopback_host(request: Request) -> None:
    """Refuse (403) a request whose ``Host`` is not a loopback name: a DNS-rebinding page's."""
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.lower() not in LOOPBACK_HOSTS:
        raise Refused(403, f"Host {host!r} is not a loopback name")
