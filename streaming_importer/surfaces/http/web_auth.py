"""Who may see the web page: one-time login links, then a credential the page holds. Pure.

The owner asks the running importer for a link (``python -m streaming_importer
web``, over the owner-only control socket, or the token-guarded port). The
link carries a one-time token, valid for :data:`LINK_TTL_S` seconds; opening
it trades the token for a session credential, valid for :data:`SESSION_TTL_S`,
that the page keeps in its tab and sends as the :data:`SESSION_HEADER` header
(never a cookie: one would go to every port of 127.0.0.1). Tokens and
credentials are 256-bit random values; only their SHA-256 is kept, so a
lookup's timing says nothing about a value. Both are bounded: the oldest
pending link or session is dropped first. The clock is injected.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["LINK_TTL_S", "SESSION_HEADER", "SESSION_META", "SESSION_TTL_S", "WebAuth"]

#: The header the page sends its session credential in.
SESSION_HEADER = "X-Session"
#: The ``<meta>`` name the login answer hands the credential to the page under.
SESSION_META = "si-session"
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
        """A new session credential for a valid, unused ``token``; None otherwise."""
        expiry = self._links.pop(_hash(token), None)
        if expiry is None or expiry < self._clock():
            return None
        credential = secrets.token_urlsafe(32)
        _put(self._sessions, _hash(credential), self._clock() + SESSION_TTL_S, _MAX_SESSIONS)
        return credential

    def allows(self, credential: str | None) -> bool:
        """Whether ``credential`` (what the page sent) is a live session."""
        if not credential:
            return False
        expiry = self._sessions.get(_hash(credential))
        if expiry is None:
            return False
        if expiry < self._clock():
            del self._sessions[_hash(credential)]
            return False
        return True


def _put(table: OrderedDict[bytes, float], key: bytes, expiry: float, most: int) -> None:
    table[key] = expiry
    while len(table) > most:
        table.popitem(last=False)


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
