"""The agent desktop's call control: hold and resume, transfers, notes, wrap-up (AMI, no HTTP).

Decisions, and where Asterisk 22 has the last word:

- **Hold / resume.** Asterisk 22 has no AMI ``Hold`` action: a call is held by the phone
  (a re-INVITE with ``sendonly``), which makes Asterisk raise ``Hold`` / ``Unhold`` on the
  agent's channel, the events the call tracker records and the reports measure. So the
  desk asks the agent's *phone* to hold or resume with AMI ``PJSIPNotify``
  (``Endpoint=<agent endpoint>``, ``Variable: Event=hold`` / ``Event=talk``): the Broadsoft
  remote-control events that Yealink, Polycom, Grandstream and Snom desk phones honour
  (``res/res_pjsip_notify.c`` answers ``NOTIFY sent`` once the NOTIFY is queued, or
  ``Unable to retrieve endpoint <name>``). Held or not is what the tracker last heard
  from Asterisk (the channel's ``held_since``), never what the desk asked: when no
  ``Hold`` / ``Unhold`` arrives within :data:`HOLD_CONFIRM_S`, the answer says
  ``confirmed: false`` and the desk tells the agent to use the phone's own hold key.
- **Blind transfer**: AMI ``BlindTransfer`` of the agent's channel (its caller continues
  at ``Context``/``Exten``): to a colleague ``cc-deliver,<endpoint>`` (rung like an offer;
  unanswered, back to the queue), to a queue ``cc-transfer,queue-<name>`` after ``Setvar
  CC_QUEUE=<name>`` on the caller's channel (the caller waits in that queue anew; the ACD
  re-queues them when they enter ``cc-hold``).
- **Attended transfer**: AMI ``Atxfer`` of the agent's channel to ``cc-transfer,<endpoint>``
  (Asterisk's atxfer feature: the caller hears music, the colleague rings; cc-deliver's
  Dial has option ``t`` for it). Completing it is the agent leaving: AMI ``Hangup`` of the
  agent's channel, once the colleague answered; AMI ``CancelAtxfer`` cancels it. The ACD
  follows the ``AttendedTransfer`` event (``routing/translate.py``).
- **Notes and disposition** are event-log events on the call (``call.note``,
  ``call.disposition``); the call report shows the disposition code. The codes are the
  ACD model's ``disposition_codes``, read at every use (they may change live).

An agent acts on their own call only; the HTTP plugin (``api/plugins/desk.py``) checks
who asks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acd.model import CallState
from contracts import dialplan as dp
from contracts import eventlog as el
from contracts.ids import unique_ids
from contracts.sink import CallEvent
from cti.connection import AmiError
from cti.tracker import Channel
from ivr.records import Ticket

from .orchestrator import ActionRefused, Orchestrator

log = logging.getLogger("ccserver.call_control")

HOLD_CONFIRM_S = 4.0  # the phone's re-INVITE and Asterisk's Hold event come within this
_POLL_S = 0.05


class CallControlError(Exception):
    """What the desk asked cannot be done; ``kind`` says why (for the HTTP status)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # not_found | conflict | bad_request | asterisk


@dataclass(frozen=True)
class HoldResult:
    held: bool  # what Asterisk says now (its Hold / Unhold events)
    confirmed: bool  # Asterisk's event came: the phone obeyed the NOTIFY


@dataclass(frozen=True)
class TransferResult:
    kind: str  # blind | attended
    target: str  # an agent id or a queue name
    exten: str
    message: str  # Asterisk's answer


