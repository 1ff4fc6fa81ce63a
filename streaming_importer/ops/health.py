"""Is the importer healthy? A snapshot of its state and a pure verdict on it.

The running importer takes a :class:`Snapshot` once a second on its event
loop. :func:`assess` judges one, given the current time, so it can run in
another thread (the metrics server's): a snapshot that has stopped getting
younger means the event loop is stuck, which only a thread outside the loop
can say.

Verdicts:

- ``unhealthy`` (HTTP 503): the loop has not run for ``HEALTH_STALL_S``, or
  bytes have been waiting longer than ``HEALTH_CHECKPOINT_STALE_S`` without
  the checkpoint moving (stuck pipeline, store down for long).
- ``degraded``: the store does not answer (writes are being retried).
- ``ok`` otherwise. Memory has its own level (normal below 70% of
  ``OPERATIONAL_MEMORY_MB``, elevated, high above 90%); the ceiling itself
  is acted on by the importer (a clean exit 75), so a level alone does not
  make the process unhealthy.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Snapshot", "assess", "memory_check"]

#: Shares of OPERATIONAL_MEMORY_MB where the memory level changes.
ELEVATED_AT = 0.70
HIGH_AT = 0.90


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """The importer's state at one moment. Times: ``taken`` monotonic, others Unix seconds."""

    taken: float
    rss_mb: float
    anon_mb: float
    ceiling_mb: int
    #: Bytes in the folder not yet in the checkpoint (as of the last scan).
    lag_bytes: int
    #: When the checkpoint was last saved (this run), or None.
    last_checkpoint: float | None
    #: Since when bytes have been pending without the checkpoint moving, or None.
    pending_since: float | None
    #: Seconds the store has not answered, or None when it answers.
    store_down_s: float | None
    stopping: bool


def memory_check(rss_mb: float, anon_mb: float, ceiling_mb: int) -> dict[str, Any]:
    """Memory against the ceiling: anonymous memory is what the ceiling judges."""
    check: dict[str, Any] = {
        "rss_mb": round(rss_mb, 1),
        "anon_mb": round(anon_mb, 1),
        "ceiling_mb": ceiling_mb or None,
    }
    if not ceiling_mb:
        return {**check, "used": None, "level": "normal"}
    used = anon_mb / ceiling_mb
    level = "high" if used > HIGH_AT else "elevated" if used >= ELEVATED_AT else "normal"
    return {**check, "used": round(used, 3), "level": level}


def assess(
    snap: Snapshot, *, now: float, wall: float, stall_s: float, stale_s: float
) -> dict[str, Any]:
    """The health report of ``snap``: ``now`` monotonic and ``wall`` Unix seconds."""
    problems = []
    silent = now - snap.taken
    if silent > stall_s:
        problems.append(f"the event loop has not run for {silent:.0f} s")
    if snap.lag_bytes > 0 and snap.pending_since is not None:
        waiting = wall - max(snap.pending_since, snap.last_checkpoint or 0.0)
        if waiting > stale_s:
            problems.append(
                f"{snap.lag_bytes} bytes pending and the checkpoint has not moved for "
                f"{waiting:.0f} s"
            )
    if problems:
        status = "unhealthy"
    elif snap.store_down_s is not None:
        status = "degraded"
        problems.append(f"the store has not answered for {snap.store_down_s:.0f} s")
    else:
        status = "ok"
    return {
        "status": status,
        "problems": problems,
        "memory": memory_check(snap.rss_mb, snap.anon_mb, snap.ceiling_mb),
        "lag_bytes": snap.lag_bytes,
        "last_checkpoint": snap.last_checkpoint,
        "checkpoint_age_s": None
        if snap.last_checkpoint is None
        else round(wall - snap.last_checkpoint, 1),
        "store": "ok" if snap.store_down_s is None else "unreachable",
        "stopping": snap.stopping,
    }
