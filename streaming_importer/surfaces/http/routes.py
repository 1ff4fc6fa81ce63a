"""What the running importer answers on its control surface, by method and path.

``GET /search``, ``/status``, ``/health``, ``/session?id=``, ``/sessions``,
``/transcript``, ``/export``, ``/recall``; ``POST /forget``
with ``session=`` or ``project=`` (the transport, and who may ask, is
:mod:`~streaming_importer.surfaces.http.control`). Searches use the model thread and the
store thread the pipeline uses, so they queue behind a batch rather than run
beside it; a query asks for at most ``MAX_LIMIT`` sessions.

A forget is refused to the intake at once, then travels down the pipeline
behind what is already queued, so nothing queued earlier can bring the points
back (the store stage drops any later point of it too). When the pipeline
stops, :meth:`Routes.settle` does what forgets are still pending directly, or
fails them with a reason: an answer is never lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread

from streaming_importer.embedding.bm25 import Bm25Encoder
from streaming_importer.embedding.embedder import Embedder
from streaming_importer.ops.config import Settings
from streaming_importer.pipeline.intake import Intake
from streaming_importer.pipeline.items import Forget
from streaming_importer.pipeline.ledger import Ledger
from streaming_importer.pipeline.store_stage import StoreStage
from streaming_importer.search.browse import page, sessions
from streaming_importer.search.expand import ExpandError
from streaming_importer.search.find import find
from streaming_importer.search.query import SearchQuery
from streaming_importer.search.recall import conclusion, prompt_query, worth_recalling
from streaming_importer.search.results import session_summary
from streaming_importer.state.archive import Archive
from streaming_importer.state.counters import Stats
from streaming_importer.store import Sink
from streaming_importer.surfaces.export import export_transcript
from streaming_importer.surfaces.http.serving import MethodNotAllowed, NotFound, Unavailable
from streaming_importer.surfaces.recalled import recalled_passages, recent_conclusions
from streaming_importer.surfaces.report import status_report, store_counts

__all__ = ["RECENT_SESSIONS", "Routes"]

#: Sessions whose conclusions recall brings at a session's start.
RECENT_SESSIONS = 3


class Routes:
    """The control port's handler, calling into the stages."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        sink: Sink,
        *,
        intake: Intake,
        store: StoreStage,
        ledger: Ledger,
        stats: Stats,
        health: Callable[[], dict[str, Any]],
        model_thread: anyio.CapacityLimiter,
        store_thread: anyio.CapacityLimiter,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._sink = sink
        self._intake = intake
        self._store = store
        self._ledger = ledger
        self._stats = stats
        self._health = health
        self._model_thread = model_thread
        self._store_thread = store_thread
        self._lexical = Bm25Encoder()
        #: Read by the sessions list: kept, it remembers where each transcript's frames are.
        self._archive = Archive(settings.archive_dir)
        #: Makes a one-time link to the web page, while it is served.
        self.login_url: Callable[[], str] | None = None
        #: Forgets asked for and not yet answered.
        self._pending: set[Forget] = set()
        self._settled = False

    async def answer(self, method: str, path: str, params: dict[str, str]) -> Any:
        """A JSON-able answer; NotFound, MethodNotAllowed, ValueError for bad parameters."""
        if path == "/web-login":
            if method != "POST":
                raise MethodNotAllowed("a login link is made with POST")
            if self.login_url is None:
                raise Unavailable("the web page is not served (WEB_PORT=off)")
            return {"url": self.login_url()}
        if path == "/forget":
            if method != "POST":
                raise MethodNotAllowed("forget deletes: use POST")
            session, project = params.get("session"), params.get("project")
            if bool(session) == bool(project):
                raise ValueError("give exactly one of session or project")
            await self.forget(Forget(session=session or None, project=project or None))
            return {"forgotten": {"session": session, "project": project}}
        if path == "/recall":
            if method != "POST":
                raise MethodNotAllowed("recall is asked with POST (a prompt is no URL)")
            return await self._recall(params)
        if method != "GET":
            raise MethodNotAllowed(f"{path} is read with GET")
        if path == "/search":
            return await self._search(SearchQuery.from_params(params))
        if path == "/status":
            return await self._status()
        if path == "/health":
            return self._health()
        if path == "/sessions":
            return await self._browse(
                sessions,
                self._settings,
                dict(self._ledger.state.files),
                self._ledger.state.forgotten,
                project=params.get("project") or None,
                start=int(params.get("start", "0")),
                limit=int(params.get("limit", "50")),
                archive=self._archive,
            )
        if path == "/transcript":
            return await self._browse(
                page,
                self._settings,
                self._ledger.state.forgotten,
                params.get("path", ""),
                int(params.get("offset", "0")),
                int(params.get("limit", "100")),
            )
        if path == "/export":
            saved = self._ledger.state.files.get(params.get("path", ""))
            exported = await self._browse(
                export_transcript,
                self._settings,
                self._ledger.state.forgotten,
                params.get("path", ""),
                params.get("format", "markdown"),
                saved.context if saved else None,
            )
            return exported.to_json()
        if path == "/session":
            session_id = params.get("id", "")
            if not session_id:
                raise ValueError("the parameter id is required")
            summary = await anyio.to_thread.run_sync(
                session_summary, self._sink, session_id, limiter=self._store_thread
            )
            if summary is None:
                raise NotFound(f"no session {session_id}")
            return summary
        raise NotFound(f"no such endpoint: {path}")

    async def forget(self, forget: Forget) -> None:
        """Forget a session or project while running; returns when it is done.

        Raises Unavailable if the importer stopped before it could be done.
        """
        if self._settled:
            raise Unavailable("the importer is stopping: nothing was forgotten, try again")
        self._intake.refuse(forget)
        self._pending.add(forget)
        try:
            if not await self._intake.submit(forget):
                # The pipeline is not running (or done): delete directly.
                await self._store.forget_now(forget)
            await forget.done.wait()
        finally:
            self._pending.discard(forget)
        if forget.error is not None:
            raise Unavailable(forget.error)

    async def settle(self, timeout_s: float) -> None:
        """The pipeline has stopped: do the pending forgets directly, or fail them."""
        self._settled = True
        with anyio.move_on_after(timeout_s):
            for forget in list(self._pending):
                if not forget.done.is_set():
                    await self._store.forget_now(forget)
        for forget in list(self._pending):
            if not forget.done.is_set():
                forget.fail(f"the importer stopped before {forget.describe()} was forgotten")

    async def _browse(self, read: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``read`` (blocking file I/O) in a worker thread; a transcript gone is a 404."""
        try:
            return await anyio.to_thread.run_sync(lambda: read(*args, **kwargs))
        except ExpandError as e:
            raise NotFound(str(e)) from None

    async def _search(self, query: SearchQuery) -> list[dict[str, Any]]:
        dense = None
        if query.mode != "bm25":
            vectors = await anyio.to_thread.run_sync(
                self._embedder.embed, [query.text], limiter=self._model_thread
            )
            dense = vectors[0]
        hits = await anyio.to_thread.run_sync(
            find, self._sink, self._lexical, query, dense, limiter=self._store_thread
        )
        return [h.to_json() for h in hits]

    async def _recall(self, params: dict[str, str]) -> dict[str, Any]:
        """``event=prompt``: other sessions' confident passages for ``prompt``;
        ``event=start``: the last sessions of the project at ``cwd``. ``context`` is
        the text for the agent ("" for nothing worth adding)."""
        session = params.get("session") or None
        event = params.get("event")
        if event == "prompt":
            prompt = params.get("prompt", "")
            if not worth_recalling(prompt):
                return {"context": "", "passages": 0}
            hits = [h for h in await self._search(prompt_query(prompt, session)) if h["confident"]]
            return {"context": recalled_passages(hits), "passages": len(hits)}
        if event != "start":
            raise ValueError("event must be start or prompt")
        cwd = params.get("cwd", "")
        if not cwd:
            return {"context": "", "sessions": 0}
        listed = await self._browse(
            sessions,
            self._settings,
            dict(self._ledger.state.files),
            self._ledger.state.forgotten,
            project=cwd,
            limit=RECENT_SESSIONS + 1,
            archive=self._archive,
        )
        rows = [r for r in listed["sessions"] if r["session_id"] != session][:RECENT_SESSIONS]
        for row in rows:
            last = await anyio.to_thread.run_sync(
                conclusion, self._sink, row["session_id"], limiter=self._store_thread
            )
            row["conclusion"] = str(last.get("text") or "") if last else ""
            row["timestamp"] = last.get("timestamp") if last else None
        # Newest first by what was last said, not by when the file last changed.
        rows = sorted((r for r in rows if r["conclusion"]), key=lambda r: str(r["timestamp"] or ""))
        rows.reverse()
        return {"context": recent_conclusions(rows), "sessions": len(rows)}

    async def _status(self) -> dict[str, Any]:
        counts = await anyio.to_thread.run_sync(
            store_counts, self._sink, self._settings, limiter=self._store_thread
        )
        report = await anyio.to_thread.run_sync(
            status_report,
            self._settings,
            self._ledger.state,
            counts,
            self._embedder.identity.to_json(),
        )
        return {**report, "running": True, "health": self._health(), "run": self._stats.to_json()}
