"""Call records and agent state intervals, folded from the call event log.

The event log is the record of truth; a call record is a view of it, made by
this one pure fold, so reports can always be recomputed and never drift from
what was logged. The fold is one step per event (:class:`CallTrace`), one
wrap-up rule (:class:`WrapUps`) and one set of dispositions; the reports run
it over the log (:func:`fold_call`, :func:`finish_records`), the live metrics
and the demo's summary event by event as calls happen (:class:`CallFold`), and
the KPI formulas that follow are ``acd.queue_kpis`` (shared with the simulation).

Times come from the events: AMI-derived events carry
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
- hold: ``channel.hold`` to ``channel.unhold`` of the agent's or the caller's channel
  while they talk (a hold still open when the talk ends or the call is transferred ends
  there); talk does not count it, handle time does;
- transfers: ``call.transferred`` (on the caller's call). Blind: the caller left the
  bridge, the time until the next agent answers (``dial.end`` ANSWER on the caller's
  channel) is neither talk nor hold; attended: the target's channel takes the agent
  leg's place. One record: the last agent is its agent (named by the ACD when it routed
  the new leg, else by the agent whose endpoint that is, learnt from the other calls);
- wrap-up: the agent's ``wrap_up`` interval that follows the call;
- the agent's disposition code and notes: ``call.disposition``, ``call.note`` (the desk);
- ``acd.abandoned``, ``acd.callback_requested``, ``survey.score``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from contracts import eventlog as el
from contracts.sink import CallEvent

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


@dataclass(slots=True)  # thousands are held at once (the live fold, the projector)
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
    hold_s: float = 0.0  # the caller on hold while talking (not counted in talk_s)
    wrap_s: float = 0.0
    overflowed: bool = False
    callback: bool = False
    callback_failed: bool = False
    abandoned: bool = False
    vip: bool = False
    ticket: str | None = None
    survey: int | None = None
    disposition: str = OTHER
    endpoint: str | None = None  # the last agent leg's endpoint (PJSIP/<endpoint>-...)
    agents: list[str] = field(default_factory=list)  # who talked with the caller, in order
    transfers: int = 0
    transfer_gap_s: float = 0.0  # between one agent leaving and the next answering
    recording: str | None = None  # its recording's file, under recordings.dir (call.recording)
    # how the agent filed the call at wrap-up (call.disposition; the agent desktop), and notes
    disposition_code: str | None = None
    notes: list[str] = field(default_factory=list)

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
        span = (end or self.answered_at) - self.answered_at
        return max(0.0, span - self.transfer_gap_s - self.hold_s)

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
        el.CALL_STARTED, el.CALL_ENDED, el.IVR_STARTED, el.IVR_ENDED, el.IVR_HANDOFF,
        el.CHANNEL_HUNGUP, el.CHANNEL_UNBRIDGED, el.DIAL_BEGIN, el.DIAL_END,
        el.ACD_QUEUED, el.ACD_OVERFLOWED, el.ACD_OFFER, el.ACD_CONNECTED, el.ACD_ADOPTED,
        el.ACD_TRANSFERRED,
        el.ACD_ABANDONED,
        el.ACD_CALLBACK_REQUESTED, el.ACD_CALLBACK_FAILED, el.ACD_AGENT_STATE,
        el.TICKET_CREATED, el.SURVEY_SCORE, el.CHANNEL_HOLD, el.CHANNEL_UNHOLD,
        el.CALL_TRANSFERRED, el.CALL_RECORDING,
        el.CALL_DISPOSITION, el.CALL_NOTE,
    }
)  # fmt: skip


def fold_calls(events: Iterable[CallEvent], short_abandon_s: float = 5.0) -> list[CallRecord]:
    """Every call's record, from its events (in any order; sorted by time here)."""
    by_call: dict[str, list[CallEvent]] = defaultdict(list)
    agent_states: list[CallEvent] = []
    for e in events:
        if e.kind == el.ACD_AGENT_STATE:
            agent_states.append(e)
        elif e.call_id:
            by_call[e.call_id].append(e)
    records = [fold_call(cid, evs) for cid, evs in by_call.items()]
    return finish_records(records, agent_states, short_abandon_s)


def finish_records(
    records: list[CallRecord], agent_states: list[CallEvent], short_abandon_s: float
) -> list[CallRecord]:
    """Give records their wrap-up and disposition; sorted by arrival."""
    name_transferred_agents(records)
    wrap_ups = WrapUps()
    for rec in records:
        wrap_ups.answered(rec)
    for event in sorted(agent_states, key=lambda e: e.at):
        wrap_ups.agent_state(event)
    return settle_records(records, short_abandon_s)


