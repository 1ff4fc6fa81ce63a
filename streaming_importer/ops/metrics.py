"""Prometheus metrics and ``/health``, served from a thread on ``METRICS_PORT``.

The server runs in its own thread, not on the event loop, so it still
answers (``/health``: 503, unhealthy) when the loop is stuck. Counters and
gauges are read at scrape time from the importer's last :class:`Snapshot`
and its run counters; the histograms are observed where the work happens.
Each :class:`Metrics` has its own registry (several importers can live in
one test process).

Exported names (all prefixed ``streaming_importer_``) are listed in
:data:`EXPORTED`; ``monitoring/alerts.yaml`` may use only those.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["EXPORTED", "Metrics", "Reading", "serve"]

logger = logging.getLogger(__name__)

P = "streaming_importer_"

#: Counters: name -> help. Values come from :class:`Reading.counters`.
COUNTERS = {
    "files_imported": "Transcripts read to their end, this run.",
    "lines": "Transcript lines read and acknowledged by the store, this run.",
    "chunks": "Chunks embedded and stored, this run.",
    "tokens_embedded": "Model tokens computed, this run.",
    "tokens_reused": "Tokens whose vectors came from the cache, this run.",
    "points_written": "Points acknowledged by the store, this run.",
    "quarantined_lines": "Bad lines set aside (see quarantine.jsonl), this run.",
    "secrets_redacted": "Secrets replaced by [REDACTED:...] markers, this run.",
    "memory_ceiling_exits": "Exits at OPERATIONAL_MEMORY_MB, over the state folder's life.",
}
#: Gauges: name -> help. Values come from :class:`Reading.gauges`.
GAUGES = {
    "files": "Transcripts in the conversations folder at the last scan.",
    "lag_bytes": "Bytes in the folder not yet stored and checkpointed.",
    "rss_bytes": "Resident memory of the process.",
    "anon_bytes": "Anonymous resident memory (what OPERATIONAL_MEMORY_MB judges).",
    "memory_ceiling_bytes": "OPERATIONAL_MEMORY_MB in bytes (0: no ceiling).",
    "last_checkpoint_timestamp_seconds": "Unix time of the last checkpoint save (0: none).",
    "checkpoint_age_seconds": "Seconds since the last checkpoint save.",
    "store_up": "1 if the store answers, 0 while writes are being retried.",
    "loop_heartbeat_age_seconds": "Seconds since the event loop last took a snapshot.",
    "healthy": "1 unless /health says unhealthy.",
}
HISTOGRAMS = {
    "embed_batch_seconds": "Time of one model call (one batch), seconds.",
    "embed_batch_tokens": "Padded tokens of one model call.",
    "store_write_seconds": "Time of one acknowledged upsert request, seconds.",
}
#: Every metric family the program exports (without the prefix).
EXPORTED = frozenset(
    {*(f"{n}_total" for n in COUNTERS), *GAUGES, *HISTOGRAMS},
)


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    """Counters and gauges as of now, by name without the prefix; made for a scrape."""

    counters: dict[str, float]
    gauges: dict[str, float]


class _Collector(Collector):
    def __init__(self, read: Callable[[], Reading]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        reading = self._read()
        for name, doc in COUNTERS.items():
            counter = CounterMetricFamily(P + name, doc)
            counter.add_metric([], reading.counters.get(name, 0.0))
            yield counter
        for name, doc in GAUGES.items():
            yield GaugeMetricFamily(P + name, doc, value=reading.gauges.get(name, 0.0))


class Metrics:
    """One importer's registry: scrape-time counters and gauges, and histograms."""

    def __init__(self, read: Callable[[], Reading]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(read))
        self.embed_seconds = Histogram(
            P + "embed_batch_seconds",
            HISTOGRAMS["embed_batch_seconds"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.batch_tokens = Histogram(
            P + "embed_batch_tokens",
            HISTOGRAMS["embed_batch_tokens"],
            buckets=(32, 64, 128, 256, 512, 1024, 2048, 4096),
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            P + "store_write_seconds",
            HISTOGRAMS["store_write_seconds"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


#: Requests answered at once; more are turned away (connection closed).
MAX_CONNECTIONS = 8
#: Seconds a client may take to send its request or read the answer.
REQUEST_TIMEOUT_S = 5.0


class _BoundedServer(ThreadingHTTPServer):
    """A thread per request, but at most :data:`MAX_CONNECTIONS` of them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(
    host: str, port: int, metrics: Metrics, health: Callable[[], dict[str, Any]]
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``/metrics`` and ``/health`` on ``host:port`` from a daemon thread.

    Returns the server (call ``shutdown()``) and its thread. Raises OSError
    if the port cannot be bound.
    """

    class Handler(BaseHTTPRequestHandler):
        # A client that stalls is dropped after this many seconds.
        timeout = REQUEST_TIMEOUT_S

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.exposition())
            elif path == "/health":
                report = health()
                code = 503 if report["status"] == "unhealthy" else 200
                self._send(code, "application/json", json.dumps(report).encode())
            else:
                self._send(404, "text/plain", b"not found: try /metrics or /health\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # one line per scrape would drown the log

    server = _BoundedServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    logger.info("metrics and health on http://%s:%d/metrics and /health", host, server.server_port)
    return server, thread
