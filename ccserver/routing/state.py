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
import logging
import time
from collections.abc import Callable

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
        cti: CtiService,
        sink: EventSink,
        hotline: HotlineConfig,
        *,
        clock: Callable[[], float] = time.time,
        tick_s: float = 0.5,
        dialer: Dialer | None = None,
        default_aht_s: float = 180.0,
        tasks: TaskSupervisor | None = None,
    ) -> None:
        self.model = model
        self.dialer = dialer
        self.default_aht_s = default_aht_s
        agents = [a.build() for a in model.agents]
        for agent in agents:
            agent.device = DeviceState.UNKNOWN  # until Asterisk says (first resync)
        self.engine = Engine([q.build() for q in model.queues], agents, model.settings())
        self.cti = cti
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
        # delivery, hold and device work runs beside the AMI consumer; the server's
        # supervisor logs and counts what fails (its own, for an orchestrator alone)
        self._tasks = tasks or TaskSupervisor("acd")
        self._own_tasks = tasks is None
        self._ticker: asyncio.Task[None] | None = None
        self._ids = unique_ids("acd")
        self._floor = Floor()  # what the store said at start; open calls until the first resync
        self._first_resync = True
        self._synced_session = -1  # the AMI session the last resync reconciled
        self._link_down = False
        self.decisions = 0
        self.corrections = 0  # engine states corrected by reconciliation with Asterisk
        cti.subscribe(self.on_event)
        cti.subscribe_resync(self.on_resync)

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
            if self.in_step:
                self.handle(Tick())
            elif not self.cti.connected:
                self._link_lost()

    def _link_lost(self) -> None:
        """The AMI link is down: no softphone's state is known until the next resync says.

        So nothing is offered meanwhile (an offer could not be delivered, and a
        ring-out could not be heard); callers keep their places.
        """
        if self._link_down:
            return
        self._link_down = True
        log.warning("AMI link down: offers wait for the resync")
        for agent in list(self.engine.agents.values()):
            self.handle(DeviceChanged(agent.id, DeviceState.UNKNOWN))

    @property
    def in_step(self) -> bool:
        """Connected to Asterisk and reconciled since this session began.

        Time passes for the engine only then: while the link is down an offer's
        outcome cannot be heard, so a ring timeout would wrongly mark an agent
        who answered as "no answer"; once the resync has told the engine what
        happened meanwhile, the timers run again.
        """
        return self.cti.connected and self._synced_session == self.cti.client.sessions

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
        self._caller_channel.pop(call_id, None)
        self._agent_leg.pop(call_id, None)
        self._dialing.pop(call_id, None)
