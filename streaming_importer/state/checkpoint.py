"""Import progress: a versioned JSON file, replaced atomically.

The checkpoint says, for every transcript, up to which byte offset its lines
are durably in the store. The lifecycle advances it only after the sink
acknowledged the points of those lines, so a crash at any moment leaves a
checkpoint that is behind the store, never ahead of it; re-importing the
lines after it is harmless because point ids are deterministic.

Writes go to a temporary file in the same folder, are fsync'ed, renamed over
the old file, and the folder is fsync'ed: a reader sees the old state or the
new one, never a torn file. A file that cannot be read is an error, never an
empty state: starting from scratch silently would hide the damage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from streaming_importer.errors import CheckpointError
from streaming_importer.sources.files import FileIdentity
from streaming_importer.state.counters import Counts
from streaming_importer.state.privacy import Tombstones

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "FileState",
    "load",
    "remove_stale_temporaries",
    "save",
]

FORMAT_VERSION = 1

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class FileState:
    """Progress of one transcript."""

    #: Bytes from the start of the file whose lines are all in the store.
    offset: int
    #: The file and its content as of ``offset``.
    identity: FileIdentity
    #: The parser's context after the line that ends at ``offset``.
    context: dict[str, Any]
    #: Size of the file when it was last read.
    size: int = 0
    #: Lines and chunks imported from this file so far.
    lines: int = 0
    chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        # Flat, as version 1 has always written it.
        data = dataclasses.asdict(self)
        data.update(data.pop("identity"))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileState:
        data = dict(data)
        identity = FileIdentity(**{k: data.pop(k) for k in _IDENTITY_FIELDS if k in data})
        return cls(identity=identity, **data)


_IDENTITY_FIELDS = tuple(f.name for f in dataclasses.fields(FileIdentity))


@dataclasses.dataclass(slots=True)
class Checkpoint:
    """Everything the checkpoint file holds."""

    files: dict[str, FileState] = dataclasses.field(default_factory=dict)
    #: Running totals over the life of the state folder.
    totals: Counts = dataclasses.field(default_factory=Counts)
    #: ISO 8601 time of the last save that advanced any file.
    last_import: str | None = None
    #: Forgotten or do-not-index sessions and projects: never imported again.
    forgotten: Tombstones = dataclasses.field(default_factory=Tombstones)

    def to_json(self) -> bytes:
        data = {
            "version": FORMAT_VERSION,
            "last_import": self.last_import,
            "forgotten": self.forgotten.to_json(),
            "totals": dataclasses.asdict(self.totals),
            "files": {k: v.to_json() for k, v in sorted(self.files.items())},
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint:
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise ValueError(f"format version {version!r}, expected {FORMAT_VERSION}")
        return cls(
            files={k: FileState.from_json(v) for k, v in data["files"].items()},
            totals=Counts(**data["totals"]),
            last_import=data.get("last_import"),
            forgotten=Tombstones.from_json(data.get("forgotten")),
        )


def load(path: Path) -> Checkpoint:
    """Read the checkpoint; no file is an empty checkpoint (a first run, or a reset).

    Each save keeps the previous good copy beside the file (``.prev``). If
    the checkpoint is unreadable or damaged, that copy is used instead, and
    the loss is logged loudly: the lines imported since are read again, which
    is safe because point ids are deterministic. If both are bad, this raises
    CheckpointError: starting silently from scratch would hide the damage.
    """
    previous = _previous(path)
    try:
        return _read(path)
    except FileNotFoundError:
        # Saves never leave the name missing, so a person removed the file:
        # that asks for a fresh import.
        if previous.exists():
            logger.warning(
                "checkpoint %s was removed: importing everything again (%s is ignored)",
                path,
                previous.name,
            )
        return Checkpoint()
    except CheckpointError as e:
        problem = str(e)
    try:
        fallback = _read(previous)
    except (FileNotFoundError, CheckpointError) as e:
        raise CheckpointError(
            f"checkpoint {path} {problem}, and its previous copy cannot be used either ({e}); "
            "move both away to re-import everything (point ids are deterministic, so "
            "nothing is duplicated)"
        ) from e
    logger.error(
        "checkpoint %s %s; using the previous copy (last import %s). Lines imported after "
        "it are read again, which duplicates nothing: point ids are deterministic.",
        path,
        problem,
        fallback.last_import,
    )
    return fallback


def _read(path: Path) -> Checkpoint:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    try:
        return Checkpoint.from_json(raw)
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path} is damaged ({e})") from e


def _previous(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def save(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint atomically and durably.

    Raises CheckpointError if it cannot be written; the previous file is then
    left as it was and no temporary file remains.
    """
    data = checkpoint.to_json()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path}: {e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _keep_previous(path)
        os.replace(tmp_name, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise CheckpointError(f"cannot write checkpoint {path}: {e}") from e
    _fsync_dir(path.parent)


def _keep_previous(path: Path) -> None:
    # The current file becomes the previous copy by a hard link (no copy, and
    # the current name never goes missing); only a readable one is kept.
    try:
        _read(path)
    except (FileNotFoundError, CheckpointError):
        return
    link = path.with_name(f".{path.name}.prev.tmp")
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    os.link(path, link)
    os.replace(link, _previous(path))


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries that a killed writer left beside ``path``.

    Only the importer calls this, at start, while it alone writes the folder.
    """
    for tmp in path.parent.glob(f".{path.name}.*tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
