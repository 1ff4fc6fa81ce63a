"""Exit codes and the exception tree.

    ImporterError
    ├── ConfigError          a bad setting                       -> exit 2
    ├── StartupError         model or store cannot be opened     -> exit 3
    │   ├── ModelError
    │   ├── StoreError
    │   │   └── StoreLockedError   another process holds the store
    │   └── ModelMismatchError     the collection was built with another model (exit 2)
    ├── StoreUnavailableError  the store stopped answering (transient: retried)
    ├── CheckpointError      the checkpoint cannot be read or written
    └── ControlError         the running importer answered a request with its own failure

Anything else is a bug: it propagates, is logged once by the CLI and exits 1.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The process exit codes; docs/usage.md lists the same table."""

    OK = 0
    ERROR = 1
    CONFIG = 2
    STARTUP = 3
    #: The memory ceiling was reached; everything in flight was checkpointed,
    #: so a restart resumes (EX_TEMPFAIL).
    MEMORY_CEILING = 75


class ImporterError(Exception):
    """Base of every error the program expects and maps to an exit code."""

    exit_code: ExitCode = ExitCode.ERROR


class ConfigError(ImporterError):
    """A setting is missing or has a bad value; the message names both."""

    exit_code = ExitCode.CONFIG


class StartupError(ImporterError):
    """A dependency needed before any work (model, store) is unavailable."""

    exit_code = ExitCode.STARTUP


class ModelError(StartupError):
    """The embedding model cannot be assembled or loaded."""


class StoreError(StartupError):
    """The vector store cannot be opened or reached."""


class StoreLockedError(StoreError):
    """Another process holds the embedded store's folder."""


class ModelMismatchError(ImporterError):
    """The collection was built with another model or dimension."""

    exit_code = ExitCode.CONFIG


class StoreUnavailableError(ImporterError):
    """The store did not answer; retried with backoff, then fatal (exit 1)."""


class CheckpointError(ImporterError):
    """The checkpoint cannot be read or written."""


class ControlError(ImporterError):
    """The running importer could not answer a request (it said why)."""
