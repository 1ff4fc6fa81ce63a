"""What the embedded store keeps beside a shard: ``<collection>.json``.

The model identity the shard was built with (written once, atomically, when
it is created) and the redaction rule set its text was stored under.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from streaming_importer.errors import StoreError
from streaming_importer.store.base import SCHEMA, ModelIdentity

__all__ = ["ShardMeta"]

#: The key of the redaction rule set, beside the identity's.
_REDACTION = "redaction"


class ShardMeta:
    """The JSON file at ``path``: the shard's identity and redaction rule set."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def write_identity(self, identity: ModelIdentity) -> None:
        self._replace({**identity.to_json(), "schema": SCHEMA})

    def identity(self) -> dict[str, Any] | None:
        """The identity (and schema) stored, or None if there is none."""
        data = self._read()
        return None if data is None else {k: v for k, v in data.items() if k != _REDACTION}

    def redaction(self) -> str | None:
        rules = (self._read() or {}).get(_REDACTION)
        return rules if isinstance(rules, str) else None

    def record_redaction(self, rules: str) -> None:
        self._replace({**(self._read() or {}), _REDACTION: rules})

    def delete(self) -> None:
        self._path.unlink(missing_ok=True)

    def _replace(self, data: dict[str, Any]) -> None:
        tmp = self._path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self._path)

    def _read(self) -> dict[str, Any] | None:
        """Raises StoreError if the file cannot be read."""
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise StoreError(f"cannot read {self._path}: {e}") from e
        return data if isinstance(data, dict) else None
