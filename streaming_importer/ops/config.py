"""Settings: one frozen dataclass, built once from the environment.

This module is the only reader of environment variables. Tests pass a plain
mapping to :meth:`Settings.from_env`; nothing patches ``os.environ``. A bad
value raises :class:`~streaming_importer.errors.ConfigError` naming the
variable and the value, before any work starts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streaming_importer.errors import ConfigError
from streaming_importer.ops import values
from streaming_importer.ops.env import Env
from streaming_importer.ops.values import SEARCH_MODES, SOURCE_NAMES
from streaming_importer.sources.files import Source

__all__ = ["DEFAULT_MODEL", "SEARCH_MODES", "Settings"]

#: The default embedding model's name: all-MiniLM-L6-v2, built offline from two
#: PyPI packages (which of its files it means: ``embed.DEFAULT_VARIANT``).
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

#: Each source: the variable naming its folder, that setting, and the part below it read.
_SOURCE_FOLDERS = {
    "claude": ("CONVERSATIONS_DIR", "conversations_dir", ""),
    "codex": ("CODEX_HOME", "codex_home", "sessions"),
    "gemini": ("GEMINI_DIR", "gemini_dir", "tmp"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of the program. Sizes are in the unit their name says."""

    #: Claude Code's transcripts: folder read recursively for ``*.jsonl``.
    conversations_dir: Path
    #: Codex CLI's home; its rollouts are under ``sessions/``.
    codex_home: Path
    #: Gemini CLI's folder; its chats are under ``tmp/<project>/chats/``.
    gemini_dir: Path
    #: Which agents' transcripts are read (``claude``, ``codex``, ``gemini``):
    #: by default each one whose folder exists.
    sources: tuple[str, ...]
    #: Checkpoint, model folder and embedded store live here.
    state_dir: Path
    #: Where model folders are assembled or cached (default: state_dir/models).
    models_dir: Path
    #: Unset: the embedded store (qdrant-edge-py) in ``state_dir/qdrant``.
    qdrant_url: str | None
    qdrant_api_key: str | None
    #: Shards and copies of each for a collection the server creates.
    qdrant_shards: int
    qdrant_replicas: int
    #: Points the embedded store takes before an index build (sink.layout).
    store_index_points: int
    collection_name: str
    #: Part of every point id and payload, so importers on several machines
    #: can share one Qdrant server without collisions.
    source_name: str
    embedding_model: str
    #: Largest chunk in model tokens, special tokens included.
    chunk_max_tokens: int
    #: Tokens repeated at the start of the next chunk when a text is split.
    chunk_overlap_tokens: int
    #: Tool results are cut to this many characters before chunking.
    tool_result_max_chars: int
    #: A tool call's one-line summary is cut to this many characters.
    tool_call_max_chars: int
    #: Padded tokens (longest sequence x batch size) per model call.
    embed_batch_tokens: int
    #: Intra-op threads for ONNX Runtime; 0 lets it choose (one per core).
    embed_threads: int
    #: ONNX Runtime's CPU memory arena (keeps the largest batch's buffers).
    embed_cpu_arena: bool
    #: Vectors kept for texts that recur (each about 1.5 KB); 0 disables.
    embed_cache_entries: int
    #: Points per upsert request.
    upsert_batch_points: int
    #: Items held by each queue between stages.
    queue_max_items: int
    #: Lines read between two checkpoints within one large file.
    checkpoint_every_lines: int
    #: A longer line is skipped (and counted) without being held in memory.
    max_line_bytes: int
    #: A larger transcript that is read whole (Gemini CLI chats, the Codex
    #: TypeScript CLI's rollouts) is quarantined unread, in bytes.
    max_document_bytes: int
    #: Bytes per read from a transcript.
    read_block_bytes: int
    #: Seconds allowed for a graceful shutdown.
    shutdown_timeout_s: float
    #: Seconds between two full scans while watching (catches missed events).
    rescan_interval_s: float
    #: Bytes read from one transcript before the others get their turn.
    fair_slice_bytes: int
    #: Globs on project paths (or last folder names) never imported.
    exclude_projects: tuple[str, ...]
    #: Replace API keys, tokens, passwords and private keys with
    #: ``[REDACTED:<kind>]`` before embedding and storage.
    redact_secrets: bool
    #: Keep every transcript imported, compressed, in ``state_dir/archive``.
    archive: bool
    #: How ``search`` ranks: ``hybrid`` (BM25 and the model, fused), ``dense`` or ``bm25``.
    search_mode: str
    #: ``search`` weighs recent messages up by default (``--no-recent`` off).
    search_recent: bool
    #: Age at which a message's recency bonus has halved, in seconds.
    search_half_life_s: float
    #: Remove the points of a transcript that was deleted from the folder.
    delete_removed_files: bool
    #: Anonymous memory (MiB) above which the importer finishes what is in
    #: flight, checkpoints and exits 75; 0 disables.
    operational_memory_mb: int
    #: Seconds between two summary log lines.
    summary_interval_s: float
    #: Seconds the store may stay unreachable (retried with backoff) before
    #: the importer gives up and exits 1.
    store_retry_timeout_s: float
    #: TCP port on which a running importer also answers search, status and
    #: forget, with the token in ``state_dir/control.token``; None (the
    #: default): only its Unix socket ``state_dir/control.sock``; 0: any free port.
    control_port: int | None
    #: Address of that TCP port (loopback unless opened on purpose, in a container).
    control_host: str
    #: The operator says a TLS proxy (or a port published only on the host's
    #: loopback) is the only way to CONTROL_HOST when it is not a loopback address.
    control_behind_proxy: bool
    #: Loopback port of the web page while the importer runs (0: any free
    #: one); None: no page.
    web_port: int | None
    #: Hard time limit of one MCP tool call, in seconds.
    mcp_call_timeout_s: float
    #: Port of ``/metrics`` (Prometheus) and ``/health``; None: not served.
    metrics_port: int | None
    #: Address the metrics port listens on (loopback unless opened on purpose).
    metrics_host: str
    #: Seconds without an event-loop heartbeat after which ``/health`` says unhealthy.
    health_stall_s: float
    #: Seconds bytes may wait without the checkpoint moving before ``/health``
    #: says unhealthy.
    health_checkpoint_stale_s: float
    log_level: str
    #: ``text`` (default) or ``json`` (one object per line).
    log_format: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``environ``; raise ConfigError on the first bad value."""
        env = Env(environ)
        settings = cls(
            conversations_dir=env.path("CONVERSATIONS_DIR", "~/.claude/projects"),
            codex_home=env.path("CODEX_HOME", "~/.codex"),
            gemini_dir=env.path("GEMINI_DIR", "~/.gemini"),
            # Unset: decided below, from which folders exist.
            sources=env.optional("SOURCES", values.parse_sources) or (),
            state_dir=(state_dir := env.path("STATE_DIR", "./state")),
            models_dir=env.path("MODELS_DIR", str(state_dir / "models")),
            qdrant_url=env.optional("QDRANT_URL", values.parse_url),
            qdrant_api_key=env.optional("QDRANT_API_KEY", str),
            qdrant_shards=env.int("QDRANT_SHARDS", 1, low=1, high=1024),
            qdrant_replicas=env.int("QDRANT_REPLICAS", 1, low=1, high=64),
            store_index_points=env.int("STORE_INDEX_POINTS", 10_000, low=256, high=10**7),
            collection_name=env.get("COLLECTION_NAME", "conversations", values.parse_name),
            source_name=env.get("SOURCE_NAME", "local", values.parse_name),
            embedding_model=env.get("EMBEDDING_MODEL", DEFAULT_MODEL, values.parse_nonempty),
            chunk_max_tokens=env.int("CHUNK_MAX_TOKENS", 128, low=16, high=8192),
            chunk_overlap_tokens=env.int("CHUNK_OVERLAP_TOKENS", 16, low=0, high=4096),
            tool_result_max_chars=env.int("TOOL_RESULT_MAX_CHARS", 2000, low=0, high=10**7),
            tool_call_max_chars=env.int("TOOL_CALL_MAX_CHARS", 500, low=20, high=10**6),
            embed_batch_tokens=env.int("EMBED_BATCH_TOKENS", 512, low=16, high=1 << 20),
            embed_threads=env.int("EMBED_THREADS", 0, low=0, high=256),
            embed_cpu_arena=env.get("EMBED_CPU_ARENA", "true", values.parse_bool),
            embed_cache_entries=env.int("EMBED_CACHE_ENTRIES", 10_000, low=0, high=10_000_000),
            upsert_batch_points=env.int("UPSERT_BATCH_POINTS", 256, low=1, high=100_000),
            queue_max_items=env.int("QUEUE_MAX_ITEMS", 2048, low=1, high=1_000_000),
            checkpoint_every_lines=env.int("CHECKPOINT_EVERY_LINES", 2000, low=1, high=10**9),
            max_line_bytes=env.int("MAX_LINE_BYTES", 64 << 20, low=1024, high=1 << 34),
            max_document_bytes=env.int("MAX_DOCUMENT_BYTES", 16 << 20, low=1024, high=1 << 34),
            read_block_bytes=env.int("READ_BLOCK_BYTES", 1 << 20, low=4096, high=1 << 30),
            shutdown_timeout_s=env.float("SHUTDOWN_TIMEOUT_S", 10.0, low=0.1, high=3600.0),
            rescan_interval_s=env.float("RESCAN_INTERVAL_S", 30.0, low=0.5, high=86400.0),
            fair_slice_bytes=env.int("FAIR_SLICE_BYTES", 4 << 20, low=4096, high=1 << 34),
            delete_removed_files=env.get("DELETE_REMOVED_FILES", "false", values.parse_bool),
            exclude_projects=env.get("EXCLUDE_PROJECTS", "", values.parse_globs),
            redact_secrets=env.get("REDACT_SECRETS", "true", values.parse_bool),
            archive=env.get("ARCHIVE", "on", values.parse_bool),
            search_mode=env.get("SEARCH_MODE", "hybrid", values.parse_search_mode),
            search_recent=env.get("SEARCH_RECENT", "false", values.parse_bool),
            search_half_life_s=env.get("SEARCH_HALF_LIFE", "30d", values.parse_duration),
            control_port=env.optional("CONTROL_PORT", values.parse_port),
            control_host=env.get("CONTROL_HOST", "127.0.0.1", values.parse_nonempty),
            control_behind_proxy=env.get("CONTROL_BEHIND_PROXY", "false", values.parse_bool),
            web_port=env.get("WEB_PORT", "0", values.parse_web_port),
            operational_memory_mb=env.int("OPERATIONAL_MEMORY_MB", 1024, low=0, high=1 << 20),
            summary_interval_s=env.float("SUMMARY_INTERVAL_S", 60.0, low=1.0, high=86400.0),
            store_retry_timeout_s=env.float(
                "STORE_RETRY_TIMEOUT_S", 300.0, low=0.0, high=7 * 86400.0
            ),
            mcp_call_timeout_s=env.float("MCP_CALL_TIMEOUT_S", 20.0, low=0.001, high=3600.0),
            metrics_port=env.optional("METRICS_PORT", values.parse_port),
            metrics_host=env.get("METRICS_HOST", "127.0.0.1", values.parse_nonempty),
            health_stall_s=env.float("HEALTH_STALL_S", 30.0, low=0.5, high=86400.0),
            health_checkpoint_stale_s=env.float(
                "HEALTH_CHECKPOINT_STALE_S", 600.0, low=0.5, high=7 * 86400.0
            ),
            log_level=env.get("LOG_LEVEL", "INFO", values.parse_log_level),
            log_format=env.get("LOG_FORMAT", "text", values.parse_log_format),
        )
        if not (settings.control_behind_proxy or values.is_loopback(settings.control_host)):
            raise ConfigError(
                f"CONTROL_HOST={settings.control_host!r} is not a loopback address: the control "
                "port's bearer token would cross the network in clear. Keep it on 127.0.0.1 "
                "(in a container, publish the port on the host's 127.0.0.1), or set "
                "CONTROL_BEHIND_PROXY=true if a TLS proxy in front is the only way in"
            )
        if settings.chunk_overlap_tokens >= settings.chunk_max_tokens // 2:
            raise ConfigError(
                f"CHUNK_OVERLAP_TOKENS={str(settings.chunk_overlap_tokens)!r} must be less than "
                f"half of CHUNK_MAX_TOKENS={str(settings.chunk_max_tokens)!r}"
            )
        if not settings.sources:
            # Every source whose folder exists; Claude Code's if none does (so
            # its absence is what gets reported).
            present = tuple(s.name for s in settings._folders(SOURCE_NAMES) if s.root.is_dir())
            settings = dataclasses.replace(settings, sources=present or ("claude",))
        return settings

    @property
    def source_folders(self) -> tuple[Source, ...]:
        """The folder of each source read."""
        return self._folders(self.sources)

    def _folders(self, names: tuple[str, ...]) -> tuple[Source, ...]:
        return tuple(
            Source(name, getattr(self, _SOURCE_FOLDERS[name][1]) / _SOURCE_FOLDERS[name][2])
            for name in names
        )

    def missing_folder(self) -> str | None:
        """What is wrong if the folder of a source read does not exist (naming the variable)."""
        for source in self.source_folders:
            if not source.root.is_dir():
                variable, field, below = _SOURCE_FOLDERS[source.name]
                where = f" (its {below}/ folder)" if below else ""
                return (
                    f"{variable}={str(getattr(self, field))!r}{where} does not exist or is not "
                    f"a folder (SOURCES={','.join(self.sources)})"
                )
        return None

    # Derived paths: one place decides the layout of the state folder.
    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "checkpoint.json"

    @property
    def store_dir(self) -> Path:
        return self.state_dir / "qdrant"

    @property
    def archive_dir(self) -> Path | None:
        """Where transcripts are kept compressed; None with ``ARCHIVE=off``."""
        return self.state_dir / "archive" if self.archive else None

    @property
    def runtime_path(self) -> Path:
        """Written by a running importer: its pid and control port."""
        return self.state_dir / "importer.json"

    @property
    def quarantine_path(self) -> Path:
        return self.state_dir / "quarantine.jsonl"

    def log_summary(self, logger: logging.Logger) -> None:
        """Log the effective settings at INFO, on one line, with secrets masked."""
        parts = []
        for field in dataclasses.fields(self):
            value: Any = getattr(self, field.name)
            if field.name == "qdrant_api_key" and value:
                value = "***"
            elif field.name == "qdrant_url" and value:
                value = values.mask_url(value)
            parts.append(f"{field.name.upper()}={value}")
        logger.info("settings: %s", " ".join(parts))
