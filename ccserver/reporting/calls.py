"""Call records and agent state intervals, folded from the call event log.

The event log is the record of truth; a call record is a view of it, made by
this one pure fold, so reports can always be recomputed and never drift from
what was logged. Times come from the events: AMI-derived events carry
Asterisk's own timestamps (``timestampevents=yes``), so waits and talk times
are Asterisk's, not the moment ccserver read them.

Which events say what:

- arrival: ``call.started``; end: the caller channel's hang-up (``call.ended``
  when it was not seen);
- the IVR: ``ivr.started`` / ``ivr.ended`` (outcome, path), ``ticket.created``;
- entering the queue: the caller channel's first ``channel.dialplan`` into
  ``cc-hold`` (else the first ``acd.queued``); the queue: ``acd.queued`` /
  ``acd.overflowed``;
- answer: ``dial.end`` ANSWER on the caller channel; the agent: ``acd.connected``;
- talk ends when the caller or the agent leaves the bridge (or hangs up);
- wrap-up: the agent's ``wrap_up`` interval that follows the call;
- ``acd.abandoned``, ``acd.callback_requested``, ``survey.score``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from cti.sink import CallEvent

HOLD_CONTEXT = "cc-hold"

# dispositions, in the words of the field
ANSWERED = "answered"
ABANDONED = "abandoned"
SHORT_ABANDON = "short_abandon"
SELF_SERVED = "self_served"
DEFLECTED = "deflected"  # took a callback instead of waiting (outage notice)
CALLBACK = "callback"  # kept the place in the queue and was called back
CALLBACK_FAILED = "callback_failed"
IVR_HANGUP = "ivr_hangup"  # left the IVR without completing anything
OTHER = "other"  # outbound legs and calls still in progress


@dataclass
class CallRecord:
    """One call from arrival to the end of its agent's wrap-up."""

    call_id: str
    caller: str = ""
    arrived_at: float | None = None
    ended_at: float | None = None
    ivr: bool = False
    ivr_outcome: str | None = None
    ivr_path: list[str] = field(default_factory=list)
    queue: str | None = None  # the queue it was answered or abandoned in
    queues: list[str] = field(default_factory=list)
    offered_at: float | None = None  # entered the queue
    answered_at: float | None = None
    talk_end_at: float | None = None
    agent: str | None = None
    ring_s: float = 0.0
    hold_s: float = 0.0  # hold is not observed yet: always 0
    wrap_s: float = 0.0
    overflowed: bool = False
    callback: bool = False
    callback_failed: bool = False
    abandoned: bool = False
    vip: bool = False
    ticket: str | None = None
    survey: int | None = None
    disposition: str = OTHER

    @property
    def wait_s(self) -> float | None:
        """Queue wait: to the answer, or to the hang-up of an abandoned call."""
        if self.offered_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else max(0.0, end - self.offered_at)

    @property
    def talk_s(self) -> float:
        if self.answered_at is None:
            return 0.0
        end = self.talk_end_at if self.talk_end_at is not None else self.ended_at
        return max(0.0, (end or self.answered_at) - self.answered_at)

    @property
    def handle_s(self) -> float:
        """Talk + hold + wrap-up."""
        return self.talk_s + self.hold_s + self.wrap_s

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(wait_s=self.wait_s, talk_s=self.talk_s, handle_s=self.handle_s)
        return out


@dataclass(frozen=True)
class StateInterval:
    """An agent in one state (with its reason code) from ``start`` to ``end``."""

    agent: str
    state: str
    reason: str | None
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


# the event kinds the fold reads; reports read only these from the log
FOLDED_KINDS = frozenset(
    {
        "call.started", "call.ended", "ivr.started", "ivr.ended", "ivr.handoff",
        "channel.dialplan", "channel.hungup", "channel.unbridged", "dial.begin", "dial.end",
        "acd.queued", "acd.overflowed", "acd.offer", "acd.connected", "acd.adopted",
        "acd.abandoned",
        "acd.callback_requested", "acd.callback_failed", "acd.agent_state",
        "ticket.created", "survey.score",
    }
)  # fmt: skip


