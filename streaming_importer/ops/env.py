"""Typed look-ups in an environment mapping: a bad value names its variable and the value.

Only :class:`~streaming_importer.ops.config.Settings` uses it: the settings are
the one reader of the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from streaming_importer.errors import ConfigError

__all__ = ["Env"]

_T = TypeVar("_T")


class Env:
    """Typed look-ups in an environment mapping; errors name variable and value."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def get(self, name: str, default: str, parse: Callable[[str], _T]) -> _T:
        raw = self._raw(name)
        return self._parse(name, default if raw is None else raw, parse)

    def optional(self, name: str, parse: Callable[[str], _T]) -> _T | None:
        raw = self._raw(name)
        return None if raw is None else self._parse(name, raw, parse)

    def path(self, name: str, default: str) -> Path:
        return self.get(name, default, lambda v: Path(v).expanduser())

    def int(self, name: str, default: int, *, low: int, high: int) -> int:
        def parse(value: str) -> int:
            number = int(value.replace("_", ""))
            if not low <= number <= high:
                raise ValueError(f"must be between {low} and {high}")
            return number

        return self.get(name, str(default), parse)

    def float(self, name: str, default: float, *, low: float, high: float) -> float:
        def parse(value: str) -> float:
            number = float(value)
            if not low <= number <= high:
                raise ValueError(f"must be between {low} and {high}")
            return number

        return self.get(name, str(default), parse)

    @staticmethod
    def _parse(name: str, value: str, parse: Callable[[str], _T]) -> _T:
        try:
            return parse(value)
        except ValueError as e:
            raise ConfigError(f"{name}={value!r} is not valid: {e}") from e