def settle_records(records: list[CallRecord], short_abandon_s: float) -> list[CallRecord]:
    """Dispositions, sorted by arrival: the last step of every fold (on demand or projected)."""
    for rec in records:
        rec.disposition = disposition(rec, short_abandon_s)
    return sorted(records, key=lambda r: (r.arrived_at or r.offered_at or 0, r.call_id))


def name_transferred_agents(records: Iterable[CallRecord]) -> None:
    """A call transferred to an agent the ACD did not route it to knows that agent by
    endpoint only: name them as the ACD's calls say (endpoint -> agent)."""
    records = list(records)
    endpoints: dict[str, str] = {}
    for rec in records:
        learn_endpoint(rec, endpoints)
    for rec in records:
        name_by_endpoint(rec, endpoints)


def learn_endpoint(rec: CallRecord, endpoints: dict[str, str]) -> None:
    """What an ACD-routed call says of its agent's endpoint (endpoint -> agent)."""
    if rec.endpoint and rec.agent and not rec.transfers and rec.agent != rec.endpoint:
        endpoints[rec.endpoint] = rec.agent


def name_by_endpoint(rec: CallRecord, endpoints: dict[str, str]) -> None:
    """A transferred call's last agent, known by endpoint only, by name."""
    if rec.transfers and rec.endpoint and rec.agent == rec.endpoint:
        rec.agent = endpoints.get(rec.endpoint, rec.agent)
        if rec.agents and rec.agents[-1] == rec.endpoint:
            rec.agents[-1] = rec.agent


def endpoint_of(channel: str) -> str | None:
    """``PJSIP/1002-0000000a`` -> ``1002`` (a PJSIP leg's endpoint)."""
    tech, _, rest = channel.partition("/")
    if tech != "PJSIP" or not rest:
        return None
    return rest.rsplit("-", 1)[0]


def fold_call(call_id: str, events: list[CallEvent]) -> CallRecord:
    """One call's record from its own events (disposition and wrap-up come later)."""
    trace = CallTrace(call_id)
    events.sort(key=lambda e: e.at)
    for e in events:
        trace.apply(e)
    return trace.settle()