def fold_calls(events: Iterable[CallEvent], short_abandon_s: float = 5.0) -> list[CallRecord]:
    """Every call's record, from its events (in any order; sorted by time here)."""
    by_call: dict[str, list[CallEvent]] = defaultdict(list)
    agent_states: list[CallEvent] = []
    for e in events:
        if e.kind == "acd.agent_state":
            agent_states.append(e)
        elif e.call_id:
            by_call[e.call_id].append(e)
    records = [fold_call(cid, evs) for cid, evs in by_call.items()]
    return finish_records(records, agent_states, short_abandon_s)


def finish_records(
    records: list[CallRecord], agent_states: list[CallEvent], short_abandon_s: float
) -> list[CallRecord]:
    """Give records their wrap-up and disposition; sorted by arrival."""
    _attach_wrap_up({r.call_id: r for r in records}, agent_states)
    for rec in records:
        rec.disposition = _disposition(rec, short_abandon_s)
    return sorted(records, key=lambda r: (r.arrived_at or r.offered_at or 0, r.call_id))


def fold_call(call_id: str, events: list[CallEvent]) -> CallRecord:
    """One call's record from its own events (disposition and wrap-up come later)."""
    rec = CallRecord(call_id)
    events.sort(key=lambda e: e.at)
    caller_channel: str | None = None
    agent_leg: str | None = None
    offer_at: float | None = None
    caller_left: float | None = None
    for e in events:
        d = e.data
        kind = e.kind
        if kind == "call.started":
            # a call adopted after a restart or a resync starts again in the log:
            # its arrival is the first one (or, if the first was never seen, the
            # start Asterisk's channel Duration gave the adoption)
            started = d.get("started_at")
            at = float(started) if isinstance(started, int | float) else e.at
            if rec.arrived_at is None or at < rec.arrived_at:
                rec.arrived_at = at
            rec.caller = rec.caller or str(d.get("caller") or "")
            caller_channel = caller_channel or str(d.get("channel") or "") or None
        elif kind == "call.ended":
            rec.ended_at = e.at
        elif kind == "ivr.started":
            rec.ivr = True
            caller_channel = caller_channel or str(d.get("channel") or "") or None
        elif kind == "ivr.ended":
            rec.ivr_outcome = str(d.get("outcome"))
            rec.ivr_path = list(d.get("path") or [])
        elif kind == "channel.dialplan":
            ours = caller_channel is None or d.get("channel") == caller_channel
            if d.get("context") == HOLD_CONTEXT and rec.offered_at is None and ours:
                rec.offered_at = e.at
        elif kind == "acd.queued":
            queue = str(d.get("queue"))
            if not rec.queues or rec.queues[-1] != queue:
                rec.queues.append(queue)
            rec.queue = queue
            # the ACD's wait start: a caller queued again after a link drop or a
            # restart keeps the one it had (CC_QUEUED or the log), not the resync's time
            since = d.get("enqueued_at")
            at = float(since) if isinstance(since, int | float) else e.at
            if rec.offered_at is None or at < rec.offered_at:
                rec.offered_at = at
        elif kind == "acd.overflowed":
            rec.overflowed = True
            rec.queue = str(d.get("to"))
            rec.queues.append(rec.queue)
        elif kind == "acd.offer":
            offer_at = e.at
        elif kind == "dial.begin":
            if offer_at is None:
                offer_at = e.at
        elif kind == "dial.end":
            if offer_at is not None:
                rec.ring_s += max(0.0, e.at - offer_at)
                offer_at = None
            if d.get("status") == "ANSWER" and rec.answered_at is None:
                rec.answered_at = e.at
                agent_leg = str(d.get("dest") or "") or None
        elif kind in ("acd.connected", "acd.adopted"):
            rec.agent = str(d.get("agent"))
            # an answer learnt at a resync carries when Asterisk answered
            answered = d.get("answered_at")
            at = float(answered) if isinstance(answered, int | float) else e.at
            if rec.answered_at is None or at < rec.answered_at:
                rec.answered_at = at
        elif kind in ("channel.hungup", "channel.unbridged"):
            ch = d.get("channel")
            if kind == "channel.hungup" and ch == caller_channel and caller_left is None:
                caller_left = e.at
            # the conversation ends when either party leaves the bridge (or hangs up)
            talking = rec.answered_at is not None and rec.talk_end_at is None
            if talking and ch in (agent_leg, caller_channel):
                rec.talk_end_at = e.at
        elif kind == "acd.abandoned":
            rec.abandoned = True
        elif kind == "acd.callback_requested":
            rec.callback = True
        elif kind == "acd.callback_failed":
            rec.callback_failed = True
        elif kind == "ivr.handoff":
            rec.vip = bool(d.get("vip"))
        elif kind == "ticket.created":
            rec.ticket = str(d.get("ticket"))
        elif kind == "survey.score" and d.get("survey") == "call":
            rec.survey = int(d["score"])
    if caller_left is not None:
        rec.ended_at = caller_left  # the caller's own hang-up, not the last leg's
    if rec.offered_at is not None and rec.arrived_at is not None:
        # a caller who comes back within the resume window keeps their place in
        # the queue, but their own call waits only from its own arrival
        rec.offered_at = max(rec.offered_at, rec.arrived_at)
    return rec


