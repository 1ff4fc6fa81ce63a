"""Queries: what to look for and where (filters, times, mode), and how many to fetch.

:class:`SearchQuery` is what the command line, the MCP server and the control
port build; it travels to a running importer as query parameters
(:meth:`SearchQuery.to_params`). Pure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from streaming_importer.ops.values import SEARCH_MODES, is_duration, parse_duration
from streaming_importer.sources.files import AGENTS
from streaming_importer.state.privacy import project_field
from streaming_importer.store import Where

__all__ = [
    "AGENT_NAMES",
    "KINDS",
    "MAX_LIMIT",
    "MODES",
    "OVERSAMPLE",
    "SearchQuery",
    "agent_where",
    "candidates",
    "parse_kinds",
    "parse_when",
]

#: How a query ranks chunks (see config.SEARCH_MODES).
MODES = SEARCH_MODES
#: Message kinds a chunk can have (``--kind``).
#: Agents whose transcripts are read (``--agent``).
AGENT_NAMES = tuple(AGENTS.values())
KINDS = ("prompt", "answer", "thinking", "tool_call", "tool_result", "summary", "injected")
#: Sessions one query may ask for: each costs the store a few reads for its
#: context, and a running importer's store thread is the pipeline's too.
MAX_LIMIT = 100
#: Chunks fetched per session asked for (at least 50).
OVERSAMPLE = 10


def parse_when(text: str, now: dt.datetime, *, end: bool = False) -> str:
    """A ``--since``/``--until`` value -> an ISO 8601 UTC instant.

    Accepts a duration back from ``now`` ("7d"), a date ("2025-06-01") or a
    date and time ("2025-06-01T14:30", "2025-06-01 14:30+02:00"). Times with
    no zone are local time. With ``end``, a bare date means the end of that
    day (``--until 2025-06-01`` includes June 1st).
    """
    text = text.strip()
    if is_duration(text):
        return _iso(now - dt.timedelta(seconds=parse_duration(text)))
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date, a date and time, or a duration like 7d"
        ) from None
    if end and len(text) == 10:  # a bare date
        when += dt.timedelta(days=1)
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    return _iso(when)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for, and where. Times are ISO 8601 UTC (see :func:`parse_when`)."""

    text: str
    limit: int = 10
    #: A project's full path, or just its last folder name.
    project: str | None = None
    session: str | None = None
    kinds: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    #: Recency half-life in seconds; None means pure similarity.
    half_life_s: float | None = None
    mode: str = "hybrid"
    #: Leave this session out (an agent searching from inside it).
    exclude_session: str | None = None
    #: Only what this agent wrote: ``claude-code``, ``codex`` or ``gemini-cli``.
    agent: str | None = None
    #: Only what the importer of this ``SOURCE_NAME`` (machine) wrote.
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("the query is empty")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit={self.limit} must be between 1 and {MAX_LIMIT}")
        for kind in self.kinds:
            if kind not in KINDS:
                raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if self.half_life_s is not None and self.half_life_s <= 0:
            raise ValueError("the recency half-life must be positive")
        if self.agent is not None and self.agent not in AGENT_NAMES:
            raise ValueError(f"agent {self.agent!r} is not one of {', '.join(AGENT_NAMES)}")
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")

    def where(self) -> Where:
        equals: dict[str, str | tuple[str, ...]] = {}
        if self.project:
            field, value = project_field(self.project)
            equals[field] = value
        if self.session:
            equals["session_id"] = self.session
        if self.source:
            equals["source"] = self.source
        if self.kinds:
            equals["kind"] = self.kinds if len(self.kinds) > 1 else self.kinds[0]
        differs: dict[str, str | tuple[str, ...]] = {}
        if self.exclude_session:
            differs["session_id"] = self.exclude_session
        if self.agent:
            mine = agent_where(self.agent)
            equals.update(mine.equals)
            differs.update(mine.differs)
        return Where(equals, since=self.since, until=self.until, differs=differs)

    def to_params(self) -> dict[str, str]:
        """As query parameters for the running importer's ``/search``."""
        params = {"q": self.text, "limit": str(self.limit), "mode": self.mode}
        for key, value in (
            ("project", self.project),
            ("session", self.session),
            ("kind", ",".join(self.kinds)),
            ("since", self.since),
            ("until", self.until),
            ("half_life_s", None if self.half_life_s is None else repr(self.half_life_s)),
            ("exclude_session", self.exclude_session),
            ("agent", self.agent),
            ("source", self.source),
        ):
            if value:
                params[key] = value
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchQuery:
        """The inverse of :meth:`to_params`; raises ValueError on a bad value."""
        half_life = params.get("half_life_s")
        return cls(
            text=params.get("q", ""),
            limit=int(params.get("limit", "10")),
            project=params.get("project") or None,
            session=params.get("session") or None,
            kinds=parse_kinds(params.get("kind", "")),
            since=params.get("since") or None,
            until=params.get("until") or None,
            half_life_s=float(half_life) if half_life else None,
            mode=params.get("mode", "hybrid"),
            exclude_session=params.get("exclude_session") or None,
            agent=params.get("agent") or None,
            source=params.get("source") or None,
        )


def agent_where(agent: str) -> Where:
    """The points of ``agent``'s sessions."""
    if agent == "claude-code":
        # Points stored before agents were told apart have no ``agent``: they
        # are all Claude Code's.
        return Where(differs={"agent": tuple(a for a in AGENT_NAMES if a != agent)})
    return Where(equals={"agent": agent})


def parse_kinds(text: str) -> tuple[str, ...]:
    """``"prompt,tool call"`` -> ``("prompt", "tool_call")``."""
    kinds = (k.strip().lower().replace("-", "_").replace(" ", "_") for k in text.split(","))
    return tuple(k for k in kinds if k)


def candidates(limit: int) -> int:
    """How many chunks to fetch for ``limit`` sessions."""
    return max(limit * OVERSAMPLE, 50)