class CallTrace:
    """One call's record as its events come in: the fold's step, event by event.

    The batch fold applies a call's events sorted by time, the live fold
    (:class:`CallFold`) as they happen; both through :meth:`apply`.
    """

    __slots__ = (
        "_agent_leg", "_answer_adopted", "_caller_channel", "_caller_left", "_held_at",
        "_offer_at", "_offered", "_transferring", "record",
    )  # fmt: skip

    def __init__(self, call_id: str) -> None:
        self.record = CallRecord(call_id)
        self._caller_channel: str | None = None
        self._agent_leg: str | None = None
        self._offer_at: float | None = None
        self._caller_left: float | None = None
        self._held_at: float | None = None  # the open hold interval's start
        self._transferring = False  # blind: until the next agent answers
        self._answer_adopted = False  # the answer time is an adoption's
        self._offered: dict[str, str] = {}  # endpoint -> agent, from this call's offers

    def _answer(self, at: float, *, adopted: bool) -> None:
        """Take an answer time: the earliest, but an adoption's (which may be the agent
        leg's whole-second age) never over a live one, even a late one (a dead
        process's spool replayed after the standby adopted the conversation)."""
        rec = self.record
        if rec.answered_at is None or (
            not adopted if adopted != self._answer_adopted else at < rec.answered_at
        ):
            rec.answered_at = at
            self._answer_adopted = adopted

    @property
    def answered(self) -> bool:
        """An agent took the call (what makes its disposition ``answered``)."""
        return self.record.answered_at is not None and bool(self.record.agent)

    def apply(self, e: CallEvent) -> None:
        rec = self.record
        d = e.data
        kind = e.kind
        if kind == el.CALL_STARTED:
            # a call adopted after a restart or a resync starts again in the log:
            # its arrival is the first one (or, if the first was never seen, the
            # start Asterisk's channel Duration gave the adoption)
            started = d.get("started_at")
            at = float(started) if isinstance(started, int | float) else e.at
            if rec.arrived_at is None or at < rec.arrived_at:
                rec.arrived_at = at
            rec.caller = rec.caller or str(d.get("caller") or "")
            self._caller_channel = self._caller_channel or str(d.get("channel") or "") or None
        elif kind == el.CALL_ENDED:
            rec.ended_at = e.at
        elif kind == el.IVR_STARTED:
            rec.ivr = True
            self._caller_channel = self._caller_channel or str(d.get("channel") or "") or None
        elif kind == el.IVR_ENDED:
            rec.ivr_outcome = str(d.get("outcome"))
            rec.ivr_path = list(d.get("path") or [])
        elif kind == el.ACD_QUEUED:
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
        elif kind == el.ACD_OVERFLOWED:
            rec.overflowed = True
            rec.queue = str(d.get("to"))
            rec.queues.append(rec.queue)
        elif kind == el.ACD_OFFER:
            self._offer_at = e.at
            if d.get("endpoint") and d.get("agent"):
                self._offered[str(d["endpoint"])] = str(d["agent"])
        elif kind in (el.DIAL_BEGIN, el.DIAL_END) and _consult_dial(d):
            pass  # an attended transfer's consult call (the atxfer feature's Local channel)
        elif kind == el.DIAL_BEGIN:
            if self._offer_at is None:
                self._offer_at = e.at
        elif kind == el.DIAL_END:
            if self._offer_at is not None:
                rec.ring_s += max(0.0, e.at - self._offer_at)
                self._offer_at = None
            if d.get("status") == "ANSWER" and (rec.answered_at is None or self._answer_adopted):
                self._answer(e.at, adopted=False)
                self._agent_leg = str(d.get("dest") or "") or None
                rec.endpoint = endpoint_of(self._agent_leg or "")
            elif (
                d.get("status") == "ANSWER"
                and self._transferring
                and d.get("channel") == self._caller_channel
                and rec.talk_end_at is not None
            ):
                # the blind transfer's target answered: the conversation goes on
                self._transferring = False
                rec.transfer_gap_s += max(0.0, e.at - rec.talk_end_at)
                rec.talk_end_at = None
                self._next_agent(str(d.get("dest") or ""))
        elif kind in (el.ACD_CONNECTED, el.ACD_ADOPTED):
            rec.agent = str(d.get("agent"))
            if rec.agents and rec.agents[-1] in (rec.endpoint, None):
                rec.agents[-1] = rec.agent
            elif not rec.agents:
                rec.agents.append(rec.agent)
            # an answer learnt at a resync carries when Asterisk answered
            answered = d.get("answered_at")
            at = float(answered) if isinstance(answered, int | float) else e.at
            self._answer(at, adopted=kind == el.ACD_ADOPTED)
        elif kind == el.ACD_TRANSFERRED:
            # the ACD names who has the call after an attended transfer
            rec.agent = str(d.get("agent"))
            if rec.agents and rec.agents[-1] in (rec.endpoint, None):
                rec.agents[-1] = rec.agent
        elif kind in (el.CHANNEL_HUNGUP, el.CHANNEL_UNBRIDGED):
            ch = d.get("channel")
            if (
                kind == el.CHANNEL_HUNGUP
                and ch == self._caller_channel
                and self._caller_left is None
            ):
                self._caller_left = e.at
            # the conversation ends when either party leaves the bridge (or hangs up)
            talking = rec.answered_at is not None and rec.talk_end_at is None
            if talking and ch in (self._agent_leg, self._caller_channel):
                rec.talk_end_at = e.at
                self._end_hold(e.at)
        elif kind == el.CALL_RECORDING:
            rec.recording = rec.recording or str(d.get("file") or "") or None
        elif kind in (el.CHANNEL_HOLD, el.CHANNEL_UNHOLD):
            talking = rec.answered_at is not None and rec.talk_end_at is None
            if talking and d.get("channel") in (self._agent_leg, self._caller_channel):
                if kind == el.CHANNEL_HOLD and self._held_at is None:
                    self._held_at = e.at
                elif kind == el.CHANNEL_UNHOLD:
                    self._end_hold(e.at)
        elif kind == el.CALL_TRANSFERRED and d.get("result") == "Success":
            rec.transfers += 1
            self._end_hold(e.at)
            if d.get("kind") == "attended":
                # the target's channel takes the transferer's place in the caller's bridge
                self._next_agent(str(d.get("to") or ""))
            else:
                self._transferring = True
        elif kind == el.ACD_ABANDONED:
            rec.abandoned = True
        elif kind == el.ACD_CALLBACK_REQUESTED:
            rec.callback = True
        elif kind == el.ACD_CALLBACK_FAILED:
            rec.callback_failed = True
        elif kind == el.IVR_HANDOFF:
            rec.vip = bool(d.get("vip"))
        elif kind == el.TICKET_CREATED:
            rec.ticket = str(d.get("ticket"))
        elif kind == el.SURVEY_SCORE and d.get("survey") == "call":
            rec.survey = int(d["score"])
        elif kind == el.CALL_DISPOSITION:
            rec.disposition_code = str(d.get("code"))  # the last one filed counts
        elif kind == el.CALL_NOTE:
            rec.notes.append(str(d.get("text")))

    def _end_hold(self, at: float) -> None:
        if self._held_at is not None:
            self.record.hold_s += max(0.0, at - self._held_at)
            self._held_at = None

    def _next_agent(self, leg: str) -> None:
        """Another agent's leg takes the call over (a transfer)."""
        rec = self.record
        if rec.agent and not rec.agents:
            rec.agents.append(rec.agent)
        self._agent_leg = leg or None
        rec.endpoint = endpoint_of(leg)
        if rec.endpoint is not None:
            rec.agent = self._offered.get(rec.endpoint, rec.endpoint)
            rec.agents.append(rec.agent)

    def settle(self) -> CallRecord:
        """The record as its events so far say; the same however often it is asked."""
        rec = self.record
        if self._caller_left is not None:
            rec.ended_at = self._caller_left  # the caller's own hang-up, not the last leg's
        return rec