def _attach_wrap_up(records: dict[str, CallRecord], agent_states: list[CallEvent]) -> None:
    """Give each answered call the wrap-up its agent did right after it."""
    answered = defaultdict(list)
    for rec in records.values():
        if rec.agent and rec.answered_at is not None:
            answered[rec.agent].append(rec)
    for intervals in agent_intervals(agent_states, None, None).values():
        for iv in intervals:
            if iv.state != "wrap_up":
                continue
            calls = [r for r in answered.get(iv.agent, []) if (r.answered_at or 0) <= iv.start]
            if calls:
                max(calls, key=lambda r: r.answered_at or 0).wrap_s += iv.seconds


def _disposition(rec: CallRecord, short_abandon_s: float) -> str:
    if rec.answered_at is not None and rec.agent:
        return ANSWERED
    if rec.callback:
        return CALLBACK_FAILED if rec.callback_failed else CALLBACK
    if rec.ivr_outcome == SELF_SERVED:
        return SELF_SERVED
    if rec.ivr_outcome == DEFLECTED:
        return DEFLECTED
    if rec.offered_at is not None and rec.ended_at is not None:
        wait = rec.wait_s or 0.0
        return SHORT_ABANDON if wait < short_abandon_s else ABANDONED
    if rec.ivr and rec.ended_at is not None:
        return IVR_HANGUP
    return OTHER


def agent_intervals(
    events: Iterable[CallEvent], start: float | None, end: float | None
) -> dict[str, list[StateInterval]]:
    """Each agent's state intervals from ``acd.agent_state`` events, clipped to [start, end).

    The last state of an agent runs until ``end`` (or is dropped without one).
    """
    changes: dict[str, list[tuple[float, str, str | None]]] = defaultdict(list)
    for e in events:
        if e.kind == "acd.agent_state" and e.data.get("agent"):
            changes[str(e.data["agent"])].append((e.at, str(e.data["state"]), e.data.get("code")))
    out: dict[str, list[StateInterval]] = {}
    for agent, seq in changes.items():
        seq.sort(key=lambda c: c[0])
        intervals = []
        for i, (at, state, reason) in enumerate(seq):
            until = seq[i + 1][0] if i + 1 < len(seq) else end
            if until is None:
                continue
            lo = at if start is None else max(at, start)
            hi = until if end is None else min(until, end)
            if hi > lo:
                intervals.append(StateInterval(agent, state, reason, lo, hi))
        out[agent] = intervals
    return out
