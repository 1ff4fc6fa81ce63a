"""Who may see the web page: one-time login links, then a cookie. Pure (clock injected).

The owner asks the running importer for a link (``python -m streaming_importer
web``, over the owner-only control socket, or the token-guarded port). The
link carries a one-time token, valid for :data:`LINK_TTL_S` seconds; opening
it trades the token for a session cookie (``HttpOnly; SameSite=Strict``),
valid for :data:`SESSION_TTL_S`. Tokens and cookies are 256-bit random
values; only their SHA-256 is kept, so a lookup's timing says nothing about a
value. Both are bounded: the oldest pending link or session is dropped first.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["COOKIE", "LINK_TTL_S", "SESSION_TTL_S", "WebAuth"]

#: The session cookie's name.
COOKIE = "si_session"
#: Seconds a login link may wait to be opened.
LINK_TTL_S = 120.0
#: Seconds a browser session lasts.
SESSION_TTL_S = 12 * 3600.0
#: Login links and browser sessions kept at most, each.
_MAX_PENDING = 8
_MAX_SESSIONS = 32


class WebAuth:
    """One-time login tokens and the sessions they open."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._links: OrderedDict[bytes, float] = OrderedDict()  # hash -> expiry
        self._sessions: OrderedDict[bytes, float] = OrderedDict()

    def new_link_token(self) -> str:
        """A token for one login, valid for :data:`LINK_TTL_S` seconds."""
        token = secrets.token_urlsafe(32)
        _put(self._links, _hash(token), self._clock() + LINK_TTL_S, _MAX_PENDING)
        return token

    def redeem(self, token: str) -> str | None:
        """A new session cookie value for a valid, unused ``token``; None otherwise."""
        expiry = self._links.pop(_hash(token), None)
        if expiry is None or expiry < self._clock():
            return None
        cookie = secrets.token_urlsafe(32)
        _put(self._sessions, _hash(cookie), self._clock() + SESSION_TTL_S, _MAX_SESSIONS)
        return cookie

    def allows(self, cookie: str | None) -> bool:
        """Whether ``cookie`` is a live session."""
        if not cookie:
            return False
        expiry = self._sessions.get(_hash(cookie))
        if expiry is None:
            return False
        if expiry < self._clock():
            del self._sessions[_hash(cookie)]
            return False
        return True


def _put(table: OrderedDict[bytes, float], key: bytes, expiry: float, most: int) -> None:
    table[key] = expiry
    while len(table) > most:
        table.popitem(last=False)


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
