"""The fixed dev/test split of the project's own questions (issue 14).

Every question goes to one half by a hash of its text and a fixed seed, so the
split never changes, and adding questions never moves one already placed.
Constants and weights are chosen on ``dev`` only; figures are reported on
``test``, and a constant chosen on a set is never reported on that set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["SEED", "half", "split"]

#: Fixed once; changing it would mix the halves.
SEED = "streaming-importer-issue-14"

_Q = TypeVar("_Q")


def half(text: str) -> str:
    """``"dev"`` or ``"test"`` for a question's text."""
    digest = hashlib.sha256(f"{SEED}:{text}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def split(questions: Iterable[_Q], text: str = "text") -> tuple[list[_Q], list[_Q]]:
    """(dev, test): the questions whose ``text`` attribute falls in each half."""
    dev: list[_Q] = []
    test: list[_Q] = []
    for q in questions:
        (dev if half(getattr(q, text)) == "dev" else test).append(q)
    return dev, test
