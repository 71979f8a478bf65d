"""The routing plugin's shared state and its engine loop.

``RoutingState`` owns the ACD engine, the correlation between calls and
Asterisk's channels (the caller's channel, the agent's leg, a callback's alias,
the Dial under way), the tick loop, and ``handle``: every event goes to the
engine, every effect is written to the event log as ``acd.<kind>`` and handed
to ``_carry_out`` (the AMI side: ``routing.delivery``). While the AMI link is
down the engine's timers stand still and no softphone is routable, so nothing
is offered that could not be delivered or whose ring-out could not be heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from acd.config import AcdModel
from acd.effects import (
    AgentStateChanged,
    Effect,
    Queued,
)
from acd.engine import Engine
from acd.events import (
    DeviceChanged,
    Event,
    NodeLinkChanged,
    Tick,
)
from acd.model import DeviceState
from contracts.ids import unique_ids
from contracts.sink import CallEvent, EventSink
from cti import events as ev
from cti.service import CtiService, Resynced

from ..callbacks import Dialer
from ..config import HotlineConfig
from ..tasks import TaskSupervisor
from .restore import Floor

log = logging.getLogger("ccserver.orchestrator")


class RoutingState:
    """State and the engine loop shared by the routing plugin's parts."""

    def __init__(
        self,
        model: AcdModel,
        cti: CtiService | Sequence[CtiService],
        sink: EventSink,
        hotline: HotlineConfig,
        *,
        clock: Callable[[], float] = time.time,
        tick_s: float = 0.5,
        dialer: Dialer | None = None,
        default_aht_s: float = 180.0,
        tasks: TaskSupervisor | None = None,
        trunks: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.model = model
        self.dialer = dialer
        self.default_aht_s = default_aht_s
        agents = [a.build() for a in model.agents]
        for agent in agents:
            agent.device = DeviceState.UNKNOWN  # until Asterisk says (first resync)
        self.engine = Engine([q.build() for q in model.queues], agents, model.settings())
        # the Asterisk nodes followed (README "Scaling out"), each its own CtiService; the
        # first also places callbacks. With one node nothing is tagged by node (as before).
        services = [cti] if isinstance(cti, CtiService) else list(cti)
        self.nodes: dict[str, CtiService] = {c.node: c for c in services}
        self.cti = services[0]
        self.multi = len(services) > 1
        self.trunks = {n: dict(t) for n, t in (trunks or {}).items()}  # node -> {other: trunk}
        self._node = self.cti.node  # the node whose event or resync is being read
        self._call_node: dict[str, str] = {}  # call id -> the node of the caller's line
        self.sink = sink
        self.hotline = hotline
        self.clock = clock
        self.tick_s = tick_s
        self.default_queue = model.default_queue or model.queues[0].name
        self.vip_numbers = frozenset(model.vip_numbers)
        self._caller_channel: dict[str, str] = {}  # call id -> caller channel name
        self._agent_leg: dict[str, str] = {}  # call id -> agent channel name
        self._alias: dict[str, str] = {}  # a callback leg's linkedid -> the call it serves
        self._dialing: dict[str, str] = {}  # call id -> agent whose Dial has begun
        # callers a resync queued whose wait start it could not read (the line hung up
        # meanwhile): call id -> (node, queue); their ended note has it (``Resync``)
        self._wait_unknown: dict[str, tuple[str, str]] = {}
        # delivery, hold and device work runs beside the AMI consumer; the server's
        # supervisor logs and counts what fails (its own, for an orchestrator alone)
        self._tasks = tasks or TaskSupervisor("acd")
        self._own_tasks = tasks is None
        self._ticker: asyncio.Task[None] | None = None
        self._ids = unique_ids("acd")
        self._floor = Floor()  # what the store said at start; open calls until the first resync
        self._first_resync = set(self.nodes)  # nodes not resynced since this start
        self._synced_session = dict.fromkeys(self.nodes, -1)  # the session last reconciled
        self._link_down: set[str] = set()
        self.decisions = 0
        self.corrections = 0  # engine states corrected by reconciliation with Asterisk
        for service in services:
            service.subscribe(functools.partial(self._node_event, service.node))
            service.subscribe_resync(functools.partial(self._node_resync, service.node))

    async def _node_event(self, node: str, event: ev.TypedEvent) -> None:
        # the translation reads the event without awaiting: the node stays its own meanwhile
        self._node = node
        await self.on_event(event)

    async def _node_resync(self, node: str, found: Resynced) -> None:
        self._node = node
        await self.on_resync(found)

    @property
    def _here(self) -> CtiService:
        """The node whose event or resync is being read."""
        return self.nodes[self._node]

    def acd_node(self, node: str) -> str | None:
        """A node as the ACD is told it: None with a single node (nothing is tagged)."""
        return node if self.multi else None

    def node_of(self, call_id: str) -> str:
        """The node of a call's caller line: as seen, else the one that tracks it, else the
        node its id names (``<systemname>-...``), else the first."""
        node = self._call_node.get(call_id)
        if node is not None:
            return node
        for name, service in self.nodes.items():
            if call_id in service.tracker.calls:
                return name
        prefix = call_id.partition("-")[0]
        return prefix if prefix in self.nodes and "-" in call_id else self.cti.node

    def cti_of(self, call_id: str) -> CtiService:
        """The CTI service of the node a call's caller line is on (where its actions go)."""
        return self.nodes.get(self.node_of(call_id), self.cti)

    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick_loop(), name="acd-tick")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._own_tasks:
            await self._tasks.close()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            # several nodes: time runs while any node is in step (README "Scaling out")
            if self.in_step:
                self.handle(Tick())
            for node, service in self.nodes.items():
                if not service.connected:
                    self._link_lost(node)

    def _link_lost(self, node: str | None = None) -> None:
        """A node's AMI link is down: its softphones' states are not known until its next
        resync says.

        So nothing is offered to them meanwhile, nor are its callers (an offer could not
        be delivered, and a ring-out could not be heard); callers keep their places.
        Other nodes go on.
        """
        node = node or self.cti.node
        if node in self._link_down:
            return
        self._link_down.add(node)
        log.warning("AMI link to node %s down: its offers wait for its resync", node)
        if self.multi:
            self.handle(NodeLinkChanged(node, up=False))
        for agent in list(self.engine.agents.values()):
            if not self.multi:
                self.handle(DeviceChanged(agent.id, DeviceState.UNKNOWN))
            elif agent.node == node:
                self.handle(DeviceChanged(agent.id, DeviceState.UNKNOWN, node))

    @property
    def in_step(self) -> bool:
        """Connected to Asterisk and reconciled since this session began.

        Time passes for the engine only then: while the link is down an offer's
        outcome cannot be heard, so a ring timeout would wrongly mark an agent
        who answered as "no answer"; once the resync has told the engine what
        happened meanwhile, the timers run again.
        """
        return any(self.node_in_step(node) for node in self.nodes)

    def node_in_step(self, node: str) -> bool:
        """One node connected and reconciled since its session began."""
        service = self.nodes[node]
        return service.connected and self._synced_session[node] == service.client.sessions

    def handle(self, event: Event) -> list[Effect]:
        """Feed one event to the engine, record its effects and carry them out."""
        effects = self.engine.handle(event, self.clock())
        for effect in effects:
            self._record(effect)
            self._carry_out(effect)
        return effects

    def _carry_out(self, effect: Effect) -> None:
        """The AMI side of an effect (``routing.delivery`` provides it)."""

    async def on_event(self, event: ev.TypedEvent) -> None:
        """An AMI event, after the tracker applied it (``routing.translate`` reads them)."""

    async def on_resync(self, found: Resynced) -> None:
        """A resync's findings (``routing.resync`` reconciles the engine with them)."""

    def _record(self, d: Effect) -> None:
        self.decisions += 1
        self.sink.emit(CallEvent(self._ids(), d.at, d.call_id or "", f"acd.{d.kind}", d.payload()))
        if not isinstance(d, AgentStateChanged | Queued):
            log.info("acd %s call=%s agent=%s: %s", d.kind, d.call_id, d.agent_id, d.reason)

    def _call_of(self, linkedid: str) -> str:
        return self._alias.get(linkedid, linkedid)

    def _forget(self, call_id: str) -> None:
        self._wait_unknown.pop(call_id, None)  # a caller who left another way (a callback)
        self._call_node.pop(call_id, None)
        self._caller_channel.pop(call_id, None)
        self._agent_leg.pop(call_id, None)
        self._dialing.pop(call_id, None)
