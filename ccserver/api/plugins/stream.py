"""GET /api/stream: a WebSocket of live events, each person seeing what their role may.

One hub per server polls the routing engine's picture every
``POLL_S`` and pushes what changed: agent states (with the moment the state
began), queue figures once a second, and to an agent the call offered to
them with its screen pop (the caller's number, the IVR's ``CC_ACCOUNT``,
``CC_IVR_PATH`` and ``CC_TICKET`` from the call tracker, and the account's
name, tier and balance from the account backend). Messages are JSON objects
with a ``type``: ``hello``, ``agent``, ``queues``, ``offer``.

For the supervisors' board, each queue also carries the day's figures
(answered, abandoned, service level today and in the last 30 minutes), folded
from the event log by the reports' own fold every ``FIGURES_EVERY_S`` while a
board is open, so the board and the reports count alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.queue_kpis import QueueTally
from contracts import dialplan as dp
from ivr.accounts import AccountBackend, BackendUnavailable

from ...config import ReportsSection
from ...orchestrator import Orchestrator
from ...people import Principal
from ...reporting.calls import ABANDONED, ANSWERED, SHORT_ABANDON
from ...reporting.source import load_records
from ..access import Forbidden, require
from ..deps import CallView, Deps
from ..errors import BadRequest
from ..routes import Route, add_route
from .agents import visible_agents, visible_queues

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often agent states are compared: changes reach the pages within this
QUEUES_EVERY_S = 1.0
_QUEUE_SIZE = 500  # messages a slow page may fall behind by before it is cut off
_LOOKUP_S = 2.0  # the account backend's time for a screen pop
FIGURES_EVERY_S = 5.0  # the day's queue figures are folded from the event log this often
RECENT_S = 1800.0  # "the last 30 minutes" of the board's service level
_FIGURES_MARGIN_S = 3600.0  # a call queued after the day began may have arrived before it
_BOARD_ROLES = frozenset({"supervisor", "quality", "admin"})


class QueueFigures:
    """Each queue's answered, abandoned and service level today and lately, from the log."""

    def __init__(
        self,
        db: AsyncEngine,
        settings: ReportsSection,
        threshold_s: Callable[[str], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.settings = settings
        self.threshold_s = threshold_s
        self.clock = clock

    async def compute(self) -> dict[str, dict[str, Any]]:
        now = self.clock()
        tz = self.settings.zone()
        midnight = datetime.fromtimestamp(now, tz).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        day_start = midnight.timestamp()
        start = min(day_start, now - RECENT_S)
        records, _ = await load_records(
            self.db, start - _FIGURES_MARGIN_S, now + 1, self.settings.short_abandon_s
        )
        today: dict[str, QueueTally] = {}
        recent: dict[str, QueueTally] = {}
        for rec in records:
            if rec.queue is None or rec.offered_at is None or rec.offered_at < start:
                continue
            if rec.disposition not in (ANSWERED, ABANDONED, SHORT_ABANDON):
                continue
            threshold, wait = self.threshold_s(rec.queue), rec.wait_s or 0.0
            tallies = []
            if rec.offered_at >= day_start:
                tallies.append(today.setdefault(rec.queue, QueueTally()))
            if rec.offered_at >= now - RECENT_S:
                tallies.append(recent.setdefault(rec.queue, QueueTally()))
            for tally in tallies:
                if rec.disposition == ANSWERED:
                    tally.add_answered(wait, threshold)
                else:
                    tally.add_abandoned(wait, threshold, short=rec.disposition == SHORT_ABANDON)
        variant = self.settings.service_level_variant
        out: dict[str, dict[str, Any]] = {}
        for queue in set(today) | set(recent):
            day, lately = today.get(queue, QueueTally()), recent.get(queue, QueueTally())
            out[queue] = {
                "answered_today": day.answered,
                "abandoned_today": day.abandoned,
                "sl_today": day.service_level(variant),
                "sl_30m": lately.service_level(variant),
            }
        return out

    @staticmethod
    def empty() -> dict[str, Any]:
        return {"answered_today": 0, "abandoned_today": 0, "sl_today": None, "sl_30m": None}


@dataclass(eq=False)
class Subscriber:
    who: Principal
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(_QUEUE_SIZE))
    lagging: bool = False
    ws: web.WebSocketResponse | None = None

    def push(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.lagging = True  # its connection is closed: a page reloads and catches up


class LiveHub:
    """The fan-out: one poll of the engine for every open stream."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        tracker: CallView | None,
        accounts: AccountBackend | None,
        clock: Callable[[], float] = time.time,
        figures: QueueFigures | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        self.tracker = tracker
        self.accounts = accounts
        self.clock = clock
        self.figures = figures
        self._figures: dict[str, dict[str, Any]] = {}  # queue -> the day's figures
        self._figures_at: float | None = None  # monotonic time of the last fold
        self.subscribers: set[Subscriber] = set()
        self._last: dict[str, tuple[Any, ...]] = {}
        self._since: dict[str, float] = {}
        self._pops: dict[str, dict[str, Any]] = {}  # call id -> its screen pop

    # --- what a page is sent ---------------------------------------------------
    def agents(self) -> list[dict[str, Any]]:
        """The engine's agents, each with ``since`` (the state's start) and ``until``."""
        out = []
        engine_agents = self.orchestrator.engine.agents
        for a in self.orchestrator.snapshot()["agents"]:
            agent = engine_agents.get(a["id"])
            a["since"] = self._since.get(a["id"], self.clock())
            a["until"] = agent.state_until if agent is not None else None
            out.append(a)
        return out

    def queues(self) -> list[dict[str, Any]]:
        """The engine's queues, with the day's figures when they are folded."""
        queues: list[dict[str, Any]] = self.orchestrator.snapshot()["queues"]
        if self.figures is not None:
            for q in queues:
                q.update(self._figures.get(q["name"], QueueFigures.empty()))
        return queues

    def hello(self, who: Principal) -> dict[str, Any]:
        agents = visible_agents(who, self.agents())
        pops = [
            self._pops[a["call_id"]]
            for a in agents
            if who.role == "agent" and a["call_id"] in self._pops
        ]
        return {
            "type": "hello",
            "agents": agents,
            "queues": visible_queues(who, self.queues()),
            "offers": pops,
        }

    async def screen_pop(self, call_id: str, agent_id: str) -> dict[str, Any]:
        """What the agent sees before answering: who calls and what the IVR learned."""
        call = self.tracker.call(call_id) if self.tracker is not None else None
        variables = call.variables if call is not None else {}
        engine_call = self.orchestrator.engine.calls.get(call_id)
        caller = call.caller_num if call is not None else ""
        if not caller and engine_call is not None:
            caller = engine_call.caller
        pop: dict[str, Any] = {
            "type": "offer",
            "agent_id": agent_id,
            "call_id": call_id,
            "caller": caller,
            "queue": engine_call.queue if engine_call is not None else None,
            "account": variables.get(dp.CC_ACCOUNT) or None,
            "ivr_path": variables.get(dp.CC_IVR_PATH) or None,
            "ticket": variables.get(dp.CC_TICKET) or None,
            "customer": None,
        }
        if pop["account"] and self.accounts is not None:
            try:
                async with asyncio.timeout(_LOOKUP_S):
                    found = await self.accounts.find(number=pop["account"])
            except (BackendUnavailable, TimeoutError):
                found = None  # the pop goes out without the account's figures
            if found is not None:
                pop["customer"] = {
                    "name": found.name,
                    "tier": found.tier,
                    "balance_cents": found.balance_cents,
                    "currency": found.currency,
                }
        return pop

    # --- the loop ---------------------------------------------------------------------
    def subscribe(self, who: Principal) -> Subscriber:
        sub = Subscriber(who)
        sub.push(self.hello(who))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def poll(self) -> None:
        """Push what changed since the last poll."""
        now = self.clock()
        for agent in self.agents():
            skills = tuple(sorted(agent["skills"].items()))
            key = (agent["state"], agent["reason"], agent["call_id"], agent["device"], skills)
            if self._last.get(agent["id"]) == key:
                continue
            before = self._last.get(agent["id"])
            self._last[agent["id"]] = key
            if before is None or before[0] != key[0] or before[1] != key[1]:
                self._since[agent["id"]] = now
                agent["since"] = now
            call_id = agent["call_id"]
            if call_id is not None and call_id not in self._pops:
                self._pops[call_id] = await self.screen_pop(call_id, agent["id"])
                for sub in list(self.subscribers):
                    if sub.who.role == "agent" and sub.who.agent_id == agent["id"]:
                        sub.push(self._pops[call_id])
            for sub in list(self.subscribers):
                if visible_agents(sub.who, [agent]):
                    sub.push({"type": "agent", "agent": agent})
        live = {a.call_id for a in self.orchestrator.engine.agents.values()}
        for call_id in [c for c in self._pops if c not in live]:
            del self._pops[call_id]

    def push_queues(self) -> None:
        queues = self.queues()
        for sub in list(self.subscribers):
            sub.push({"type": "queues", "queues": visible_queues(sub.who, queues)})

    async def refresh_figures(self) -> None:
        """Fold the day's figures again, when a board is open and they are due."""
        if self.figures is None:
            return
        if not any(sub.who.role in _BOARD_ROLES for sub in self.subscribers):
            return  # nobody looks: the event log is not read
        due = self._figures_at is None or time.monotonic() - self._figures_at >= FIGURES_EVERY_S
        if not due:
            return
        self._figures_at = time.monotonic()
        self._figures = await self.figures.compute()

    async def run_figures(self) -> None:
        while True:
            try:
                await self.refresh_figures()
            except Exception:  # the database may be away: the live figures go on
                log.exception("queue figures failed")
            await asyncio.sleep(QUEUES_EVERY_S)

    async def run(self) -> None:
        # the event log is read beside the poll: a slow query never holds the live states
        figures = asyncio.create_task(self.run_figures(), name="live-hub-figures")
        last_queues = 0.0
        try:
            while True:
                try:
                    await self.poll()
                    if time.monotonic() - last_queues >= QUEUES_EVERY_S:
                        last_queues = time.monotonic()
                        self.push_queues()
                except Exception:  # one bad poll must not end the stream for everyone
                    log.exception("live stream poll failed")
                await asyncio.sleep(POLL_S)
        finally:
            figures.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await figures


HUB_KEY = web.AppKey("live_hub", LiveHub)
HUB_TASK_KEY: web.AppKey[list[asyncio.Task[None]]] = web.AppKey("live_hub_task")


def _same_origin(request: web.Request) -> bool:
    """A browser's WebSocket from this server's own pages (cookies ride along cross-site)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc == request.host


async def stream(request: web.Request) -> web.StreamResponse:
    """The live events for the one logged in (a WebSocket: agent states, queues, offers)."""
    who = require(request)
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    if not ws.can_prepare(request).ok:
        raise BadRequest("this is a WebSocket: connect with an Upgrade request")
    if "Authorization" not in request.headers and not _same_origin(request):
        raise Forbidden("a WebSocket from another site's page")
    hub = request.app[HUB_KEY]
    await ws.prepare(request)
    sub = hub.subscribe(who)
    sub.ws = ws

    async def send() -> None:
        while not sub.lagging:
            await ws.send_json(await sub.queue.get())
        await ws.close(message=b"too far behind: reconnect")

    sender = asyncio.create_task(send())
    try:
        async for msg in ws:  # the page says nothing we act on; this waits for the close
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.unsubscribe(sub)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
    return ws


def setup(app: web.Application, deps: Deps) -> None:
    if deps.people is None or deps.orchestrator is None:
        return
    figures = None
    if deps.db is not None and deps.reports is not None and deps.threshold_s is not None:
        figures = QueueFigures(deps.db, deps.reports, deps.threshold_s)
    app[HUB_KEY] = LiveHub(deps.orchestrator, deps.tracker, deps.accounts, figures=figures)
    app[HUB_TASK_KEY] = []

    async def start(app: web.Application) -> None:
        app[HUB_TASK_KEY].append(asyncio.create_task(app[HUB_KEY].run(), name="live-hub"))

    async def stop(app: web.Application) -> None:
        for task in app[HUB_TASK_KEY]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close_streams(app: web.Application) -> None:
        # an open WebSocket would hold the server's stop until aiohttp's own timeout
        for sub in list(app[HUB_KEY].subscribers):
            if sub.ws is not None:
                await sub.ws.close(code=1001, message=b"server stopping")

    app.on_startup.append(start)
    app.on_shutdown.append(close_streams)
    app.on_cleanup.append(stop)
    add_route(
        app,
        Route(
            method="GET",
            path="/api/stream",
            handler=stream,
            summary="Live events (WebSocket)",
            tag="live",
            status=101,
            errors=(400,),
        ),
    )