class CallControl:
    """The AMI side of the agent desktop's buttons."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        clock: Callable[[], float] | None = None,
        confirm_s: float = HOLD_CONFIRM_S,
    ) -> None:
        self.orchestrator = orchestrator
        self.clock = clock or orchestrator.clock
        self.confirm_s = confirm_s
        self._ids = unique_ids("desk")
        self._consults: dict[str, str] = {}  # agent id -> the colleague's agent id

    # --- what the desk shows ---------------------------------------------------------------
    def current_call(self, agent_id: str) -> tuple[str, Channel] | None:
        """The call the agent talks on now and their channel in it (None: no call)."""
        orch = self.orchestrator
        agent = orch.engine.agents.get(agent_id)
        if agent is None or agent.call_id is None:
            return None
        call = orch.engine.calls.get(agent.call_id)
        if call is None or call.state is not CallState.CONNECTED or call.agent_id != agent_id:
            return None
        tracker = orch.cti_of(call.id).tracker
        leg = tracker.channel_by_name(orch._agent_leg.get(call.id, ""))
        if leg is None or leg.ended_at is not None:
            # the leg the ACD did not note (an adopted call): the agent's channel in the call
            tracked = tracker.call(call.id)
            leg = tracked.endpoint_leg(agent.endpoint) if tracked is not None else None
        return None if leg is None else (call.id, leg)

    def status(self, agent_id: str) -> dict[str, Any]:
        """The agent's call as the desk shows it: Asterisk's hold state, the consult."""
        found = self.current_call(agent_id)
        last = self.orchestrator.last_call(agent_id)
        out: dict[str, Any] = {
            "call_id": None,
            "channel": None,
            "held": False,
            "held_since": None,
            "consult": None,
            "last_call_id": last[0] if last else None,
            "disposition_required": self.orchestrator.needs_disposition(last[1] if last else None),
            "disposition_codes": list(self.orchestrator.model.disposition_codes),
            # where a transfer may go: the colleagues (free now or not) and the queues
            "colleagues": [
                {"id": a.id, "name": a.name, "free": a.routable}
                for a in self.orchestrator.engine.agents.values()
                if a.id != agent_id and a.state.value != "logged_out"
            ],
            "queues": list(self.orchestrator.engine.queues),
        }
        if found is None:
            self._consults.pop(agent_id, None)
            return out
        call_id, leg = found
        out.update(
            call_id=call_id,
            channel=leg.name,
            held=leg.held_since is not None,
            held_since=leg.held_since,
        )
        target = self._consults.get(agent_id)
        if target is not None:
            out["consult"] = {"agent": target, "answered": self._consult_answered(call_id, target)}
        return out

    def callbacks(self, agent_id: str) -> list[dict[str, Any]]:
        """The queue callbacks due to the agent: reserved for them, or waiting in a queue
        they serve (oldest first)."""
        engine = self.orchestrator.engine
        if agent_id not in engine.agents:
            raise CallControlError("not_found", f"no agent {agent_id!r}")
        serves = set(engine.servable(agent_id))
        now = self.clock()
        out = []
        for call in engine.calls.values():
            if not call.callback_number:
                continue
            mine = call.agent_id == agent_id
            if not mine and (call.queue not in serves or call.state is not CallState.WAITING):
                continue
            out.append(
                {
                    "call_id": call.id,
                    "queue": call.queue,
                    "number": call.callback_number,
                    "requested_at": call.enqueued_at,
                    "waiting_s": round(max(0.0, now - call.enqueued_at), 1),
                    "attempts": call.callback_attempts,
                    "not_before": call.not_before,
                    "state": "yours" if mine else "waiting",
                }
            )
        return sorted(out, key=lambda c: c["requested_at"])

    # --- hold ------------------------------------------------------------------------------
    async def hold(self, agent_id: str, by: str, *, hold: bool = True) -> HoldResult:
        """Ask the agent's phone to hold (or resume) and wait for Asterisk to say it did."""
        call_id, leg = self._on_call(agent_id)
        endpoint = self.orchestrator.engine.agents[agent_id].endpoint
        if (leg.held_since is not None) == hold:
            return HoldResult(held=hold, confirmed=True)  # already so, by Asterisk's word
        reply = await self._send(
            call_id,
            "PJSIPNotify",
            [("Endpoint", endpoint), ("Variable", f"Event={'hold' if hold else 'talk'}")],
        )
        self._note(call_id, agent_id, "hold" if hold else "resume", endpoint, by, reply)
        deadline = time.monotonic() + self.confirm_s
        while time.monotonic() < deadline:
            now = self.orchestrator.cti_of(call_id).tracker.channel_by_name(leg.name)
            if now is None or now.ended_at is not None:
                break
            if (now.held_since is not None) == hold:
                return HoldResult(held=hold, confirmed=True)
            await asyncio.sleep(_POLL_S)
        now = self.orchestrator.cti_of(call_id).tracker.channel_by_name(leg.name)
        return HoldResult(held=now is not None and now.held_since is not None, confirmed=False)

    # --- transfers -------------------------------------------------------------------------
    async def blind_transfer(
        self, agent_id: str, by: str, *, to_agent: str | None = None, to_queue: str | None = None
    ) -> TransferResult:
        """Send the agent's caller to a colleague's phone or back to a queue."""
        call_id, leg = self._on_call(agent_id)
        orch = self.orchestrator
        if to_agent is not None:
            endpoint = self._colleague(agent_id, to_agent)
            context, exten, target = orch.hotline.deliver_context, endpoint, to_agent
        elif to_queue is not None:
            if to_queue not in orch.engine.queues:
                raise CallControlError("not_found", f"no queue {to_queue!r}")
            caller = orch._caller_channel.get(call_id)
            if caller is None:
                raise CallControlError("conflict", "the caller's channel is not known")
            reply = await self._send(
                call_id,
                "Setvar",
                [("Channel", caller), ("Variable", dp.CC_QUEUE), ("Value", to_queue)],
            )
            if reply.response != "Success":
                raise CallControlError("asterisk", reply.get("Message") or "Setvar refused")
            context = dp.TRANSFER_CONTEXT
            exten, target = dp.TRANSFER_QUEUE_PREFIX + to_queue, to_queue
        else:
            raise CallControlError("bad_request", "name an agent or a queue to transfer to")
        reply = await self._send(
            call_id,
            "BlindTransfer",
            [("Channel", leg.name), ("Context", context), ("Exten", exten)],
        )
        self._note(call_id, agent_id, "blind_transfer", target, by, reply)
        if reply.response != "Success":
            raise CallControlError("asterisk", reply.get("Message") or "BlindTransfer refused")
        return TransferResult("blind", target, exten, reply.get("Message") or "")

    async def attended_transfer(self, agent_id: str, by: str, to_agent: str) -> TransferResult:
        """Consult a colleague first: the caller waits on hold while the colleague rings."""
        call_id, leg = self._on_call(agent_id)
        if agent_id in self._consults:
            raise CallControlError("conflict", "a consult call is already going on")
        endpoint = self._colleague(agent_id, to_agent)
        reply = await self._send(
            call_id,
            "Atxfer",
            [("Channel", leg.name), ("Context", dp.TRANSFER_CONTEXT), ("Exten", endpoint)],
        )
        self._note(call_id, agent_id, "attended_transfer", to_agent, by, reply)
        if reply.response != "Success":
            raise CallControlError("asterisk", reply.get("Message") or "Atxfer refused")
        self._consults[agent_id] = to_agent
        return TransferResult("attended", to_agent, endpoint, reply.get("Message") or "")

    async def complete_transfer(self, agent_id: str, by: str) -> TransferResult:
        """The agent leaves the consult: the colleague, who answered, has the caller now."""
        call_id, leg = self._on_call(agent_id)
        target = self._consults.get(agent_id)
        if target is None:
            raise CallControlError("conflict", "no consult call to complete")
        if not self._consult_answered(call_id, target):
            raise CallControlError("conflict", f"{target} has not answered the consult call")
        reply = await self._send(call_id, "Hangup", [("Channel", leg.name)])
        self._note(call_id, agent_id, "complete_transfer", target, by, reply)
        if reply.response != "Success":
            raise CallControlError("asterisk", reply.get("Message") or "Hangup refused")
        self._consults.pop(agent_id, None)
        endpoint = self.orchestrator.engine.agents[target].endpoint
        return TransferResult("attended", target, endpoint, reply.get("Message") or "")

    async def cancel_transfer(self, agent_id: str, by: str) -> TransferResult:
        """End the consult call; the agent is back with the caller."""
        call_id, leg = self._on_call(agent_id)
        target = self._consults.get(agent_id)
        if target is None:
            raise CallControlError("conflict", "no consult call to cancel")
        reply = await self._send(call_id, "CancelAtxfer", [("Channel", leg.name)])
        self._note(call_id, agent_id, "cancel_transfer", target, by, reply)
        if reply.response != "Success":
            raise CallControlError("asterisk", reply.get("Message") or "CancelAtxfer refused")
        self._consults.pop(agent_id, None)
        endpoint = self.orchestrator.engine.agents[target].endpoint
        return TransferResult("attended", target, endpoint, reply.get("Message") or "")

    # --- notes and wrap-up -----------------------------------------------------------------
    def note(self, agent_id: str, text: str, by: str) -> str:
        """A note on the agent's call (the one they are on, else the last); its call id."""
        call_id = self._call_for_notes(agent_id)
        self._emit(call_id, el.CALL_NOTE, agent=agent_id, text=text, by=by)
        return call_id

    def wrap_up(
        self, agent_id: str, by: str, code: str | None, text: str | None, *, end: bool
    ) -> str | None:
        """File the disposition of the agent's last call; with ``end``, end wrap-up now.

        Refused without a code when the call's queue says ``disposition_required``.
        Returns the call id the disposition went to (None: no code given).
        """
        orch = self.orchestrator
        if agent_id not in orch.engine.agents:
            raise CallControlError("not_found", f"no agent {agent_id!r}")
        codes = list(orch.model.disposition_codes)
        if code is not None and code not in codes:
            raise CallControlError(
                "bad_request", f"unknown disposition code {code!r}; use one of {codes}"
            )
        missing = orch.disposition_missing(agent_id)
        if code is None and end and missing is not None:
            raise CallControlError("bad_request", f"queue {missing} needs a disposition code")
        call_id = None
        if code is not None:
            call_id = self._call_for_notes(agent_id)
            self._emit(call_id, el.CALL_DISPOSITION, agent=agent_id, code=code, text=text, by=by)
            orch.disposed[agent_id] = call_id
        in_wrap_up = orch.engine.agents[agent_id].state.value == "wrap_up"
        if end and (in_wrap_up or code is None):
            # with a code, a wrap-up the timer already ended is no error: the code is filed
            try:
                orch.agent_action(agent_id, "end_wrap_up")
            except ActionRefused as exc:
                raise CallControlError("conflict", str(exc)) from exc
        return call_id

    def ticket_event(
        self,
        call_id: str,
        what: str,
        ticket: Ticket,
        by: str,
        note: str | None,
        category: str | None = None,
    ) -> None:
        """A ticket opened from the desk (``ticket.created``, as the IVR's) or a note on one."""
        if what == "created":
            self._emit(call_id, el.TICKET_CREATED, ticket=ticket.number, ticket_id=ticket.id,
                       category=category, due_at=ticket.due_at, by=by)  # fmt: skip
        if note:
            self._emit(ticket.call_id, el.TICKET_NOTE, ticket=ticket.number,
                       ticket_id=ticket.id, agent=by, text=note)  # fmt: skip

    # --- helpers ---------------------------------------------------------------------------
    def _on_call(self, agent_id: str) -> tuple[str, Channel]:
        if agent_id not in self.orchestrator.engine.agents:
            raise CallControlError("not_found", f"no agent {agent_id!r}")
        found = self.current_call(agent_id)
        if found is None:
            raise CallControlError("conflict", f"agent {agent_id} is not talking on a call")
        return found

    def _colleague(self, agent_id: str, other: str) -> str:
        """The endpoint of the colleague ``other``, who must be free to take the call."""
        agents = self.orchestrator.engine.agents
        if other not in agents:
            raise CallControlError("not_found", f"no agent {other!r}")
        if other == agent_id:
            raise CallControlError("bad_request", "an agent cannot transfer a call to themselves")
        colleague = agents[other]
        if not colleague.routable:
            why = colleague.not_routable_because() or "busy"
            raise CallControlError("conflict", f"agent {other} cannot take a call now ({why})")
        return colleague.endpoint

    def _consult_answered(self, call_id: str, target: str) -> bool:
        """Whether the colleague's phone answered the consult call (a channel of this call)."""
        agent = self.orchestrator.engine.agents.get(target)
        tracked = self.orchestrator.cti_of(call_id).tracker.call(call_id)
        if agent is None or tracked is None:
            return False
        prefix = f"PJSIP/{agent.endpoint}-"
        return any(
            c.name.startswith(prefix) and c.answered_at is not None and c.ended_at is None
            for c in tracked.channels.values()
        )

    def _call_for_notes(self, agent_id: str) -> str:
        if agent_id not in self.orchestrator.engine.agents:
            raise CallControlError("not_found", f"no agent {agent_id!r}")
        found = self.current_call(agent_id)
        if found is not None:
            return found[0]
        last = self.orchestrator.last_call(agent_id)
        if last is None:
            raise CallControlError("conflict", f"agent {agent_id} has taken no call yet")
        return last[0]

    async def _send(self, call_id: str, action: str, headers: list[tuple[str, str]]) -> Any:
        """An AMI action to the node the call is on."""
        try:
            return await self.orchestrator.cti_of(call_id).send_action(action, headers, timeout=5.0)
        except (AmiError, TimeoutError) as exc:
            raise CallControlError("asterisk", f"{action}: {exc or 'no answer'}") from exc

    def _note(
        self, call_id: str, agent_id: str, action: str, target: str, by: str, reply: Any
    ) -> None:
        result = f"{reply.response}: {reply.get('Message') or ''}".rstrip(": ")
        log.info("desk %s by %s on call %s (%s): %s", action, by, call_id, target, result)
        self._emit(call_id, el.CALL_CONTROL, agent=agent_id, action=action, target=target,
                   by=by, result=result)  # fmt: skip

    def _emit(self, call_id: str, kind: str, **data: Any) -> None:
        self.orchestrator.sink.emit(CallEvent(self._ids(), self.clock(), call_id, kind, data))
