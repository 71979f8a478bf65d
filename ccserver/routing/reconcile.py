"""Reconciling the ACD with Asterisk: what the engine must be told after a resync.

Theory of operation
-------------------
After every resync (each AMI login, and periodically) the call tracker agrees
with Asterisk's own list of channels. The ACD engine, though, only learns what
the orchestrator tells it; events missed while the link was down or while
ccserver was restarting would leave a caller waiting on a line that is gone,
an agent ``on_call`` for ever, or a caller holding in ``cc-hold`` whom no
queue knows. :func:`corrections` compares the two pictures and returns the
engine events that make them agree, each with the reason it is needed; the
orchestrator applies them and logs every one.

It is pure: plain data in (the engine's calls and agents, the tracker's live
channels, the orchestrator's correlation maps), events out. The rules, in the
order they are applied:

1. A queued, offered or connected call whose caller line is gone ends:
   connected → ``CallEnded`` (wrap-up as usual), otherwise ``CallAbandoned``;
   but if the dialplan noted an agent's answer (AstDB, see ``cti.astdb``),
   the conversation happened unseen: it is connected at the noted time
   (``OfferAnswered`` or ``CallAdopted``), then ended. A connected call whose
   agent leg is gone ends too.
2. An offered call that Asterisk shows bridged with the agent's channel was
   answered (``OfferAnswered``); one whose Dial had begun and whose caller is
   back in the hold context failed (``OfferFailed``, as a device failure:
   ccserver cannot tell why, so the agent is not marked "no answer").
3. A caller's line talking to an agent's softphone in the deliver context
   while the engine has the call waiting, offered to someone else or not at
   all, is adopted as connected to that agent (``CallAdopted``).
4. A caller holding in the hold context, unknown to the engine, is queued
   (``CallArrived``) with the queue, skills and priority of its ``CC_*``
   variables and its original wait start when the event log has it; the
   arrivals are sorted by that wait start so the original order is kept.

:func:`device_state` maps Asterisk's device and contact reports to the
engine's view of one softphone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from acd.engine import Engine
from acd.events import (
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    Event,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
)
from acd.model import CallState, DeviceState
from cti.tracker import Channel

# DeviceStateList / DeviceStateChange states
BUSY_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
GONE_STATES = frozenset({"UNAVAILABLE", "INVALID"})


@dataclass(frozen=True)
class Correction:
    """One event the engine needs, and why (logged as such)."""

    event: Event
    why: str


@dataclass(frozen=True)
class Arrival:
    """How a caller found holding enters the queue (built by the orchestrator)."""

    event: CallArrived
    order: float  # original wait start, or when the line was created


@dataclass(frozen=True)
class Floor:
    """What the orchestrator knows beside the engine, for :func:`corrections`."""

    channels: Iterable[Channel]  # the tracker's live channels
    caller_channel: Mapping[str, str]  # call id -> the caller's channel name
    alias: Mapping[str, str]  # a callback leg's linkedid -> the call it serves
    dialing: Mapping[str, str]  # call id -> agent whose Dial has begun
    hold_context: str
    deliver_context: str
    answered: Mapping[str, tuple[float, str]] = field(default_factory=dict)  # noted answers


def corrections(
    engine: Engine,
    floor: Floor,
    arrival: Mapping[str, Arrival],
    queue_of: Mapping[str, str],
    *,
    only: Collection[str] | None = None,
) -> list[Correction]:
    """The engine events that make the ACD agree with Asterisk's channels.

    ``arrival`` gives, per call id of a caller holding unknown to the engine,
    the ``CallArrived`` to queue it with; ``queue_of`` the queue of a call
    found talking to an agent (from its ``CC_QUEUE``), for rule 3. ``only``:
    the engine's calls these channels can speak for (one node's, when several
    Asterisk nodes are followed); None: all of them.
    """
    by_call: dict[str, list[Channel]] = {}
    by_name: dict[str, Channel] = {}
    for ch in floor.channels:
        by_call.setdefault(floor.alias.get(ch.linkedid, ch.linkedid), []).append(ch)
        by_name[ch.name] = ch
    out: list[Correction] = []

    def answered_at(call_id: str, leg: Channel) -> float | None:
        # the dialplan's note is Asterisk's own time; else no earlier than the leg began
        noted = floor.answered.get(call_id)
        return noted[0] if noted is not None and noted[1] == leg.name else leg.answered_at

    def agent_channel(call_id: str, endpoint: str) -> Channel | None:
        prefix = f"PJSIP/{endpoint}-"
        return next((c for c in by_call.get(call_id, ()) if c.name.startswith(prefix)), None)

    # rules 1 and 2: the calls the engine holds
    for call in list(engine.calls.values()):
        if only is not None and call.id not in only:
            continue  # another node's call: its lines are not in this picture
        if call.callback_number and call.id not in floor.caller_channel:
            continue  # a queue callback has no line until the customer answers
        name = floor.caller_channel.get(call.id)
        caller = by_name.get(name) if name else None
        if caller is None:
            caller = next((c for c in by_call.get(call.id, ()) if c.uniqueid == call.id), None)
        if caller is None:
            noted = floor.answered.get(call.id)
            talked = agent_of(engine, noted[1]) if noted else None
            if noted is not None and talked is not None and call.state is not CallState.CONNECTED:
                why = f"answered by agent {talked} at {noted[0]:.3f} (noted by Asterisk)"
                if call.state is CallState.OFFERED and call.agent_id == talked:
                    out.append(Correction(OfferAnswered(call.id, talked, noted[0]), why))
                else:
                    adopted = CallAdopted(call.id, call.queue, talked, call.caller, noted[0])
                    out.append(Correction(adopted, why))
                out.append(Correction(CallEnded(call.id), "the caller's line is gone"))
            elif call.state is CallState.CONNECTED:
                out.append(Correction(CallEnded(call.id), "the caller's line is gone"))
            else:
                why = f"the caller's line is gone (call was {call.state.value})"
                out.append(Correction(CallAbandoned(call.id), why))
            continue
        agent = engine.agents.get(call.agent_id or "")
        if agent is None:
            continue
        leg = agent_channel(call.id, agent.endpoint)
        if call.state is CallState.CONNECTED and leg is None:
            out.append(Correction(CallEnded(call.id), f"agent {agent.id}'s leg is gone"))
        elif call.state is CallState.OFFERED:
            if leg is not None and leg.bridge_id is not None and leg.bridge_id == caller.bridge_id:
                why = f"answered by agent {agent.id} while ccserver was not listening"
                answered = OfferAnswered(call.id, agent.id, answered_at(call.id, leg))
                out.append(Correction(answered, why))
            elif floor.dialing.get(call.id) == agent.id and caller.context == floor.hold_context:
                why = f"the Dial to agent {agent.id} ended unseen; the caller is holding again"
                out.append(
                    Correction(OfferFailed(call.id, agent.id, OfferFailure.UNAVAILABLE), why)
                )

    # rule 3: conversations the engine does not know (or believes still waiting)
    busy = {
        a.id
        for a in engine.agents.values()
        if a.call_id is not None and engine.calls[a.call_id].state is CallState.CONNECTED
    }
    settled = {f.event.call_id for f in out if isinstance(f.event, OfferAnswered)}
    for call_id, channels in by_call.items():
        known = engine.calls.get(call_id)
        if call_id in settled or (known is not None and known.state is CallState.CONNECTED):
            continue
        if known is not None and only is not None and call_id not in only:
            continue
        caller = next((c for c in channels if c.uniqueid == c.linkedid), None)
        if caller is None or caller.context != floor.deliver_context:
            continue
        for ch in channels:
            agent_id = agent_of(engine, ch.name)
            if agent_id is None or agent_id in busy or ch.bridge_id is None:
                continue
            if ch.bridge_id != caller.bridge_id:
                continue
            queue = known.queue if known is not None else queue_of.get(call_id, "")
            if queue not in engine.queues:
                continue
            busy.add(agent_id)
            adopted = CallAdopted(
                call_id, queue, agent_id, caller.caller_num, answered_at(call_id, ch)
            )
            out.append(Correction(adopted, f"talking to agent {agent_id} on {ch.name}"))
            break

    # rule 4: callers holding whom no queue knows, in their original order
    holding = sorted(
        (a for cid, a in arrival.items() if cid not in engine.calls),
        key=lambda a: (a.order, a.event.call_id),
    )
    for a in holding:
        out.append(Correction(a.event, f"holding in {floor.hold_context}, unknown to the queue"))
    return out


def agent_of(engine: Engine, channel: str) -> str | None:
    """The agent whose softphone a channel is (``PJSIP/<endpoint>-<n>``), if any."""
    tech, _, rest = channel.partition("/")
    return engine.by_endpoint.get(rest.rpartition("-")[0]) if tech == "PJSIP" else None


def holding_callers(floor: Floor, known: Iterable[str]) -> dict[str, Channel]:
    """Caller lines (a call's first channel) in the hold context, by call id, not in ``known``."""
    skip = set(known)
    out = {}
    for ch in floor.channels:
        call_id = floor.alias.get(ch.linkedid, ch.linkedid)
        if ch.uniqueid == ch.linkedid and ch.context == floor.hold_context and call_id not in skip:
            out[call_id] = ch
    return out


def device_state(
    endpoint: str, devices: Mapping[str, str] | None, contacts: Mapping[str, str] | None
) -> DeviceState | None:
    """One softphone's state from ``DeviceStateList`` and ``PJSIPShowContacts``.

    None when Asterisk said nothing either way. A contact that is
    ``Unreachable`` (qualify failed) is told apart from one that is not
    registered at all, so a supervisor sees which it is.
    """
    if contacts is not None:
        status = contacts.get(endpoint)
        if status is None:
            return DeviceState.UNREGISTERED
        if status == "Unreachable":
            return DeviceState.UNREACHABLE
    if devices is not None:
        state = devices.get(f"PJSIP/{endpoint}")
        if state is None or state in GONE_STATES:
            return DeviceState.UNREGISTERED  # unknown to Asterisk: removed from pjsip.conf
        if state in BUSY_STATES:
            return DeviceState.BUSY
        return DeviceState.OK
    if contacts is not None:
        return DeviceState.OK  # registered, and reachable as far as qualify knows
    return None
