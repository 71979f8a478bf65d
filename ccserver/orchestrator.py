"""The orchestrator: ACD decisions become AMI actions, AMI events become ACD events.

Delivery choice: a waiting caller sits in ``cc-hold``; on an offer the caller's
channel is redirected (AMI ``Redirect``) to ``cc-deliver,<agent endpoint>,1``,
whose ``Dial(PJSIP/<endpoint>)`` rings the softphone. Asterisk itself then
reports the outcome (DialEnd ANSWER / NOANSWER / BUSY / CHANUNAVAIL) and, when
the Dial does not connect, returns the caller to ``cc-hold`` with their place
kept by the engine. Redirect keeps one channel per caller (no originated agent
leg to tidy up if ccserver dies mid-offer) and lets the dialplan own ringing.

Every decision is also written to the event log as ``acd.<kind>`` with its
reason, so each routing choice can be explained afterwards.

A failed offer is settled the moment Asterisk says so: the DialEnd, or the
``DIALSTATUS`` the dialplan sets on the caller's channel (a seat that is not
registered gets no Dial events at all, only ``DIALSTATUS=CHANUNAVAIL``), or
the caller back in ``cc-hold`` after their Dial began. Device failures cool
the seat off for a moment; only a ring-out counts as the agent's no-answer.

After every resync the engine is reconciled with Asterisk's channels and
device states (``ccserver.reconcile``); at start, agent states and the wait
starts of open calls are restored from the store (``ccserver.restore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from acd.config import AcdModel
from acd.engine import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentRestored,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallbackFailed,
    CallbackRequested,
    CallEnded,
    DeviceChanged,
    Engine,
    Event,
    OfferAnswered,
    OfferFailed,
    Tick,
    WrapUpDone,
)
from acd.model import AgentState, CallState, Decision, DeviceState
from contracts import dialplan as dp
from cti import events as ev
from cti.connection import AmiConnectionLost, AmiError, AmiNotConnected
from cti.ids import unique_ids
from cti.masking import mask_number
from cti.service import CtiService, Resynced
from cti.sink import CallEvent, EventSink
from ivr.flow import QueueCallback

from . import reconcile
from .callbacks import Dialer
from .config import HotlineConfig
from .restore import Floor, orphan_endings
from .tasks import TaskSupervisor

log = logging.getLogger(__name__)

DIAL_FAILURES = {
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "unavailable",
}
DEVICE_STATES = {
    "UNAVAILABLE": DeviceState.UNREGISTERED,
    "INVALID": DeviceState.UNREGISTERED,
    "NOT_INUSE": DeviceState.OK,
    "INUSE": DeviceState.BUSY,
    "BUSY": DeviceState.BUSY,
    "RINGING": DeviceState.BUSY,
    "ONHOLD": DeviceState.BUSY,
}
# max-wait actions the dialplan's cc-wait context plays (extension per action)
WAIT_SCRIPTS = {"callback": "offer", "announce": "announce"}
CONTACT_STATES = {
    "Removed": DeviceState.UNREGISTERED,
    "Unreachable": DeviceState.UNREACHABLE,
    "Reachable": DeviceState.OK,
    "NonQualified": DeviceState.OK,
    "Created": DeviceState.OK,
}
# a restored agent who was ringing or talking: the resync tells whether the
# conversation goes on (adopted) or ended meanwhile (wrap-up, as after any call)
RESTORED_AS = {AgentState.OFFERED: AgentState.AVAILABLE, AgentState.ON_CALL: AgentState.WRAP_UP}


def parse_skills(text: str) -> tuple[tuple[str, int], ...]:
    """``CC_SKILLS`` as set by the IVR: ``lang_fr:3,billing:5``; bad items are skipped."""
    out = []
    for item in text.split(","):
        name, _, level = item.strip().partition(":")
        if name and level.isdigit() and 1 <= int(level) <= 10:
            out.append((name, int(level)))
    return tuple(out)


class Orchestrator:
    """Keeps the engine and Asterisk in step."""

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

    # --- engine in, decisions out -----------------------------------------
    def handle(self, event: Event) -> list[Decision]:
        """Feed one event to the engine and carry out its decisions."""
        decisions = self.engine.handle(event, self.clock())
        for decision in decisions:
            self._record(decision)
            if decision.kind == "offer":
                self._tasks.spawn(self._deliver(decision), name="acd.deliver")
            elif decision.kind == "cancel_offer" and decision.reason == "ring timeout":
                self._tasks.spawn(self._back_to_hold(decision), name="acd.back_to_hold")
            elif decision.kind == "max_wait" and decision.get("action") in WAIT_SCRIPTS:
                self._tasks.spawn(self._wait_script(decision), name="acd.wait_script")
        return decisions

    def _record(self, d: Decision) -> None:
        self.decisions += 1
        data: dict[str, Any] = {"reason": d.reason, "agent": d.agent_id}
        data.update((k, v) for k, v in d.detail)
        self.sink.emit(CallEvent(self._ids(), d.at, d.call_id or "", f"acd.{d.kind}", data))
        if d.kind not in ("agent_state", "queued"):
            log.info("acd %s call=%s agent=%s: %s", d.kind, d.call_id, d.agent_id, d.reason)

    async def _deliver(self, d: Decision) -> None:
        call_id, agent_id = d.call_id or "", d.agent_id or ""
        channel = self._caller_channel.get(call_id)
        endpoint = str(d.get("endpoint"))
        ring = int(float(str(d.get("ring_timeout_s") or 15)))
        if channel is None and d.get("callback"):
            await self._call_back(call_id, agent_id, str(d.get("callback")), endpoint, ring)
            return
        try:
            if channel is None:
                raise AmiError("caller channel unknown")
            for name, value in (("CC_RING_TIMEOUT", str(ring)), ("CC_AGENT_ID", agent_id)):
                await self.cti.send_action(
                    "Setvar", [("Channel", channel), ("Variable", name), ("Value", value)]
                )
            reply = await self.cti.send_action(
                "Redirect",
                [
                    ("Channel", channel),
                    ("Context", self.hotline.deliver_context),
                    ("Exten", endpoint),
                    ("Priority", "1"),
                ],
            )
            if reply.response != "Success":
                raise AmiError(reply.get("Message") or "Redirect refused")
        except (AmiError, TimeoutError) as exc:
            log.warning("delivery of call %s to %s failed: %s", call_id, agent_id, exc)
            if isinstance(exc, AmiNotConnected | AmiConnectionLost):
                self._link_lost()  # before the requeue: nobody is offered it meanwhile
            call = self.engine.calls.get(call_id)
            if call is not None and call.state is CallState.OFFERED and call.agent_id == agent_id:
                if channel is None or self.cti.tracker.channel_by_name(channel) is None:
                    self.handle(CallAbandoned(call_id))
                else:
                    # ccserver could not deliver it: neither the agent's nor the phone's fault
                    self.handle(OfferFailed(call_id, agent_id, "not_delivered"))

    async def _call_back(
        self, call_id: str, agent_id: str, number: str, endpoint: str, ring: int
    ) -> None:
        """A queue callback reached an agent: ring the customer, then the agent.

        The agent is reserved while the customer's phone rings; when the
        customer answers, ``cc-callback,queue`` tells them they are being
        connected and dials the agent, and the usual DialEnd settles the offer.
        """
        call = self.engine.calls.get(call_id)
        variables = {
            "CC_CALL_ID": call_id,
            "CC_AGENT_ENDPOINT": endpoint,
            "CC_AGENT_ID": agent_id,
            "CC_RING_TIMEOUT": str(ring),
            "CC_QUEUE": call.queue if call else "",
        }
        if self.dialer is None:
            self.handle(CallbackFailed(call_id))
            return
        dialed = await self.dialer.call(number, "queue", variables)
        if dialed.answered and call_id in self.engine.calls:
            # the answered leg is the caller's channel now; its uniqueid is its linkedid
            self._alias[dialed.uniqueid] = call_id
            self._caller_channel[call_id] = dialed.channel
            log.info("callback for call %s answered by %s", call_id, mask_number(number))
            return
        log.info("callback for call %s to %s: %s", call_id, mask_number(number), dialed.detail)
        self.handle(CallbackFailed(call_id))

    def expected_wait(self, queue: str) -> float | None:
        """Seconds a new call in ``queue`` may expect to wait (a rough estimate).

        Calls ahead times the queue's handle time, shared by the agents who
        serve it; zero when one of them is free. None: nobody serves the queue.
        """
        if queue not in self.engine.queues:
            return None
        agents = [
            a for a in self.engine.agents.values()
            if a.state.value != "logged_out" and queue in self.engine.servable(a.id)
        ]  # fmt: skip
        if not agents:
            return None
        if any(a.routable for a in agents):
            return 0.0
        handled = sum(a.calls_handled for a in agents)
        talk = sum(a.talk_time_s for a in agents)
        aht = talk / handled if handled else self.default_aht_s
        ahead = len(self.engine.waiting_calls(queue))
        return (ahead + 1) * aht / len(agents)

    def request_callback(self, cb: QueueCallback) -> bool:
        """Queue a call that will be called back instead of waiting on the line."""
        if cb.queue not in self.engine.queues:
            return False
        skills = tuple(sorted(cb.skills.items()))
        self.handle(CallArrived(cb.call_id, cb.queue, cb.number, cb.priority, cb.vip, skills))
        self.handle(CallbackRequested(cb.call_id, cb.number))
        call = self.engine.calls.get(cb.call_id)
        return call is not None and call.callback_number == cb.number

    async def _wait_script(self, d: Decision) -> None:
        """Max wait reached: offer a callback, or announce, then back to the queue.

        The caller keeps their place; ``cc-wait,<offer|announce>`` runs the IVR's
        ``wait_offer`` / ``announce`` route and returns to ``cc-hold``. An offer
        made meanwhile redirects the caller to the agent as usual.
        """
        action = str(d.get("action"))
        await self._redirect(d.call_id, self.hotline.wait_context, WAIT_SCRIPTS[action])

    def keep_place_for_callback(self, call_id: str, number: str) -> bool:
        """A waiting caller chose a callback: keep the place, hang up, call back."""
        self.handle(CallbackRequested(call_id, number))
        call = self.engine.calls.get(call_id)
        if call is None or call.callback_number != number:
            return False
        self._caller_channel.pop(call_id, None)  # this line hangs up; the callback replaces it
        return True

    async def _back_to_hold(self, d: Decision) -> None:
        await self._redirect(d.call_id, self.hotline.hold_context, "s")

    async def _redirect(self, call_id: str | None, context: str, exten: str) -> None:
        """Send the caller's channel to ``context,exten,1``; a gone channel is no error."""
        channel = self._caller_channel.get(call_id or "")
        if channel is None:
            return
        with contextlib.suppress(AmiError, TimeoutError):
            await self.cti.send_action(
                "Redirect",
                [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", "1")],
            )

    # --- AMI in --------------------------------------------------------------
    async def on_event(self, event: ev.TypedEvent) -> None:
        """Translate the AMI events that matter to routing."""
        if isinstance(event, ev.Newexten):
            self._on_newexten(event)
        elif isinstance(event, ev.VarSet):
            if event.variable == "DIALSTATUS" and event.value:
                self._on_dial_status(event.linkedid, event.channel, event.value)
        elif isinstance(event, ev.DialEnd):
            self._on_dial_end(event)
        elif isinstance(event, ev.DialBegin):
            if event.linkedid and event.dest_channel:
                self._agent_leg[self._alias.get(event.linkedid, event.linkedid)] = (
                    event.dest_channel
                )
        elif isinstance(event, ev.Hangup):
            self._on_hangup(event)
        elif isinstance(event, ev.DeviceStateChange):
            state = DEVICE_STATES.get(event.state)
            self._on_device(event.device, state, from_device_state=True)
        elif isinstance(event, ev.ContactStatus):
            self._on_device(
                f"PJSIP/{event.endpoint_name or event.aor}",
                CONTACT_STATES.get(event.contact_status),
            )

    def _call_of(self, linkedid: str) -> str:
        return self._alias.get(linkedid, linkedid)

    def _on_newexten(self, e: ev.Newexten) -> None:
        if e.uniqueid != e.linkedid:
            return
        call_id = self._call_of(e.linkedid)
        if e.context == self.hotline.deliver_context:
            call = self.engine.calls.get(call_id)
            agent = self.engine.agents.get(call.agent_id or "") if call else None
            if (
                call is not None
                and agent is not None
                and call.state is CallState.OFFERED
                and e.exten == agent.endpoint
                and e.channel == self._caller_channel.get(call_id)
            ):
                self._dialing[call_id] = agent.id  # the offer's Dial begins now
            return
        if e.context != self.hotline.hold_context:
            return
        self._caller_channel[call_id] = e.channel
        call = self.engine.calls.get(call_id)
        if call is not None:
            # back in the queue after an offer that did not connect; if we saw its
            # Dial begin but no outcome, Asterisk's dialplan says it failed
            dialed = self._dialing.pop(call_id, None)
            if dialed is not None and call.state is CallState.OFFERED and dialed == call.agent_id:
                self.handle(OfferFailed(call_id, dialed, "unavailable"))
            return
        self.handle(self._arrival(call_id, e.caller_id_num))

    def _arrival(self, call_id: str, caller_id: str) -> CallArrived:
        """How a caller entering the hold context joins a queue (from its CC_* variables)."""
        call = self.cti.tracker.call(call_id)
        variables = call.variables if call else {}
        caller = call.caller_num if call else caller_id
        opened = self._floor.open_calls.get(call_id)
        queue = (opened.queue if opened else None) or variables.get("CC_QUEUE")
        queue = queue or self.default_queue
        if queue not in self.engine.queues:
            log.warning(
                "call %s asks for unknown queue %r; using %s", call_id, queue, self.default_queue
            )
            queue = self.default_queue
        try:
            priority = float(variables.get("CC_PRIORITY") or 0)
        except ValueError:
            priority = 0.0
        vip = caller in self.vip_numbers or variables.get("CC_VIP") == "1"
        preferred = variables.get("CC_AGENT") or None
        # the original wait start: the event log's, else the dialplan's CC_QUEUED
        # (set on the first entry to cc-hold; read back after a drop or a restart)
        enqueued_at = opened.queued_at if opened and opened.queued_at else None
        enqueued_at = enqueued_at or _epoch(variables.get(dp.CC_QUEUED))
        log.info(
            "call %s from %s enters queue %s%s",
            call_id,
            mask_number(caller),
            queue,
            " (keeps its wait start)" if enqueued_at is not None else "",
        )
        return CallArrived(
            call_id,
            queue,
            caller,
            priority,
            vip,
            parse_skills(variables.get("CC_SKILLS", "")),
            preferred,
            enqueued_at,
        )

    def _on_dial_status(self, linkedid: str, channel: str, status: str) -> None:
        """``DIALSTATUS`` on the caller's channel: the only word Asterisk gives when
        the seat cannot be called at all (no DialBegin or DialEnd for that leg)."""
        call = self.engine.calls.get(self._call_of(linkedid))
        if call is None or call.state is not CallState.OFFERED or call.agent_id is None:
            return
        if channel != self._caller_channel.get(call.id):
            return
        if self._dialing.get(call.id) != call.agent_id:
            return  # a late status of an earlier attempt, already settled by its DialEnd
        del self._dialing[call.id]
        if status == "ANSWER":
            self.handle(OfferAnswered(call.id, call.agent_id))
        elif status in DIAL_FAILURES:
            self.handle(OfferFailed(call.id, call.agent_id, DIAL_FAILURES[status]))

    def _on_dial_end(self, e: ev.DialEnd) -> None:
        call_id = self._call_of(e.linkedid)
        call = self.engine.calls.get(call_id)
        talker = reconcile.agent_of(self.engine, e.dest_channel)
        if (
            e.dial_status == "ANSWER"
            and talker is not None
            and (
                call is None or (call.state is not CallState.CONNECTED and call.agent_id != talker)
            )
        ):
            # a Dial begun before a restart or a lost link was answered: that is the truth
            self._adopt_answered(call_id, talker)
            return
        if call is None:
            return
        if call.agent_id is None or e.channel != self._caller_channel.get(call.id):
            return
        self._dialing.pop(call.id, None)
        if e.dial_status == "ANSWER":
            self.handle(OfferAnswered(call.id, call.agent_id))
        elif e.dial_status in DIAL_FAILURES:
            self.handle(OfferFailed(call.id, call.agent_id, DIAL_FAILURES[e.dial_status]))

    def _adopt_answered(self, call_id: str, agent_id: str) -> None:
        """An answer the engine did not offer (or no longer expects): the agent is on that call."""
        known = self.engine.calls.get(call_id)
        queue = known.queue if known is not None else self._queue_of(call_id)
        if queue is None:
            return
        call = self.cti.tracker.call(call_id)
        self._dialing.pop(call_id, None)
        self.handle(CallAdopted(call_id, queue, agent_id, call.caller_num if call else ""))

    def _queue_of(self, call_id: str) -> str | None:
        opened = self._floor.open_calls.get(call_id)
        call = self.cti.tracker.call(call_id)
        queue = (opened.queue if opened else None) or (
            call.variables.get("CC_QUEUE") if call else None
        )
        if queue is None or queue not in self.engine.queues:
            return None if call is None else self.default_queue
        return queue

    def _on_hangup(self, e: ev.Hangup) -> None:
        call = self.engine.calls.get(self._call_of(e.linkedid))
        if call is None:
            return
        caller_leg = self._caller_channel.get(call.id)
        if (
            call.callback_number
            and e.channel != caller_leg
            and e.channel != self._agent_leg.get(call.id)
        ):
            return  # the original leg after asking for a callback, or a failed callback leg
        if e.channel == caller_leg or e.uniqueid == call.id:
            if call.state is CallState.CONNECTED:
                self.handle(CallEnded(call.id))
            else:
                self.handle(CallAbandoned(call.id))
            self._forget(call.id)
            if e.linkedid in self._alias:
                del self._alias[e.linkedid]
        elif e.channel == self._agent_leg.get(call.id) and call.state is CallState.CONNECTED:
            self.handle(CallEnded(call.id))

    def _forget(self, call_id: str) -> None:
        self._caller_channel.pop(call_id, None)
        self._agent_leg.pop(call_id, None)
        self._dialing.pop(call_id, None)

    def _on_device(
        self, device: str, state: DeviceState | None, *, from_device_state: bool = False
    ) -> None:
        tech, _, endpoint = device.partition("/")
        agent_id = self.engine.by_endpoint.get(endpoint) if tech == "PJSIP" else None
        if agent_id is None or state is None:
            return
        agent = self.engine.agents[agent_id]
        if state is DeviceState.BUSY and agent.call_id is not None:
            state = DeviceState.OK  # ringing or talking with the call the ACD gave it
        if (
            from_device_state
            and state is DeviceState.UNREGISTERED
            and agent.device is DeviceState.UNREACHABLE
        ):
            return  # UNAVAILABLE follows "Unreachable": keep the more telling word
        self.handle(DeviceChanged(agent_id, state))

    # --- restart and resync -------------------------------------------------------
    def restore(self, floor: Floor) -> None:
        """Take back the floor the store kept: agent states now, open calls at the first resync."""
        self._floor = floor
        now = self.clock()
        for agent_id, stored in floor.agents.items():
            agent = self.engine.agents.get(agent_id)
            if agent is None:
                continue  # no longer configured
            try:
                state = AgentState(stored.state)
            except ValueError:
                log.warning("agent %s: stored state %r unknown; left logged out", agent_id, stored)
                continue
            until = stored.until
            if state in RESTORED_AS:
                state = RESTORED_AS[state]
                wraps = [self.engine.queues[q].wrap_up_s for q in self.engine.servable(agent_id)]
                until = now + max(wraps, default=0.0)
            self.handle(AgentRestored(agent_id, state, stored.reason, until))

    @property
    def restored_agents(self) -> frozenset[str]:
        """Agents whose state came from the store at start."""
        return frozenset(a for a in self._floor.agents if a in self.engine.agents)

    async def on_resync(self, found: Resynced) -> None:
        """Make the engine agree with Asterisk after a resync (a watchdog as well)."""
        self._synced_session = self.cti.client.sessions
        self._link_down = False
        for agent in list(self.engine.agents.values()):
            state = reconcile.device_state(agent.endpoint, found.devices, found.contacts)
            if state is None and agent.device is DeviceState.UNKNOWN:
                state = DeviceState.OK  # Asterisk cannot tell (no permission?): offers will
            if state is not None:
                self._on_device(f"PJSIP/{agent.endpoint}", state)
        floor = self._floor_view(found.notes.answered)
        arrivals = {}
        for call_id, ch in reconcile.holding_callers(floor, self.engine.calls).items():
            arrival = self._arrival(call_id, ch.caller_num)
            self._caller_channel[call_id] = ch.name
            order = arrival.enqueued_at if arrival.enqueued_at is not None else ch.created_at
            arrivals[call_id] = reconcile.Arrival(arrival, order)
        queue_of = {}
        for call in self.cti.tracker.active_calls():
            queue = self._queue_of(call.call_id)
            if queue is not None:
                queue_of[call.call_id] = queue
        for fix in reconcile.corrections(self.engine, floor, arrivals, queue_of):
            self.corrections += 1
            log.warning("reconciled with Asterisk: %s: %s", type(fix.event).__name__, fix.why)
            self.handle(fix.event)
            event = fix.event
            if (
                isinstance(event, (CallAbandoned, CallEnded))
                and event.call_id not in self.engine.calls
            ):
                self._forget(event.call_id)
        if self._first_resync:
            self._first_resync = False
            self._close_orphans(found)

    def _close_orphans(self, found: Resynced) -> None:
        """Calls the log had open that Asterisk no longer has: they ended while we were down.

        Asterisk's notes (AstDB) give when each ended and, if an agent answered,
        who and when; the conversation then goes on the record as adopted.
        """
        gone = [
            c for c in self._floor.open_calls.values() if c.call_id not in self.cti.tracker.calls
        ]
        now = self.clock()
        for call in gone:
            noted = found.notes.answered.get(call.call_id)
            agent_id = reconcile.agent_of(self.engine, noted[1]) if noted else None
            queue = call.queue if call.queue in self.engine.queues else self.default_queue
            if noted is not None and agent_id is not None and call.call_id not in self.engine.calls:
                self.handle(CallAdopted(call.call_id, queue, agent_id, "", noted[0]))
                self.handle(CallEnded(call.call_id))
        for record in orphan_endings(gone, found.notes.ended, now, self._ids):
            self.sink.emit(record)
        if gone:
            log.warning("%d calls ended while ccserver was down; closed now", len(gone))

    def _floor_view(
        self, answered: Mapping[str, tuple[float, str]] | None = None
    ) -> reconcile.Floor:
        return reconcile.Floor(
            answered=answered or {},
            channels=list(self.cti.tracker.channels.values()),
            caller_channel=self._caller_channel,
            alias=self._alias,
            dialing=self._dialing,
            hold_context=self.hotline.hold_context,
            deliver_context=self.hotline.deliver_context,
        )

    async def refresh_devices(self) -> None:
        """Ask Asterisk for every softphone's state now (an agent logged in)."""
        if not self.cti.connected:
            return
        devices, contacts = await self.cti.device_truth()
        for agent in list(self.engine.agents.values()):
            state = reconcile.device_state(agent.endpoint, devices, contacts)
            if state is not None:
                self._on_device(f"PJSIP/{agent.endpoint}", state)

    # --- the agents' own actions (API) ----------------------------------------
    def agent_action(self, agent_id: str, action: str, reason: str | None = None) -> list[Decision]:
        """login, logout, ready, not_ready (with a reason code), end_wrap_up."""
        events: dict[str, Callable[[], Event]] = {
            "login": lambda: AgentLogin(agent_id),
            "logout": lambda: AgentLogout(agent_id),
            "ready": lambda: AgentReady(agent_id),
            "not_ready": lambda: AgentNotReady(agent_id, reason or "break"),
            "end_wrap_up": lambda: WrapUpDone(agent_id),
        }
        if action not in events:
            raise ValueError(f"unknown agent action {action!r}")
        if action == "not_ready" and reason not in self.model.reason_codes:
            raise ValueError(
                f"unknown reason code {reason!r}; use one of {self.model.reason_codes}"
            )
        decisions = self.handle(events[action]())
        if action == "login":
            # device truth at every login
            self._tasks.spawn(self.refresh_devices(), name="acd.refresh_devices")
        return decisions

    def snapshot(self) -> dict[str, Any]:
        """Agents and queues for the API and metrics."""
        now = self.clock()
        agents = [
            {
                "id": a.id,
                "name": a.name,
                "endpoint": a.endpoint,
                "state": a.state.value,
                "reason": a.reason,
                "device": a.device.value,
                "routable": a.routable,
                "not_routable_because": a.not_routable_because(),
                "skills": a.skills,
                "calls_handled": a.calls_handled,
                "talk_time_s": round(a.talk_time_s, 1),
                "call_id": a.call_id,
                "queues": list(self.engine.servable(a.id)),
            }
            for a in self.engine.agents.values()
        ]
        queues = []
        for name in self.engine.queues:
            waiting = self.engine.waiting_calls(name)
            queues.append(
                {
                    "name": name,
                    "waiting": len(waiting),
                    "longest_wait_s": round(
                        max((now - c.enqueued_at for c in waiting), default=0.0), 1
                    ),
                }
            )
        return {"agents": agents, "queues": queues, "corrections": self.corrections}


def _epoch(text: str | None) -> float | None:
    """A ``CC_QUEUED`` value (``1796030731.939``), or None if absent or not a sane time."""
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None
