"""The composition root: builds ccserver's parts and owns their lifetimes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from acd.config import AcdConfigError, load_acd
from cti.service import CtiService
from cti.sink import EventSink, TeeSink

from . import __version__
from .agents_api import add_agent_routes
from .calls_api import add_call_routes
from .config import ConfigError, Settings
from .http import build_app
from .metrics import build_registry
from .orchestrator import Orchestrator
from .store import EventWriter, upgrade_database

log = logging.getLogger(__name__)


class Server:
    """ccserver: event log, CTI service and HTTP, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        extra_sinks: tuple[EventSink, ...] = (),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.started_at = clock()
        self.writer = EventWriter(
            settings.store.url,
            batch_size=settings.store.batch_size,
            flush_interval_s=settings.store.flush_interval_s,
            queue_size=settings.store.queue_size,
        )
        sink = TeeSink(self.writer, *extra_sinks)
        self.cti = CtiService(settings.ami.to_settings(), sink, clock=clock)
        self.orchestrator: Orchestrator | None = None
        if settings.acd.config:
            try:
                model = load_acd(settings.acd.config)
            except AcdConfigError as exc:
                raise ConfigError(f"acd.config: {exc}") from None
            self.orchestrator = Orchestrator(
                model, self.cti, sink, settings.hotline, clock=clock, tick_s=settings.acd.tick_s
            )
        self.registry = build_registry(self.snapshot)
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None

    async def start(self) -> None:
        """Migrate the store, then start the writer, the CTI and the HTTP server."""
        await asyncio.to_thread(upgrade_database, self.settings.store.url)
        await self.writer.start()
        await self.cti.start()
        if self.orchestrator is not None:
            await self.orchestrator.start()
            if self.settings.acd.auto_ready:
                for agent_id in self.orchestrator.engine.agents:
                    self.orchestrator.agent_action(agent_id, "login")
                    self.orchestrator.agent_action(agent_id, "ready")
        http = self.settings.http
        app = build_app(
            self.snapshot,
            self.registry,
            api_tokens=tuple(t.get_secret_value() for t in http.api_tokens),
            max_body_bytes=http.max_body_bytes,
        )
        add_call_routes(app, self.cti.tracker)
        if self.orchestrator is not None:
            add_agent_routes(app, self.orchestrator)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, http.host, http.port)
        await site.start()
        self.http_port = int(self._runner.addresses[0][1])
        log.info("HTTP on http://%s:%s (healthz, metrics, api)", http.host, self.http_port)

    async def stop(self) -> None:
        """Stop taking events, write what is queued, close everything."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self.orchestrator is not None:
            await self.orchestrator.stop()
        await self.cti.stop()
        await self.writer.stop()

    def snapshot(self) -> dict[str, Any]:
        """Health of every part, for /healthz and /metrics."""
        cti = self.cti.health() | {"events_by_name": dict(self.cti.events_by_name)}
        pending = self.writer.oldest_pending_at
        store = {
            "healthy": self.writer.healthy,
            "queued": self.writer.queued,
            "written": self.writer.written,
            "dropped": self.writer.dropped,
            "lag_s": max(0.0, self.clock() - pending) if pending else 0.0,
        }
        ok = cti["ami"]["connected"] and store["healthy"]
        acd = self.orchestrator.snapshot() if self.orchestrator is not None else None
        return {
            "acd": acd,
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "uptime_s": round(self.clock() - self.started_at, 3),
            "cti": cti,
            "store": store,
        }
