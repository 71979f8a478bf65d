"""The composition root: builds ccserver's parts and owns their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.config import AcdConfigError, load_acd
from contracts import dialplan as dp
from contracts.sink import EventSink, TeeSink
from cti.service import CtiService
from ivr.accounts import AccountBackend
from ivr.agi import AgiServer, Handler
from ivr.caller import EventIds
from ivr.flow import HotlineIvr, IvrServices, QueueCallback
from ivr.followup import FollowUps
from ivr.guards import CallbackGuard
from ivr.menu import IvrConfig, IvrConfigError, QueueNode, load_ivr

from . import __version__
from .api import Deps, build_app
from .api.deps import CallView, NodeCalls
from .api.limits import ConnectionGate, LimitedSite
from .api.plugins.health import STANDBY_KEY
from .callbacks import Dialer, FollowUpDesk
from .config import ConfigError, Settings
from .configuration import ConfigStore, LiveConfiguration
from .fence import AsteriskFence
from .leadership import LeaderLock, Leadership, stop_leadership
from .live_stats import LiveStats
from .metrics import build_registry
from .orchestrator import Orchestrator
from .people import People
from .quality.metrics import RecordingCollector
from .reporting.projector import ReportProjector
from .routing.restore import load_floor
from .selfservice.accounts_http import HttpAccounts
from .selfservice.accounts_sql import DbAccounts
from .selfservice.guards import GuardMetrics, TrackerChecks
from .selfservice.pins_sql import DbPinAttempts
from .selfservice.records_sql import SelfServiceRecords
from .snapshots import (
    AcdSnapshot,
    CtiSnapshot,
    HealthSnapshot,
    IvrSnapshot,
    StoreSnapshot,
    TicketsSnapshot,
)
from .startup import (
    StartupError,
    cancel_task,
    listen_errors,
    migrate_store,
    stop_within,
    store_errors,
)
from .store import EventWriter, upgrade_database
from .store.reach import first_line, unreachable
from .tasks import TaskSupervisor

log = logging.getLogger(__name__)

# seconds the supervisor waits for cancelled background tasks at stop
_TASKS_CLOSE_S = 5.0
# seconds a network part (HTTP, CTI, FastAGI, orchestrator) may take to stop
_STOP_S = 5.0
_HTTP_DRAIN_S = 2.0  # below _STOP_S: the HTTP stop ends by itself, connections closed


class Server:
    """ccserver: event log, CTI service and HTTP, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        extra_sinks: tuple[EventSink, ...] = (),
        term_of: Server | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.started_at = clock()
        # active/standby (README "Active / standby"): with ha.enabled this Server is the
        # standby shell (HTTP from the store, the lock); each term as the active process
        # is a fresh Server built by it (``term_of``), started exactly as a fresh start
        self.leadership: Leadership | None = None
        self._term_of = term_of
        self._extra_sinks = extra_sinks
        spool_dir = settings.store.spool_dir
        if settings.ha.enabled:
            name = ha_name(settings)
            if spool_dir is not None:  # one spool per process: never two live writers on one
                spool_dir = str(Path(spool_dir) / f"ha-{name}")
            if term_of is None:
                ha = settings.ha
                lock = LeaderLock(
                    settings.store.url, ha.lock_key, name,
                    keepalive_s=ha.keepalive_s, lease_s=ha.lease_s,
                )  # fmt: skip
                fence = AsteriskFence(
                    [node.to_settings() for node in settings.ami_nodes()],
                    name,
                    check_s=ha.keepalive_s,
                )
                self.leadership = Leadership(
                    lock,
                    self._new_term,
                    retry_s=ha.retry_s,
                    on_standby=self._open_standby_http,
                    fence=fence,
                )
        self.writer = EventWriter(
            settings.store.url,
            batch_size=settings.store.batch_size,
            flush_interval_s=settings.store.flush_interval_s,
            queue_size=settings.store.queue_size,
            spool_dir=spool_dir,
            spool_fsync=settings.store.spool_fsync,
            retention_months=settings.store.retention_months,
            partition_months_ahead=settings.store.partition_months_ahead,
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
        # one CtiService per Asterisk node (README "Scaling out"); the first also places
        # callbacks and answers the API's call questions
        ami_nodes = settings.ami_nodes()
        self.nodes = [
            CtiService(
                node.to_settings(),
                sink,
                clock=clock,
                reconcile_every_s=node.reconcile_every_s,
                node=node.name,
                unique_prefix=len(ami_nodes) > 1,
            )
            for node in ami_nodes
        ]
        self.cti = self.nodes[0]
        if model is not None and len(ami_nodes) > 1 and any(q.cross_node for q in model.queues):
            missing = [
                f"{a.name}->{b.name}"
                for a in ami_nodes
                for b in ami_nodes
                if a is not b and b.name not in a.trunk_to
            ]
            if missing:
                raise ConfigError(
                    f"ami: a cross_node queue needs trunk_to between every two nodes "
                    f"(missing {', '.join(missing)})"
                )
        self.dialer = Dialer(self.cti, settings.hotline)
        # one engine for the store URL: the writer's, shared by the self-service
        # records, the accounts, the restore, reports and staffing (the writer
        # builds its own from the URL and takes none from outside)
        self.db: AsyncEngine = self.writer.engine
        self.records = SelfServiceRecords(self.db)
        self.people = People(self.db, session_ttl_s=settings.people.session_ttl_s, clock=clock)
        # every background task of the server (callbacks, housekeeping) is supervised
        self.tasks = TaskSupervisor("server")
        self.desk = FollowUpDesk(
            self.dialer, self.records, sink, settings.hotline, clock=clock, tasks=self.tasks
        )
        if model is not None:
            self.orchestrator = Orchestrator(
                model,
                self.nodes,
                sink,
                settings.hotline,
                clock=clock,
                tick_s=settings.acd.tick_s,
                dialer=self.dialer,
                tasks=self.tasks,
                trunks={node.name: node.trunk_to for node in ami_nodes},
            )
            # where Asterisk writes recordings, when not its monitor directory
            self.orchestrator.recordings_at = settings.recordings.asterisk_dir
            self.registry.register(RecordingCollector(self.orchestrator))
        # the ACD's configuration lives in the database (the YAML seeds it once)
        self.configuration: LiveConfiguration | None = None
        if model is not None and self.orchestrator is not None:
            self.configuration = LiveConfiguration(
                ConfigStore(self.db, clock=clock), self.orchestrator, model,
                tasks=self.tasks, seed_path=settings.acd.config,
                on_applied=lambda m: self.stats.set_queues([q.name for q in m.queues]),
            )  # fmt: skip
        self.ivr: HotlineIvr | None = None
        self.agi: AgiServer | None = None
        self.pins: DbPinAttempts | None = None
        # what the FastAGI side checks against the AMI picture, and the abuse counters
        self.cti_guard = TrackerChecks(*(node.tracker for node in self.nodes))
        self.guard_metrics = GuardMetrics(self.registry)
        self._accounts: AccountBackend | None = None
        if settings.ivr.config:
            self._build_ivr(self._load_ivr(settings.ivr.config))
            if self.configuration is not None and self.ivr is not None:
                self.configuration.protected_queues = self._ivr_queues(self.ivr.config)
        self.overdue_tickets = 0
        self._stack: contextlib.AsyncExitStack | None = None  # the parts started, to unwind
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

    @staticmethod
    def _ivr_queues(config: IvrConfig) -> frozenset[str]:
        """The queues the IVR menu sends callers to (a live change may not remove them)."""
        used = {config.fallback_queue}
        used.update(n.queue for n in config.nodes.values() if isinstance(n, QueueNode))
        return frozenset(used)

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
        self.pins = DbPinAttempts(
            self.db,
            max_failures=ivr.pin_max_failures,
            window_s=ivr.pin_window_s,
            on_locked=lambda account: self.guard_metrics.pin_lockouts.inc(),
        )
        services.pins = self.pins
        services.callbacks = CallbackGuard(
            ivr.callback_allowed,
            per_number=ivr.callback_max_per_number,
            per_caller=ivr.callback_max_per_caller,
            window_s=ivr.callback_window_s,
        )
        if orchestrator is not None:
            services.expected_wait = orchestrator.expected_wait
            services.request_callback = self._queue_callback
            services.keep_place = self._keep_place
        ids = EventIds("ivr")
        self.ivr = HotlineIvr(config, services, self.sink, ids, clock=self.clock)
        followups = FollowUps(
            config,
            self.records,
            self.sink,
            ids,
            clock=self.clock,
            answered_call=self.cti_guard.answered_call,
        )
        routes: dict[str, Handler] = {
            dp.ROUTE_IVR: self.ivr,
            dp.ROUTE_WAIT_OFFER: self.ivr.wait_offer,
            dp.ROUTE_ANNOUNCE: self.ivr.announce,
            **followups.routes(),
        }
        secret = ivr.agi_secret.get_secret_value() if ivr.agi_secret else None
        self.agi = AgiServer(
            routes,
            ivr.agi_host,
            ivr.agi_port,
            allow=ivr.agi_allow,
            secret=secret,
            max_sessions=ivr.agi_max_sessions,
            max_per_host=ivr.agi_max_sessions_per_host,
            channel_known=self.cti_guard.channel_known,
            channel_wait_s=ivr.agi_channel_wait_s,
            blind=lambda: not self.cti.connected,
            on_refused=lambda reason: self.guard_metrics.agi_refused.labels(reason).inc(),
        )

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

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start every part in order; on a failure stop what started and raise StartupError.

        The order: store migrated, writer (its spool replayed), task supervisor,
        the floor restored, orchestrator, FastAGI, CTI, HTTP, housekeeping.
        :meth:`stop` unwinds it in reverse. A cancelled start (a stop asked
        for during start-up) also stops what started, then lets the
        cancellation through.
        """
        if self._stack is not None:
            raise RuntimeError("server already started")
        stack = contextlib.AsyncExitStack()
        try:
            await self._start_parts(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        """Stop every part that started, in reverse order (a no-op when none did)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _start_parts(self, stack: contextlib.AsyncExitStack) -> None:
        # what the constructor made goes last: the engine is shared by every part below
        stack.push_async_callback(self.db.dispose)
        if isinstance(self._accounts, HttpAccounts):
            stack.push_async_callback(self._accounts.close)
        if self.leadership is not None:
            await self._stand_by(stack)
            return

        store = self.settings.store
        offline = await self._start_writer()
        stack.push_async_callback(self.writer.stop)
        # after the writer (its tasks emit events) and before whatever spawns tasks
        stack.push_async_callback(self.tasks.close, _TASKS_CLOSE_S)
        if offline:
            self.tasks.spawn(self._migrate_when_back(), name="store.migrate")
        if self.db.dialect.name == "postgresql":  # reports at month scale; the demo folds on demand
            self.tasks.spawn(ReportProjector(self.db).run(), name="reports.projector")

        if self.orchestrator is not None:
            # the floor as it was: agent states now, holding callers at the first resync
            restored = False
            if not offline:
                try:
                    if self.configuration is not None:  # before the restore: its agents
                        with store_errors(store.url, "read the ACD configuration from"):
                            await self.configuration.start()
                    with store_errors(store.url, "restore agent states from"):
                        self.orchestrator.restore(await load_floor(self.db, self.clock()))
                    restored = True
                except StartupError as exc:
                    if not unreachable(exc.__cause__):
                        raise
            if not restored:
                log.warning(
                    "store unreachable: agents start logged out (their last states are "
                    "not restored) and calls held before this start are not known"
                )
            # each stop is registered before its start: a start cut short is stopped too
            stack.push_async_callback(stop_within, "ACD", self.orchestrator.stop, _STOP_S)
            await self.orchestrator.start()
            if self.settings.acd.auto_ready:
                kept = self.orchestrator.restored_agents
                for agent_id in self.orchestrator.engine.agents:
                    if agent_id not in kept:
                        self.orchestrator.agent_action(agent_id, "login")
                        self.orchestrator.agent_action(agent_id, "ready")

        if self.agi is not None:
            ivr = self.settings.ivr
            stack.push_async_callback(stop_within, "IVR", self.agi.stop, _STOP_S)
            with listen_errors("IVR", f"agi://{ivr.agi_host}:{ivr.agi_port}", "ivr.agi_port"):
                await self.agi.start()

        for node in self.nodes:
            stack.push_async_callback(stop_within, f"CTI {node.node}", node.stop, _STOP_S)
            await node.start()  # connects in the background, retrying until stopped

        await self._start_http(stack)

        housekeeping = self.tasks.spawn(self._housekeep(), name="housekeeping")
        stack.push_async_callback(cancel_task, housekeeping)

    async def _start_writer(self) -> bool:
        """Migrate the store and start the writer; True if it started without the database.

        An unreachable database (refused, no such host, timed out) does not
        stop the server, as long as there is a spool: events are spooled and
        written when the database is back. Any other failure (a wrong
        password, a failed migration, a locked spool) is a StartupError.
        """
        store = self.settings.store
        try:
            await migrate_store(store.url)
            with store_errors(store.url, "open the event log of"):
                await self.writer.start()  # replays the spool: the store is whole before reads
            return False
        except StartupError as exc:
            if store.spool_dir is None or not unreachable(exc.__cause__):
                raise
            problem = exc.problem
        with store_errors(store.url, "spool for"):
            await self.writer.start_offline(self.clock())
        log.warning(
            "store: %s; starting without it: events are spooled to %s and written when "
            "the database is back (/healthz says degraded meanwhile)",
            problem,
            self.writer.spool.path if self.writer.spool is not None else "-",
        )
        return True

    async def _migrate_when_back(self, first_s: float = 1.0, most_s: float = 30.0) -> None:
        """Retry the migration until the database answers; then the writer catches up."""
        url = self.settings.store.url
        delay = first_s
        while True:
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(upgrade_database, url)
            except Exception as exc:
                if not unreachable(exc):
                    log.warning("store: migration failed: %s", first_line(exc))
                delay = min(most_s, delay * 2)
                continue
            log.warning("store: reachable again and migrated; writing the spooled events")
            self.writer.database_back()
            return

    # -- active/standby ---------------------------------------------------------

    def _new_term(self) -> Server:
        """The active part of one term: a whole Server, as a fresh start builds it."""
        return Server(self.settings, clock=self.clock, extra_sinks=self._extra_sinks, term_of=self)

    async def _stand_by(self, stack: contextlib.AsyncExitStack) -> None:
        """A standby: HTTP from the store and the lock loop; no writer, CTI, FastAGI, ACD.

        Asterisk is not touched until this process holds the lock: the term's
        Server connects (AMI, FastAGI listener) only after the takeover.
        """
        assert self.leadership is not None
        stack.push_async_callback(self._close_http)
        await self._open_standby_http()
        task = asyncio.create_task(self.leadership.run(), name="ha.leadership")
        # first out at stop: the term (if any) stops before the standby's HTTP
        stack.push_async_callback(stop_leadership, task)

    async def _open_standby_http(self) -> None:
        """Serve the standby's HTTP (again, after a term): health, and reads from the store."""
        if self._runner is not None:
            return
        # no tracker, no orchestrator: a standby answers from the store; the desk is
        # there for the records' reads (its writes are refused on a standby)
        parts = self._http_parts(standby=True)
        async with contextlib.AsyncExitStack() as failed:
            failed.push_async_callback(self._close_http)
            await self._open_http(parts, standby=True)
            failed.pop_all()

    def _http_parts(self, *, standby: bool = False) -> Deps:
        """What the HTTP plugins are built from (a standby has no live picture)."""
        return Deps(
            snapshot=self.snapshot,
            registry=self.registry,
            tracker=None if standby else self._calls_view(),
            orchestrator=None if standby else self.orchestrator,
            records=self.records,
            desk=self.desk,
            db=self.db,
            reports=self.settings.reports,
            threshold_s=self.threshold_s,
            pins=self.pins,
            people=self.people,
            people_settings=self.settings.people,
            accounts=self._accounts,
            configuration=None if standby else self.configuration,
            recordings=self.settings.recordings,
            quality=self.settings.quality,
        )

    async def _start_http(self, stack: contextlib.AsyncExitStack) -> None:
        parts = self._http_parts()
        if self._term_of is not None:  # the standby's HTTP gives the port over, last of all
            await self._term_of._close_http()
        stack.push_async_callback(self._close_http)
        await self._open_http(parts)

    async def _close_http(self) -> None:
        """Free the HTTP port (a standby's: for its term's own HTTP)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await stop_within("HTTP", runner.cleanup, _STOP_S)

    async def _open_http(self, parts: Deps, *, standby: bool = False) -> None:
        http = self.settings.http
        app = build_app(
            parts,
            api_tokens=tuple(t.get_secret_value() for t in http.api_tokens),
            max_body_bytes=http.max_body_bytes,
            body_timeout_s=http.body_timeout_s,
        )
        if standby and self.leadership is not None:
            app[STANDBY_KEY] = self.leadership.details
        # aiohttp's keep-alive timer also closes a connection whose request headers
        # have not all arrived in that time (slowloris); lingering after a cut-off body is short
        # a request still running at stop gets _HTTP_DRAIN_S, then is cancelled and its
        # connection closed: aiohttp's own 60 s outlasts _STOP_S, and a stop given up on
        # leaves connections open on an app no longer meant to serve (a standby's, at a
        # takeover)
        runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=http.header_timeout_s,
            lingering_time=1.0,
            shutdown_timeout=_HTTP_DRAIN_S,
        )
        await runner.setup()
        self._runner = runner  # the caller's stop cleans it up, also after a failed listen
        gate = ConnectionGate(
            http.max_connections, http.max_connections_per_source, self.guard_metrics.refused_http
        )
        with listen_errors("HTTP", f"{http.host}:{http.port}", "http.port"):
            await LimitedSite(runner, http.host, http.port, gate).start()
        self.http_port = int(runner.addresses[0][1])
        log.info("HTTP on http://%s:%s (healthz, metrics, api)", http.host, self.http_port)

    async def _housekeep(self, every_s: float = 30.0) -> None:
        """Slow-changing figures for /metrics that need the database."""
        while True:
            try:
                self.overdue_tickets = await self.records.overdue_tickets(self.clock())
            except Exception as exc:  # the database may be down: try again later
                log.warning("cannot count overdue tickets: %s", exc)
            await asyncio.sleep(every_s)

    def snapshot(self) -> HealthSnapshot:
        """Health of every part, for /healthz and /metrics."""
        cti = CtiSnapshot.from_dict(self._cti_health())
        store = StoreSnapshot.of_writer(self.writer, self.clock())
        orchestrator = self.orchestrator
        acd = AcdSnapshot.from_dict(orchestrator.snapshot()) if orchestrator is not None else None
        ivr = None
        if self.ivr is not None and self.agi is not None:
            agi = self.agi
            ivr = IvrSnapshot(
                agi.active, agi.sessions_total, agi.sessions_failed, agi.port,
                dict(self.ivr.outcomes),
            )  # fmt: skip
        ok = cti.ami.connected and store.healthy
        details: dict[str, object] = {"tasks": self.tasks.snapshot()}
        role: str | None = None
        lead = self.leadership or (self._term_of.leadership if self._term_of else None)
        if lead is not None:
            details["ha"] = lead.details()
            role = "active"
            if self._term_of is None:  # the standby shell: healthy while it can take over
                role, ok = "standby", lead.lock.last_error is None
        return HealthSnapshot(
            status="ok" if ok else "degraded",
            version=__version__,
            uptime_s=round(self.clock() - self.started_at, 3),
            cti=cti,
            store=store,
            acd=acd,
            ivr=ivr,
            tickets=TicketsSnapshot(self.overdue_tickets),
            details=details,
            role=role,
        )

    def _calls_view(self) -> CallView:
        """The live calls for the API: the one node's tracker, or every node's."""
        if len(self.nodes) == 1:
            return self.cti.tracker
        return NodeCalls([node.tracker for node in self.nodes])

    def _cti_health(self) -> dict[str, object]:
        """The CTI's health: the one node's, or the nodes' summed with each node's beside.

        With several nodes, AMI counts as connected only while every node is (``/healthz``
        says degraded when one is down; ``nodes`` says which).
        """
        if len(self.nodes) == 1:
            return self.cti.health() | {"events_by_name": dict(self.cti.events_by_name)}
        each = {n.node: n.health() for n in self.nodes}
        events: dict[str, int] = {}
        for n in self.nodes:
            for name, count in n.events_by_name.items():
                events[name] = events.get(name, 0) + count
        first = each[self.cti.node]
        ami = dict(first["ami"])
        for key in ("reconnects", "resyncs", "restarts", "frame_errors"):
            ami[key] = sum(int(h["ami"].get(key, 0)) for h in each.values())
        ami["connected"] = all(bool(h["ami"]["connected"]) for h in each.values())
        out = dict(first) | {"ami": ami, "events_by_name": events, "nodes": each}
        for key in ("active_calls", "active_channels", "calls_ended", "reconnects"):
            out[key] = sum(int(h[key]) for h in each.values())
        out["connected"] = ami["connected"]
        out["node"] = None
        return out


def ha_name(settings: Settings) -> str:
    """This process's name in active/standby: ``ha.name``, else ``HOSTNAME-HTTPPORT``."""
    return settings.ha.name or f"{socket.gethostname()}-{settings.http.port}"