class WrapUps:
    """Gives each answered call the wrap-up its agent did right after it.

    Fed the answered records and the ``acd.agent_state`` events in time order:
    a ``wrap_up`` interval goes to the agent's call answered last before it
    began. ``keep`` bounds the answered calls remembered per agent (the live
    fold's memory); the batch fold keeps them all.
    """

    def __init__(self, keep: int | None = None) -> None:
        self._keep = keep
        self._calls: dict[str, list[CallRecord]] = defaultdict(list)  # by answered_at
        self._state: dict[str, tuple[str, float]] = {}  # agent -> (state, since)
        self._busy: dict[str, CallRecord] = {}  # agent -> the call in hand
        # the call the last agent_state() gave a closed wrap-up to (the projector stores it)
        self.credited: CallRecord | None = None

    def answered(self, rec: CallRecord) -> None:
        if not rec.agent or rec.answered_at is None:
            return
        # a transferred call takes the wrap-up of each agent who had it
        for agent in dict.fromkeys([*rec.agents, rec.agent]):
            calls = self._calls[agent]
            bisect.insort(calls, rec, key=_answered_at)
            if self._keep is not None and len(calls) > self._keep:
                del calls[0]
            self._busy[agent] = rec

    def agent_state(self, event: CallEvent) -> CallRecord | None:
        """Apply a state change; the call the agent is now done with (talk and wrap-up), if any."""
        agent = event.data.get("agent")
        if not agent:
            return None
        agent, state = str(agent), str(event.data["state"])
        before = self._state.get(agent)
        self._state[agent] = (state, event.at)
        self.credited = None
        if before is not None and before[0] == "wrap_up" and event.at > before[1]:
            self.credited = self.owner(agent, before[1])
            if self.credited is not None:
                self.credited.wrap_s += event.at - before[1]
        if state in ("on_call", "wrap_up"):
            return None
        return self._busy.pop(agent, None)

    def owner(self, agent: str, wrap_start: float) -> CallRecord | None:
        """The agent's call a wrap-up begun at ``wrap_start`` belongs to: answered last before."""
        calls = self._calls.get(agent, [])
        i = bisect.bisect_right(calls, wrap_start, key=_answered_at)
        return calls[i - 1] if i else None

    def forget_before(self, t: float) -> None:
        """Forget what no wrap-up begun from ``t`` on can own (a long-running fold's memory).

        Each agent keeps the calls answered from ``t`` on and the last one before
        (a wrap-up begun at ``t`` belongs to it), and what the wrap-up the agent
        is in now needs.
        """
        for agent, calls in list(self._calls.items()):
            state = self._state.get(agent)
            cut = min(t, state[1]) if state is not None and state[0] == "wrap_up" else t
            i = bisect.bisect_left(calls, cut, key=_answered_at) - 1
            if i > 0:
                del calls[:i]

    def resume(self, agent: str, state: str, since: float) -> None:
        """An agent's state as it was (a projector restarting from its stored intervals)."""
        self._state[agent] = (state, since)


def _consult_dial(data: Mapping[str, Any]) -> bool:
    """A Dial from the atxfer feature's Local channel: the consult, not the caller's ring."""
    return str(data.get("channel") or "").startswith("Local/")


def _answered_at(rec: CallRecord) -> float:
    return rec.answered_at or 0.0


def disposition(rec: CallRecord, short_abandon_s: float) -> str:
    """How the call ended, in the words of the field."""
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


