"""The running importer's HTTP surfaces as one lifecycle service: control socket, port, page.

:class:`Surfaces` builds the :class:`~.routes.Routes` that both answer with from
the running :class:`~streaming_importer.pipeline.lifecycle.Importer`, serves the
web page (unless ``WEB_PORT=off``) and the control socket (and ``CONTROL_PORT``),
and, when the pipeline stops, answers every forget still pending before it
closes them.
"""

from __future__ import annotations

import anyio.abc

from streaming_importer.pipeline.lifecycle import Importer
from streaming_importer.surfaces.http.control import ControlServer
from streaming_importer.surfaces.http.routes import Routes
from streaming_importer.surfaces.http.web import WebServer
from streaming_importer.surfaces.http.web_auth import WebAuth

__all__ = ["Surfaces"]


class Surfaces:
    """The control surface and the web page of one importer (a lifecycle ``Service``)."""

    def __init__(self, importer: Importer, *, web: bool = True) -> None:
        settings = importer.settings
        self.routes = Routes(
            settings,
            importer.embedder,
            importer.sink,
            intake=importer.intake,
            store=importer.store,
            ledger=importer.ledger,
            stats=importer.stats,
            health=importer.monitor.health,
            model_thread=importer.model_thread,
            store_thread=importer.store_thread,
        )
        self._control = ControlServer(
            settings.state_dir,
            self.routes.answer,
            port=settings.control_port,
            host=settings.control_host,
        )
        self._web: WebServer | None = None
        if web and settings.web_port is not None:
            self._web = WebServer(self.routes.answer, WebAuth(), port=settings.web_port)
            self.routes.login_url = self._web.login_url

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Serve the page, then the control socket; returns once both listen."""
        if self._web is not None:
            # Listening before the control port says where this run is.
            await task_group.start(self._web.serve)
        await task_group.start(self._control.serve)

    async def stop(self, timeout_s: float) -> None:
        """Every forget asked for is answered before the port closes."""
        await self.routes.settle(timeout_s)
        await self._control.close()
        if self._web is not None:
            await self._web.close()
