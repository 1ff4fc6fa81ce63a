"""A local stand-in for a Qdrant server that fails on demand (tests only).

It speaks just the REST calls the importer's server sink makes on a new
collection (exists, create, index, upsert, count, delete, set payload) and
keeps the upserted point ids. ``fail_next`` requests answer 503.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QdrantStandIn:
    def __init__(self) -> None:
        self.points: dict[str, dict[str, Any]] = {}
        self.collections: set[str] = set()
        #: The body of each collection's creation, by name.
        self.created: dict[str, Any] = {}
        #: Paths of the requests answered, in order.
        self.answered: list[str] = []
        self.fail_next = 0
        self.failed = 0
        self.upserts = 0
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def _answer(self, status: int, result: Any) -> None:
                # The root answers unwrapped, as Qdrant does (the client's version check).
                wrapped = {"result": result, "status": "ok", "time": 0.0}
                data = json.dumps(result if self.path == "/" else wrapped).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                body = self._body()
                with stand_in.lock:
                    if stand_in.fail_next:
                        stand_in.fail_next -= 1
                        stand_in.failed += 1
                        self._answer(503, None)
                        return
                    self._answer(200, stand_in.route(self.command, self.path, body))
                    stand_in.answered.append(self.path)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, method: str, path: str, body: Any) -> Any:
        path = path.split("?")[0]
        done = {"operation_id": 0, "status": "completed"}
        if path == "/":
            return {"title": "qdrant stand-in", "version": "1.20.0"}
        if m := re.fullmatch(r"/collections/([^/]+)/exists", path):
            return {"exists": m.group(1) in self.collections}
        if re.fullmatch(r"/collections/[^/]+", path) and method == "PATCH":
            return True  # collection metadata (the redaction rule set)
        if m := re.fullmatch(r"/collections/([^/]+)", path):
            self.collections.add(m.group(1))
            self.created[m.group(1)] = body
            return True
        if re.fullmatch(r"/collections/[^/]+/index", path):
            return done
        if re.fullmatch(r"/collections/[^/]+/points", path) and method == "PUT":
            self.upserts += 1
            for p in body["points"]:
                self.points[str(p["id"])] = p["payload"]
            return done
        if re.fullmatch(r"/collections/[^/]+/points/count", path):
            return {"count": len(self.points)}
        if re.fullmatch(r"/collections/[^/]+/points/(delete|payload)", path):
            return done
        raise AssertionError(f"the stand-in does not know {method} {path}")

    def __enter__(self) -> QdrantStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
