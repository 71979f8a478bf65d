"""The composition root: builds ccserver's parts and owns their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from acd.config import AcdConfigError, load_acd
from contracts import dialplan as dp
from cti.service import CtiService
from cti.sink import EventSink, TeeSink
from ivr.accounts import AccountBackend
from ivr.agi import AgiServer, Handler
from ivr.caller import EventIds
from ivr.flow import HotlineIvr, IvrServices, QueueCallback
from ivr.followup import FollowUps
from ivr.menu import IvrConfig, IvrConfigError, QueueNode, load_ivr

from . import __version__
from .api import Deps, build_app
from .callbacks import Dialer, FollowUpDesk
from .config import ConfigError, Settings
from .live_stats import LiveStats
from .metrics import build_registry
from .orchestrator import Orchestrator
from .restore import load_floor
from .selfservice.accounts_http import HttpAccounts
from .selfservice.accounts_sql import DbAccounts
from .selfservice.records_sql import SelfServiceRecords
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
            spool_dir=settings.store.spool_dir,
            spool_fsync=settings.store.spool_fsync,
        )
        model = None
        if settings.acd.config:
            try:
                model = load_acd(settings.acd.config)
            except AcdConfigError as exc:
                raise ConfigError(f"acd.config: {exc}") from None
        self.orchestrator: Orchestrator | None = None
        self.registry = build_registry(self.snapshot)
        reports = settings.reports
        self.stats = LiveStats(
            self.registry,
            [q.name for q in model.queues] if model else [],
            self.threshold_s,
            variant=reports.service_level_variant,
            short_abandon_s=reports.short_abandon_s,
            clock=clock,
        )
        sink = TeeSink(self.writer, self.stats, *extra_sinks)
        self.sink = sink
        self.cti = CtiService(
            settings.ami.to_settings(),
            sink,
            clock=clock,
            reconcile_every_s=settings.ami.reconcile_every_s,
        )
        self.dialer = Dialer(self.cti, settings.hotline)
        self.db = create_async_engine(settings.store.url)
        self.records = SelfServiceRecords(self.db)
        self.desk = FollowUpDesk(self.dialer, self.records, sink, settings.hotline, clock=clock)
        if model is not None:
            self.orchestrator = Orchestrator(
                model,
                self.cti,
                sink,
                settings.hotline,
                clock=clock,
                tick_s=settings.acd.tick_s,
                dialer=self.dialer,
            )
        self.ivr: HotlineIvr | None = None
        self.agi: AgiServer | None = None
        self._accounts: AccountBackend | None = None
        if settings.ivr.config:
            self._build_ivr(self._load_ivr(settings.ivr.config))
        self.overdue_tickets = 0
        self._housekeeping: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None

    def _load_ivr(self, path: str) -> IvrConfig:
        try:
            config = load_ivr(path)
        except IvrConfigError as exc:
            raise ConfigError(f"ivr.config: {exc}") from None
        if self.orchestrator is not None:
            queues = self.orchestrator.engine.queues
            used = {self.orchestrator.default_queue, config.fallback_queue}
            used.update(n.queue for n in config.nodes.values() if isinstance(n, QueueNode))
            unknown = sorted(q for q in used if q not in queues)
            if unknown:
                raise ConfigError(f"ivr.config: queues {unknown} are not ACD queues")
        return config

    def _build_ivr(self, config: IvrConfig) -> None:
        ivr = self.settings.ivr
        if ivr.accounts == "http":
            assert ivr.accounts_url is not None
            token = ivr.accounts_token.get_secret_value() if ivr.accounts_token else None
            self._accounts = HttpAccounts(
                ivr.accounts_url,
                token=token,
                timeout_s=ivr.accounts_timeout_s,
                retries=ivr.accounts_retries,
            )
        else:
            self._accounts = DbAccounts(self.db)
        orchestrator = self.orchestrator
        services = IvrServices(self._accounts, self.records)
        if orchestrator is not None:
            services.expected_wait = orchestrator.expected_wait
            services.request_callback = self._queue_callback
            services.keep_place = self._keep_place
        ids = EventIds(f"ivr-{int(self.clock())}")
        self.ivr = HotlineIvr(config, services, self.sink, ids, clock=self.clock)
        followups = FollowUps(config, self.records, self.sink, ids, clock=self.clock)
        routes: dict[str, Handler] = {
            dp.ROUTE_IVR: self.ivr,
            dp.ROUTE_WAIT_OFFER: self.ivr.wait_offer,
            dp.ROUTE_ANNOUNCE: self.ivr.announce,
            **followups.routes(),
        }
        self.agi = AgiServer(routes, ivr.agi_host, ivr.agi_port)

    def threshold_s(self, queue: str) -> float:
        """The service-level threshold of a queue (its ACD ``within_s``)."""
        if self.orchestrator is not None and queue in self.orchestrator.engine.queues:
            return self.orchestrator.engine.queues[queue].sl_threshold_s
        return self.settings.reports.default_threshold_s

    async def _queue_callback(self, cb: QueueCallback) -> bool:
        assert self.orchestrator is not None
        if not self.orchestrator.request_callback(cb):
            return False
        await self.records.add_callback(
            kind="queue", number=cb.number, call_id=cb.call_id, queue=cb.queue, now=self.clock()
        )
        return True

    async def _keep_place(self, call_id: str, number: str) -> bool:
        assert self.orchestrator is not None
        call = self.orchestrator.engine.calls.get(call_id)
        if call is None or not self.orchestrator.keep_place_for_callback(call_id, number):
            return False
        await self.records.add_callback(
            kind="queue", number=number, call_id=call_id, queue=call.queue, now=self.clock()
        )
        return True

    async def start(self) -> None:
        """Migrate the store, then start the writer, the CTI, the IVR and the HTTP server."""
        await asyncio.to_thread(upgrade_database, self.settings.store.url)
        await self.writer.start()  # replays the spool: the store is whole before we read it
        if self.orchestrator is not None:
            # the floor as it was: agent states now, holding callers at the first resync
            self.orchestrator.restore(await load_floor(self.db, self.clock()))
            await self.orchestrator.start()
            if self.settings.acd.auto_ready:
                restored = self.orchestrator.restored_agents
                for agent_id in self.orchestrator.engine.agents:
                    if agent_id not in restored:
                        self.orchestrator.agent_action(agent_id, "login")
                        self.orchestrator.agent_action(agent_id, "ready")
        if self.agi is not None:
            await self.agi.start()
        await self.cti.start()
        http = self.settings.http
        parts = Deps(
            snapshot=self.snapshot,
            registry=self.registry,
            tracker=self.cti.tracker,
            orchestrator=self.orchestrator,
            records=self.records,
            desk=self.desk,
            db=self.db,
            reports=self.settings.reports,
            threshold_s=self.threshold_s,
        )
        app = build_app(
            parts,
            api_tokens=tuple(t.get_secret_value() for t in http.api_tokens),
            max_body_bytes=http.max_body_bytes,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, http.host, http.port)
        await site.start()
        self.http_port = int(self._runner.addresses[0][1])
        self._housekeeping = asyncio.create_task(self._housekeep(), name="housekeeping")
        log.info("HTTP on http://%s:%s (healthz, metrics, api)", http.host, self.http_port)

    async def _housekeep(self, every_s: float = 30.0) -> None:
        """Slow-changing figures for /metrics that need the database."""
        while True:
            try:
                self.overdue_tickets = await self.records.overdue_tickets(self.clock())
            except Exception as exc:  # the database may be down: try again later
                log.warning("cannot count overdue tickets: %s", exc)
            await asyncio.sleep(every_s)

    async def stop(self) -> None:
        """Stop taking events, write what is queued, close everything."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self._runner is not None:
            await self._runner.cleanup()
        if self.agi is not None:
            await self.agi.stop()
        await self.desk.stop()
        if self.orchestrator is not None:
            await self.orchestrator.stop()
        await self.cti.stop()
        await self.writer.stop()
        if isinstance(self._accounts, HttpAccounts):
            await self._accounts.close()
        await self.db.dispose()

    def snapshot(self) -> dict[str, Any]:
        """Health of every part, for /healthz and /metrics."""
        cti = self.cti.health() | {"events_by_name": dict(self.cti.events_by_name)}
        pending = self.writer.oldest_pending_at
        store = {
            "healthy": self.writer.healthy,
            "queued": self.writer.queued,
            "written": self.writer.written,
            "dropped": self.writer.dropped,
            "conflicts": self.writer.conflicts,
            "duplicates": self.writer.duplicates,
            "spooled": self.writer.spooled,
            "spool_bytes": self.writer.spool_bytes,
            "spool_errors": self.writer.spool_errors,
            "lag_s": max(0.0, self.clock() - pending) if pending else 0.0,
        }
        ok = cti["ami"]["connected"] and store["healthy"]
        acd = self.orchestrator.snapshot() if self.orchestrator is not None else None
        ivr = None
        if self.ivr is not None and self.agi is not None:
            ivr = {
                "outcomes": dict(self.ivr.outcomes),
                "sessions_active": self.agi.active,
                "sessions_total": self.agi.sessions_total,
                "sessions_failed": self.agi.sessions_failed,
                "agi_port": self.agi.port,
            }
        return {
            "acd": acd,
            "ivr": ivr,
            "tickets": {"overdue": self.overdue_tickets},
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "uptime_s": round(self.clock() - self.started_at, 3),
            "cti": cti,
            "store": store,
        }
