"""AMI events become ACD events: who entered the queue, how an offer ended, device truth.

A caller entering the hold context joins a queue with the queue, skills and
priority the IVR set (``CC_*``), and its original wait start when it is known
(the event log, or the dialplan's ``CC_QUEUED``). A failed offer is settled the
moment Asterisk says so: the DialEnd, or the ``DIALSTATUS`` the dialplan sets
on the caller's channel (a seat that is not registered gets no Dial events at
all, only ``DIALSTATUS=CHANUNAVAIL``), or the caller back in ``cc-hold`` after
their Dial began. Device failures cool the seat off for a moment; only a
ring-out counts as the agent's no-answer. An answer the engine did not expect
(a Dial begun before a restart or a lost link) is adopted as the truth.
"""

from __future__ import annotations

import logging
import math

from acd.events import (
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    CallTransferred,
    DeviceChanged,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
)
from acd.model import CallState, DeviceState
from contracts import dialplan as dp
from contracts.masking import mask_number
from cti import events as ev

from . import reconcile
from .state import RoutingState

log = logging.getLogger("ccserver.orchestrator")

DIAL_FAILURES = {
    "NOANSWER": OfferFailure.NO_ANSWER,
    "BUSY": OfferFailure.BUSY,
    "CHANUNAVAIL": OfferFailure.UNAVAILABLE,
    "CONGESTION": OfferFailure.UNAVAILABLE,
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
CONTACT_STATES = {
    "Removed": DeviceState.UNREGISTERED,
    "Unreachable": DeviceState.UNREACHABLE,
    "Reachable": DeviceState.OK,
    "NonQualified": DeviceState.OK,
    "Created": DeviceState.OK,
}


def parse_skills(text: str) -> tuple[tuple[str, int], ...]:
    """``CC_SKILLS`` as set by the IVR: ``lang_fr:3,billing:5``; bad items are skipped."""
    out = []
    for item in text.split(","):
        name, _, level = item.strip().partition(":")
        if name and level.isdigit() and 1 <= int(level) <= 10:
            out.append((name, int(level)))
    return tuple(out)


class Translation(RoutingState):
    """Reads the AMI events that matter to routing."""

    async def on_event(self, event: ev.TypedEvent) -> None:
        """Translate the AMI events that matter to routing."""
        if isinstance(event, ev.Newexten):
            self._on_newexten(event)
        elif isinstance(event, ev.VarSet):
            if event.variable == "DIALSTATUS" and event.value:
                self._on_dial_status(event.linkedid, event.channel, event.value)
            elif event.variable == dp.CC_REMOTE_OF and event.value:
                self._remote_leg(event.linkedid, event.value)
        elif isinstance(event, ev.DialEnd):
            self._on_dial_end(event)
        elif isinstance(event, ev.DialBegin):
            # a consult call (an agent's phone or the atxfer feature's Local channel
            # dialling a colleague) does not make that colleague the call's agent leg
            consult = event.channel.startswith("Local/") or (
                reconcile.agent_of(self.engine, event.channel) is not None
            )
            if event.linkedid and event.dest_channel and not consult:
                self._agent_leg[self._alias.get(event.linkedid, event.linkedid)] = (
                    event.dest_channel
                )
        elif isinstance(event, ev.Hangup):
            self._on_hangup(event)
        elif isinstance(event, ev.AttendedTransfer) and event.result == "Success":
            self._on_attended_transfer(event)
        elif isinstance(event, ev.DeviceStateChange):
            state = DEVICE_STATES.get(event.state)
            self._on_device(event.device, state, from_device_state=True)
        elif isinstance(event, ev.ContactStatus):
            self._on_device(
                f"PJSIP/{event.endpoint_name or event.aor}",
                CONTACT_STATES.get(event.contact_status),
            )

    def _remote_leg(self, linkedid: str, remote_of: str) -> None:
        """A node's inbound trunk line that rings one of its seats for a call of another
        node (``CC_REMOTE_OF=<node>/<call id>``, set by ``cc-remote-in``): a leg of that
        call, never a new caller."""
        node, _, call_id = remote_of.partition("/")
        if node in self.nodes and node != self._node and call_id and linkedid:
            self._alias[linkedid] = call_id

    def _on_newexten(self, e: ev.Newexten) -> None:
        if e.uniqueid != e.linkedid:
            return
        call_id = self._call_of(e.linkedid)
        if e.context in (self.hotline.deliver_context, self.hotline.deliver_remote_context):
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
        self._call_node[call_id] = self._node
        call = self.engine.calls.get(call_id)
        if call is not None:
            # back in the queue after an offer that did not connect; if we saw its
            # Dial begin but no outcome, Asterisk's dialplan says it failed
            dialed = self._dialing.pop(call_id, None)
            if dialed is not None and call.state is CallState.OFFERED and dialed == call.agent_id:
                self.handle(OfferFailed(call_id, dialed, OfferFailure.UNAVAILABLE))
            return
        self.handle(self._arrival(call_id, e.caller_id_num, entered_at=self._here.event_at))

    def _arrival(
        self, call_id: str, caller_id: str, entered_at: float | None = None
    ) -> CallArrived:
        """How a caller entering the hold context joins a queue (from its CC_* variables)."""
        call = self._here.tracker.call(call_id)
        variables = call.variables if call else {}
        caller = call.caller_num if call else caller_id
        opened = self._floor.open_calls.get(call_id)
        queue = (opened.queue if opened else None) or variables.get(dp.CC_QUEUE)
        queue = queue or self.default_queue
        if queue not in self.engine.queues:
            log.warning(
                "call %s asks for unknown queue %r; using %s", call_id, queue, self.default_queue
            )
            queue = self.default_queue
        try:
            priority = float(variables.get(dp.CC_PRIORITY) or 0)
        except ValueError:
            priority = 0.0
        vip = caller in self.vip_numbers or variables.get(dp.CC_VIP) == "1"
        preferred = variables.get(dp.CC_AGENT) or None
        # the original wait start: the event log's, else the dialplan's CC_QUEUED
        # (set on the first entry to cc-hold; read back after a drop or a restart)
        kept = (opened.queued_at if opened else None) or _epoch(variables.get(dp.CC_QUEUED))
        log.info(
            "call %s from %s enters queue %s%s",
            call_id,
            mask_number(caller),
            queue,
            " (keeps its wait start)" if kept is not None else "",
        )
        return CallArrived(
            call_id,
            queue,
            caller,
            priority,
            vip,
            parse_skills(variables.get(dp.CC_SKILLS, "")),
            preferred,
            # else when the caller entered cc-hold, as Asterisk timed it (a live arrival)
            kept or entered_at,
            self.acd_node(self._node),
        )

    def _on_dial_status(self, linkedid: str, channel: str, status: str) -> None:
        """``DIALSTATUS`` on the caller's channel: the only word Asterisk gives when
        the seat cannot be called at all (no DialBegin or DialEnd for that leg)."""
        call = self.engine.calls.get(self._call_of(linkedid))
        if call is None or call.state is not CallState.OFFERED or call.agent_id is None:
            return
        if channel != self._caller_channel.get(call.id) or not self._on_callers_node(call.id):
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
        if call is None and self._is_remote_leg(e.linkedid):
            return  # a trunk leg of a call that ended (or not known yet): not a new caller
        talker = reconcile.agent_of(self.engine, e.dest_channel)
        # an agent's own call (a consult before an attended transfer) is not a queue call
        from_agent = reconcile.agent_of(self.engine, e.channel) is not None
        if (
            e.dial_status == "ANSWER"
            and talker is not None
            and not from_agent
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
        if not self._on_callers_node(call.id):
            return  # a leg on the seat's node (cross-node): the caller's node settles the offer
        if talker is not None and talker != call.agent_id:
            return  # the late end of an earlier attempt: the call rings someone else now
        self._dialing.pop(call.id, None)
        if e.dial_status == "ANSWER":
            self.handle(OfferAnswered(call.id, call.agent_id))
        elif e.dial_status in DIAL_FAILURES:
            self.handle(OfferFailed(call.id, call.agent_id, DIAL_FAILURES[e.dial_status]))

    def _on_attended_transfer(self, e: ev.AttendedTransfer) -> None:
        """The agent handed the caller to a colleague after a consult call: the call is
        the colleague's now (a blind transfer shows up as the target's answered Dial)."""
        call_id = self._call_of(e.transferee_linkedid)
        taker = reconcile.agent_of(self.engine, e.transfer_target_channel)
        if taker is None or not call_id:
            return
        self._agent_leg[call_id] = e.transfer_target_channel
        if call_id in self.engine.calls:
            self.handle(CallTransferred(call_id, taker))
        else:  # the first agent's leg was gone first: the call ended for the engine
            self._adopt_answered(call_id, taker)

    def _adopt_answered(self, call_id: str, agent_id: str) -> None:
        """An answer the engine did not offer (or no longer expects): the agent is on that call."""
        known = self.engine.calls.get(call_id)
        queue = known.queue if known is not None else self._queue_of(call_id)
        if queue is None:
            return
        call = self._here.tracker.call(call_id)
        self._dialing.pop(call_id, None)
        if known is None:
            self._call_node.setdefault(call_id, self._node)
        node = self.acd_node(self.node_of(call_id))
        caller = call.caller_num if call else ""
        self.handle(CallAdopted(call_id, queue, agent_id, caller, node=node))

    def _on_callers_node(self, call_id: str) -> bool:
        """Whether the event being read comes from the node of the call's caller line
        (channel names repeat across nodes)."""
        return not self.multi or self._node == self.node_of(call_id)

    def _is_remote_leg(self, linkedid: str) -> bool:
        """Whether this node's call is the inbound trunk leg of another node's call."""
        call = self._here.tracker.call(linkedid)
        return call is not None and bool(call.variables.get(dp.CC_REMOTE_OF))

    def _queue_of(self, call_id: str) -> str | None:
        opened = self._floor.open_calls.get(call_id)
        call = self._here.tracker.call(call_id)
        queue = (opened.queue if opened else None) or (
            call.variables.get(dp.CC_QUEUE) if call else None
        )
        if queue is None or queue not in self.engine.queues:
            return None if call is None else self.default_queue
        return queue

    def _on_hangup(self, e: ev.Hangup) -> None:
        call_id = self._call_of(e.linkedid)
        call = self.engine.calls.get(call_id)
        if call is None:
            # the engine let go of the call before its caller's line closed (the agent
            # hung up first): what this plugin kept of it goes with that line
            mine = e.channel == self._caller_channel.get(call_id) and self._on_callers_node(call_id)
            if e.uniqueid == call_id or mine:
                self._forget(call_id)
                self._alias.pop(e.linkedid, None)
            return
        caller_leg = self._caller_channel.get(call.id)
        if not self._on_callers_node(call.id):
            caller_leg = None  # a channel of another node: names repeat across nodes
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
        self.handle(DeviceChanged(agent_id, state, self.acd_node(self._node)))


def _epoch(text: str | None) -> float | None:
    """A ``CC_QUEUED`` value (``1796030731.939``), or None if absent or not a sane time."""
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None