@dataclass(frozen=True)
class Settled:
    """A moment in a call's life that the live fold reports, with the record as it is then.

    ``answered``: an agent took the call (its disposition is ``answered`` from
    now on; ``wait_s`` is final); ``ended``: the call ended (``disposition``
    is set; an answered call's wrap-up may still be running); ``handled``: the
    agent is done with the call, talk and wrap-up (``handle_s`` is final).
    """

    kind: Literal["answered", "ended", "handled"]
    record: CallRecord
    at: float  # the time of the event that settled it


class CallFold:
    """The fold of :func:`fold_calls`, fed event by event as the calls happen.

    The live metrics and the demo's summary read the calls through it, so they
    count what the reports count: the same step (:class:`CallTrace`), the same
    wrap-up rule (:class:`WrapUps`), the same dispositions. A call's trace is
    dropped when it ends; events that still come for it are ignored (they only
    settle a callback's failure, which nothing live counts). ``max_open``
    bounds the calls followed at once (the oldest go first).
    """

    def __init__(
        self, short_abandon_s: float = 5.0, *, max_open: int = 50_000, keep_ended: int = 10_000
    ) -> None:
        self.short_abandon_s = short_abandon_s
        self.max_open = max_open
        self.keep_ended = keep_ended
        self._open: dict[str, CallTrace] = {}
        self._answered: set[str] = set()
        self._ended: dict[str, None] = {}  # recently ended call ids, oldest first
        self.wrap_ups = WrapUps(keep=8)

    @property
    def open_calls(self) -> int:
        return len(self._open)

    def feed(self, event: CallEvent) -> list[Settled]:
        """Apply one event; what it settled (usually nothing)."""
        if event.kind == el.ACD_AGENT_STATE:
            done = self.wrap_ups.agent_state(event)
            return [] if done is None else [Settled("handled", done, event.at)]
        call_id = event.call_id
        if event.kind not in FOLDED_KINDS or not call_id or call_id in self._ended:
            return []
        trace = self._open.get(call_id)
        if trace is None:
            if len(self._open) >= self.max_open:
                oldest = next(iter(self._open))
                del self._open[oldest]
                self._answered.discard(oldest)
            trace = self._open[call_id] = CallTrace(call_id)
        trace.apply(event)
        out: list[Settled] = []
        if trace.answered and call_id not in self._answered:
            self._answered.add(call_id)
            self.wrap_ups.answered(trace.record)
            out.append(Settled("answered", trace.settle(), event.at))
        if event.kind == el.CALL_ENDED:
            del self._open[call_id]
            self._answered.discard(call_id)
            self._ended[call_id] = None
            if len(self._ended) > self.keep_ended:
                del self._ended[next(iter(self._ended))]
            rec = trace.settle()
            rec.disposition = disposition(rec, self.short_abandon_s)
            out.append(Settled("ended", rec, event.at))
        return out


def agent_intervals(
    events: Iterable[CallEvent], start: float | None, end: float | None
) -> dict[str, list[StateInterval]]:
    """Each agent's state intervals from ``acd.agent_state`` events, clipped to [start, end).

    The last state of an agent runs until ``end`` (or is dropped without one).
    """
    changes: dict[str, list[tuple[float, str, str | None]]] = defaultdict(list)
    for e in events:
        if e.kind == el.ACD_AGENT_STATE and e.data.get("agent"):
            changes[str(e.data["agent"])].append((e.at, str(e.data["state"]), e.data.get("code")))
    spans: list[StateSpan] = []
    for agent, seq in changes.items():
        seq.sort(key=lambda c: c[0])
        for i, (at, state, reason) in enumerate(seq):
            until = seq[i + 1][0] if i + 1 < len(seq) else None
            spans.append(StateSpan(agent, state, reason, at, until))
    return clip_intervals(spans, start, end)


@dataclass(frozen=True, slots=True)
class StateSpan:
    """An agent's state from one change to the next (``until`` None: still in it).

    What the projector stores in ``agent_intervals``, and what both report paths clip.
    """

    agent: str
    state: str
    reason: str | None
    since: float
    until: float | None


def clip_intervals(
    spans: Iterable[StateSpan], start: float | None, end: float | None
) -> dict[str, list[StateInterval]]:
    """State spans clipped to [start, end), per agent; an open span runs to ``end``."""
    out: dict[str, list[StateInterval]] = {}
    for span in spans:
        intervals = out.setdefault(span.agent, [])
        until = span.until if span.until is not None else end
        if until is None:
            continue
        lo = span.since if start is None else max(span.since, start)
        hi = until if end is None else min(until, end)
        if hi > lo:
            intervals.append(StateInterval(span.agent, span.state, span.reason, lo, hi))
    return out
