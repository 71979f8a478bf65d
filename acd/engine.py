"""The ACD engine: which waiting caller goes to which agent, and when.

Theory of operation
-------------------
The engine is a state machine over plain data with one entry point,
``Engine.handle(event, now) -> decisions``. It does no I/O and reads no clock:
``now`` comes with every event, timers advance only through ``Tick`` events, so
the same events at the same times always give the same decisions. The shell
(``ccserver.orchestrator``) turns decisions into AMI actions and AMI results
back into events.

Routing is greedy and event driven. When a call arrives (or its requirements
relax by escalation, or its preferred agent's exclusivity runs out) the engine
looks for the best routable agent for that call; when an agent becomes
routable it looks for the best waiting call that agent can take. "Best call"
is the highest effective priority (base priority, VIP boost, plus one point
per ``aging_s`` of waiting, so no call starves), then the longest waiting;
"best agent" follows the queue's strategy. After every event no routable agent
is left idle beside a waiting call it is eligible for.

Effective priority ``p + (now - enqueued_at) / aging_s`` orders two calls the
same way at any ``now``, so each queue keeps its waiting calls in one sorted
list keyed by ``p - enqueued_at / aging_s``; routable agents are indexed by
skill. A decision therefore touches the agents holding one skill and the head
of the queues an agent can serve, not every agent or every call.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .model import (
    Agent,
    AgentState,
    Call,
    CallState,
    Decision,
    DeviceState,
    QueueConfig,
    Strategy,
)

# --- events -------------------------------------------------------------------


@dataclass(frozen=True)
class CallArrived:
    call_id: str
    queue: str
    caller: str = ""
    priority: float = 0.0
    vip: bool = False
    extra_skills: tuple[tuple[str, int], ...] = ()
    preferred_agent: str | None = None
    # a caller queued before a restart or a link drop keeps their original wait start
    enqueued_at: float | None = None


@dataclass(frozen=True)
class CallAdopted:
    """Asterisk shows the caller talking to the agent although the ACD did not see it
    connect (the call was answered while ccserver was restarting or not listening)."""

    call_id: str
    queue: str
    agent_id: str
    caller: str = ""
    connected_at: float | None = None


@dataclass(frozen=True)
class AgentRestored:
    """The agent's state as stored before a restart (logged out, available,
    not ready with its reason, or wrap-up until ``until``)."""

    agent_id: str
    state: AgentState
    reason: str | None = None
    until: float | None = None


@dataclass(frozen=True)
class CallAbandoned:
    """The caller hung up before or while being offered."""

    call_id: str


@dataclass(frozen=True)
class OfferAnswered:
    call_id: str
    agent_id: str
    answered_at: float | None = None  # when Asterisk answered, if learnt late (a resync)


@dataclass(frozen=True)
class OfferFailed:
    """The offer did not connect: ``why`` is no_answer, busy or unavailable."""

    call_id: str
    agent_id: str
    why: str


@dataclass(frozen=True)
class CallEnded:
    """The conversation is over; the agent goes to wrap-up."""

    call_id: str


@dataclass(frozen=True)
class AgentLogin:
    agent_id: str


@dataclass(frozen=True)
class AgentLogout:
    agent_id: str


@dataclass(frozen=True)
class AgentReady:
    agent_id: str


@dataclass(frozen=True)
class AgentNotReady:
    agent_id: str
    reason: str


@dataclass(frozen=True)
class WrapUpDone:
    """The agent ends wrap-up early."""

    agent_id: str


@dataclass(frozen=True)
class DeviceChanged:
    agent_id: str
    device: DeviceState


@dataclass(frozen=True)
class CallbackRequested:
    """The caller keeps their place and hangs up; ``number`` is called back."""

    call_id: str
    number: str


@dataclass(frozen=True)
class CallbackFailed:
    """The customer did not answer the callback placed for an offer."""

    call_id: str


@dataclass(frozen=True)
class Tick:
    """Time passes: ring timeouts, wrap-ups, escalations, max waits."""


Event = (
    CallArrived
    | CallAdopted
    | AgentRestored
    | CallAbandoned
    | OfferAnswered
    | OfferFailed
    | CallEnded
    | AgentLogin
    | AgentLogout
    | AgentReady
    | AgentNotReady
    | WrapUpDone
    | DeviceChanged
    | CallbackRequested
    | CallbackFailed
    | Tick
)


class UnknownEntity(KeyError):
    """An event named an agent or queue the engine does not know."""


@dataclass(frozen=True)
class EngineSettings:
    """Engine-wide rules."""

    aging_s: float = 60.0  # one priority point per this many seconds of waiting
    vip_boost: float = 10.0
    resume_window_s: float = 120.0  # abandon-resume: calling back within this keeps the place
    no_answer_reason: str | None = "no answer"  # None: the agent stays available
    reason_codes: tuple[str, ...] = ("break", "lunch", "training", "back office", "no answer")
    device_retry_s: float = 30.0  # a softphone that failed an offer is tried again after
    # queue callbacks: the agent is reserved while the customer is called
    callback_answer_s: float = 30.0  # time the customer has to answer
    callback_attempts: int = 3
    callback_retry_s: float = 120.0  # between unanswered attempts


Requirements = dict[str, int]


class Engine:
    """The routing state and its one entry point, :meth:`handle`."""

    def __init__(
        self,
        queues: Iterable[QueueConfig],
        agents: Iterable[Agent],
        settings: EngineSettings | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self.queues: dict[str, QueueConfig] = {q.name: q for q in queues}
        self.agents: dict[str, Agent] = {a.id: a for a in agents}
        self.by_endpoint = {a.endpoint: a.id for a in self.agents.values()}
        self.calls: dict[str, Call] = {}
        self._waiting: dict[str, list[tuple[float, float, int, str]]] = {q: [] for q in self.queues}
        self._keys: dict[str, tuple[float, float, int, str]] = {}
        self._seq = itertools.count()
        self._routable_by_skill: dict[str, set[str]] = {}
        self._routable: set[str] = set()
        self._abandoned: dict[tuple[str, str], tuple[float, float]] = {}  # (caller, queue)
        self._rr_last: dict[str, str] = {}
        self._relaxed = {q.name: self._relaxed_requirements(q) for q in self.queues.values()}
        self._opens = {
            q.name: any(s.open_to_queue for s in q.escalation) for q in self.queues.values()
        }
        self._out: list[Decision] = []
        self._now = 0.0
        self._handlers: dict[type, Callable[[Any], None]] = {
            CallArrived: self._on_call_arrived,
            CallAdopted: self._on_call_adopted,
            CallAbandoned: self._on_call_abandoned,
            OfferAnswered: self._on_offer_answered,
            OfferFailed: self._on_offer_failed,
            CallEnded: self._on_call_ended,
            AgentLogin: self._on_agent_login,
            AgentLogout: self._on_agent_logout,
            AgentReady: self._on_agent_ready,
            AgentNotReady: self._on_agent_not_ready,
            AgentRestored: self._on_agent_restored,
            WrapUpDone: self._on_wrap_up_done,
            DeviceChanged: self._on_device_changed,
            CallbackRequested: self._on_callback_requested,
            CallbackFailed: self._on_callback_failed,
            Tick: self._on_tick,
        }
        # per agent, the queues whose calls could ever be theirs (skills are static)
        self._servable = {
            a.id: tuple(n for n in self.queues if _meets(a, self._relaxed[n]) or self._opens[n])
            for a in self.agents.values()
        }
        for agent in self.agents.values():
            self._index(agent)

    # --- the entry point ---------------------------------------------------
    def handle(self, event: Event, now: float) -> list[Decision]:
        """Apply one event at time ``now``; return what the ACD decided."""
        self._now = now
        self._out = []
        self._handlers[type(event)](event)
        return self._out

    # --- queries -----------------------------------------------------------
    def waiting_calls(self, queue: str | None = None) -> list[Call]:
        """Waiting calls in the order they will be served."""
        names = [queue] if queue else list(self._waiting)
        out = [self.calls[k[3]] for n in names for k in self._waiting[n]]
        if queue is None:
            out.sort(key=lambda c: self._keys[c.id])
        return out

    def servable(self, agent_id: str) -> tuple[str, ...]:
        """The queues whose calls could ever be this agent's."""
        return self._servable[agent_id]

    def requirements(self, call: Call) -> tuple[Requirements, tuple[str, ...]]:
        """Skills the call needs at its escalation step, and queues it is open to."""
        queue = self.queues[call.queue]
        need: Requirements = dict(queue.skills)
        need.update(call.extra_skills)
        opened: list[str] = []
        for step in queue.escalation[: call.step]:
            for skill in step.drop_skills:
                need.pop(skill, None)
            if step.lower_levels_by:
                need = {s: max(1, lvl - step.lower_levels_by) for s, lvl in need.items()}
            need.update(step.add_skills)
            if step.open_to_queue:
                opened.append(step.open_to_queue)
        return need, tuple(opened)

    def eligible(self, agent: Agent, call: Call) -> bool:
        """Whether the agent may be offered this call now (skills and preference)."""
        if not agent.routable:
            return False
        if call.not_before is not None and self._now < call.not_before:
            return False
        preferred = call.preferred_agent
        if (
            preferred
            and preferred != agent.id
            and call.preferred_until is not None
            and self._now < call.preferred_until
            and preferred in self.agents
            and self.agents[preferred].state is not AgentState.LOGGED_OUT
        ):
            return False
        need, opened = self.requirements(call)
        if _meets(agent, need):
            return True
        return any(_meets(agent, dict(self.queues[q].skills)) for q in opened if q in self.queues)

    # --- agents ------------------------------------------------------------
    def _agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownEntity(f"unknown agent {agent_id!r}") from None

    def _set_state(
        self, agent: Agent, state: AgentState, why: str, reason: str | None = None
    ) -> None:
        agent.state = state
        agent.reason = reason
        if state is AgentState.AVAILABLE:
            agent.idle_since = self._now
        self._index(agent)
        self._decide(
            "agent_state",
            None,
            agent.id,
            why,
            state=state.value,
            code=reason,
            until=agent.state_until if state is AgentState.WRAP_UP else None,
        )

    def _index(self, agent: Agent) -> None:
        if agent.routable:
            if agent.id not in self._routable:
                self._routable.add(agent.id)
                for skill in agent.skills:
                    self._routable_by_skill.setdefault(skill, set()).add(agent.id)
        elif agent.id in self._routable:
            self._routable.discard(agent.id)
            for skill in agent.skills:
                self._routable_by_skill.get(skill, set()).discard(agent.id)

    def _on_agent_login(self, e: AgentLogin) -> None:
        agent = self._agent(e.agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            self._set_state(agent, AgentState.NOT_READY, "logged in", "login")

    def _on_agent_logout(self, e: AgentLogout) -> None:
        agent = self._agent(e.agent_id)
        if agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            self._decide("refused", agent.call_id, agent.id, "cannot log out during a call")
            return
        self._set_state(agent, AgentState.LOGGED_OUT, "logged out")

    def _on_agent_ready(self, e: AgentReady) -> None:
        agent = self._agent(e.agent_id)
        if agent.state in (AgentState.NOT_READY, AgentState.WRAP_UP):
            agent.state_until = None
            self._set_state(agent, AgentState.AVAILABLE, "ready")
            self._route_agent(agent)

    def _on_agent_not_ready(self, e: AgentNotReady) -> None:
        agent = self._agent(e.agent_id)
        if agent.state in (AgentState.AVAILABLE, AgentState.WRAP_UP, AgentState.NOT_READY):
            self._set_state(agent, AgentState.NOT_READY, f"not ready: {e.reason}", e.reason)

    def _on_wrap_up_done(self, e: WrapUpDone) -> None:
        agent = self._agent(e.agent_id)
        if agent.state is AgentState.WRAP_UP:
            agent.state_until = None
            self._set_state(agent, AgentState.AVAILABLE, "wrap-up ended by the agent")
            self._route_agent(agent)

    def _on_device_changed(self, e: DeviceChanged) -> None:
        agent = self._agent(e.agent_id)
        if agent.device is e.device:
            return
        agent.device = e.device
        if e.device is DeviceState.OK:
            agent.cool_off_until = None  # Asterisk says the softphone is back: try it now
        self._index(agent)
        self._decide("device", None, agent.id, f"softphone {e.device.value}", device=e.device.value)
        if agent.routable:
            self._route_agent(agent)

    def _on_agent_restored(self, e: AgentRestored) -> None:
        agent = self._agent(e.agent_id)
        if agent.call_id is not None:
            return  # already on a call the ACD knows: that is the truth now
        state, until = e.state, e.until
        if state not in (
            AgentState.LOGGED_OUT,
            AgentState.AVAILABLE,
            AgentState.NOT_READY,
            AgentState.WRAP_UP,
        ):
            raise ValueError(f"cannot restore an agent as {state.value}")
        if state is AgentState.WRAP_UP and (until is None or until <= self._now):
            state, until = AgentState.AVAILABLE, None
        agent.state_until = until if state is AgentState.WRAP_UP else None
        self._set_state(agent, state, "restored after a restart", e.reason)
        self._route_agent(agent)

    # --- calls -------------------------------------------------------------
    def _on_call_adopted(self, e: CallAdopted) -> None:
        if e.queue not in self.queues:
            raise UnknownEntity(f"unknown queue {e.queue!r}")
        agent = self._agent(e.agent_id)
        call = self.calls.get(e.call_id)
        if call is not None and call.state is CallState.CONNECTED:
            return
        if agent.call_id is not None and agent.call_id != e.call_id:
            other = self.calls.get(agent.call_id)
            if other is not None and other.state is CallState.OFFERED:
                self._requeue(other, agent, "the agent is on another call")
            elif other is not None and other.state is CallState.CONNECTED:
                return  # one conversation per agent: the known one stands
        if call is None:
            call = Call(e.call_id, e.queue, e.caller, self._now, self.queues[e.queue].priority)
            self.calls[call.id] = call
        rival = None
        if call.state is CallState.OFFERED and call.agent_id not in (None, agent.id):
            rival = self.agents[call.agent_id or ""]
            rival.call_id, rival.state_until = None, None
            self._set_state(rival, AgentState.AVAILABLE, "offer cancelled: answered elsewhere")
        self._dequeue(call)
        call.state, call.agent_id = CallState.CONNECTED, agent.id
        agent.call_id = call.id
        agent.state_until = None
        agent.connected_at = self._now if e.connected_at is None else e.connected_at
        self._set_state(agent, AgentState.ON_CALL, "on a call Asterisk reports")
        self._decide(
            "adopted",
            call.id,
            agent.id,
            "connected while ccserver was not watching",
            answered_at=agent.connected_at,
        )
        if rival is not None:
            self._route_agent(rival)

    def _on_call_arrived(self, e: CallArrived) -> None:
        if e.queue not in self.queues:
            raise UnknownEntity(f"unknown queue {e.queue!r}")
        if e.call_id in self.calls:
            return
        queue = self.queues[e.queue]
        priority = queue.priority + e.priority + (self.settings.vip_boost if e.vip else 0.0)
        enqueued = self._now if e.enqueued_at is None else min(e.enqueued_at, self._now)
        call = Call(e.call_id, e.queue, e.caller, enqueued, priority, e.extra_skills, vip=e.vip)
        if e.preferred_agent in self.agents:
            call.preferred_agent = e.preferred_agent
            call.preferred_until = self._now + queue.preferred_agent_timeout_s
        resumed = self._abandoned.pop((e.caller, e.queue), None) if e.caller else None
        if resumed is not None and self._now - resumed[1] <= self.settings.resume_window_s:
            call.enqueued_at = resumed[0]
            self._decide(
                "resumed",
                call.id,
                None,
                "called back after abandoning: keeps its place",
                enqueued_at=resumed[0],
            )
        self.calls[call.id] = call
        self._enqueue(call)
        why = "VIP, priority boosted" if e.vip else "entered the queue"
        self._decide(
            "queued",
            call.id,
            None,
            why,
            queue=call.queue,
            priority=call.priority,
            # a wait start kept across a restart or a link drop (not a resumed place:
            # the new call's own wait starts now, only its place in the queue is kept)
            enqueued_at=e.enqueued_at,
        )
        self._route_call(call)

    def _on_call_abandoned(self, e: CallAbandoned) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.state is CallState.ENDED:
            return
        if call.state is CallState.CONNECTED:
            self._on_call_ended(CallEnded(call.id))
            return
        if call.state is CallState.OFFERED and call.agent_id:
            agent = self.agents[call.agent_id]
            self._decide("cancel_offer", call.id, agent.id, "caller hung up while the agent rang")
            agent.call_id = None
            agent.state_until = None
            self._set_state(agent, AgentState.AVAILABLE, "offer cancelled: caller hung up")
        self._dequeue(call)
        call.state = CallState.ENDED
        if call.caller:
            self._abandoned[(call.caller, call.queue)] = (call.enqueued_at, self._now)
        self._decide(
            "abandoned",
            call.id,
            None,
            "caller hung up while waiting",
            waited_s=round(self._now - call.enqueued_at, 3),
        )
        del self.calls[call.id]
        if call.agent_id and self.agents[call.agent_id].routable:
            self._route_agent(self.agents[call.agent_id])

    def _on_callback_requested(self, e: CallbackRequested) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.state is not CallState.WAITING:
            return
        call.callback_number = e.number
        self._decide("callback_requested", call.id, None, "caller keeps the place, hangs up")

    def _on_callback_failed(self, e: CallbackFailed) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.state is not CallState.OFFERED or not call.callback_number:
            return
        agent = self.agents[call.agent_id or ""]
        agent.call_id = None
        agent.state_until = None
        call.callback_attempts += 1
        call.agent_id = None
        self._set_state(agent, AgentState.AVAILABLE, "callback not answered by the customer")
        if call.callback_attempts >= self.settings.callback_attempts:
            call.state = CallState.ENDED
            del self.calls[call.id]
            self._decide(
                "callback_failed",
                call.id,
                None,
                f"customer did not answer {call.callback_attempts} callbacks",
                waited_s=round(self._now - call.enqueued_at, 3),
            )
        else:
            call.state = CallState.WAITING
            call.not_before = self._now + self.settings.callback_retry_s
            self._enqueue(call)
            self._decide(
                "callback_retry",
                call.id,
                None,
                f"customer did not answer; next try in {self.settings.callback_retry_s:g} s",
                attempt=call.callback_attempts,
            )
        self._route_agent(agent)

    def _on_offer_answered(self, e: OfferAnswered) -> None:
        call, agent = self.calls.get(e.call_id), self._agent(e.agent_id)
        if call is None or call.state is not CallState.OFFERED or call.agent_id != agent.id:
            return
        call.state = CallState.CONNECTED
        agent.state_until = None
        answered = self._now if e.answered_at is None else min(e.answered_at, self._now)
        agent.connected_at = answered
        self._set_state(agent, AgentState.ON_CALL, "answered")
        self._decide(
            "connected",
            call.id,
            agent.id,
            "agent answered",
            waited_s=round(answered - call.enqueued_at, 3),
            answered_at=answered,
        )

    def _on_offer_failed(self, e: OfferFailed) -> None:
        call, agent = self.calls.get(e.call_id), self._agent(e.agent_id)
        if call is None or call.state is not CallState.OFFERED or call.agent_id != agent.id:
            return
        self._offer_failed(call, agent, e.why)

    def _offer_failed(self, call: Call, agent: Agent, why: str) -> None:
        agent.call_id = None
        agent.state_until = None
        if why == "no_answer" and self.settings.no_answer_reason:
            reason = self.settings.no_answer_reason
            self._set_state(agent, AgentState.NOT_READY, "did not answer", reason)
        else:
            if why in ("busy", "unavailable"):
                # the softphone failed, not the person: a short cool-off, never
                # "not ready (no answer)"; Asterisk's next device report ends it early
                agent.cool_off_until = self._now + self.settings.device_retry_s
            self._set_state(agent, AgentState.AVAILABLE, f"offer failed: {why}")
        self._requeue(call, agent, f"offer failed ({why})")

    def _requeue(self, call: Call, agent: Agent, why: str) -> None:
        """The call goes back to its place in the queue and is offered on at once."""
        if agent.call_id == call.id:
            agent.call_id = None
        call.state = CallState.WAITING
        call.agent_id = None
        self._enqueue(call)
        self._decide("requeued", call.id, agent.id, f"{why}; keeps its place")
        self._route_call(call)

    def _on_call_ended(self, e: CallEnded) -> None:
        waiting = self.calls.get(e.call_id)
        if waiting is not None and waiting.state is not CallState.CONNECTED:
            self._on_call_abandoned(CallAbandoned(e.call_id))  # it never reached an agent
            return
        call = self.calls.pop(e.call_id, None)
        if call is None:
            return
        call.state = CallState.ENDED
        agent = self.agents.get(call.agent_id or "")
        if agent is None or agent.call_id != call.id:
            return
        agent.call_id = None
        agent.calls_handled += 1
        if agent.connected_at is not None:
            agent.talk_time_s += self._now - agent.connected_at
        agent.connected_at = None
        wrap = self.queues[call.queue].wrap_up_s
        if wrap > 0:
            agent.state_until = self._now + wrap
            self._set_state(agent, AgentState.WRAP_UP, f"wrap-up for {wrap:g} s")
        else:
            self._set_state(agent, AgentState.AVAILABLE, "call ended")
            self._route_agent(agent)

    # --- time --------------------------------------------------------------
    def _on_tick(self, e: Tick) -> None:
        now = self._now
        for agent in self.agents.values():
            if agent.cool_off_until is not None and agent.cool_off_until <= now:
                agent.cool_off_until = None  # the softphone is tried again
                self._index(agent)
                self._decide("device", None, agent.id, "cool-off over", device=agent.device.value)
                self._route_agent(agent)
            if agent.state_until is None or agent.state_until > now:
                continue
            if agent.state is AgentState.OFFERED and agent.call_id in self.calls:
                call = self.calls[agent.call_id]
                self._decide("cancel_offer", call.id, agent.id, "ring timeout")
                self._offer_failed(call, agent, "no_answer")
            elif agent.state is AgentState.WRAP_UP:
                agent.state_until = None
                self._set_state(agent, AgentState.AVAILABLE, "wrap-up over")
                self._route_agent(agent)
        for call in self.waiting_calls():
            if call.state is not CallState.WAITING:
                continue
            retry = False
            if call.not_before is not None and now >= call.not_before:
                call.not_before = None  # a callback's retry time has come
                retry = True
            queue = self.queues[call.queue]
            waited = now - call.enqueued_at
            while (
                call.step < len(queue.escalation) and waited >= queue.escalation[call.step].after_s
            ):
                call.step += 1
                retry = True
                self._decide(
                    "escalated",
                    call.id,
                    None,
                    f"waited {waited:.0f} s: escalation step {call.step}",
                    step=call.step,
                )
            if call.preferred_until is not None and now >= call.preferred_until:
                call.preferred_until = None
                retry = True
                self._decide(
                    "preference_expired",
                    call.id,
                    call.preferred_agent,
                    "preferred agent did not take it in time: open to all",
                )
            if (
                queue.max_wait_s is not None
                and waited >= queue.max_wait_s
                and not call.max_wait_handled
            ):
                call.max_wait_handled = True
                retry = self._max_wait(call, queue) or retry
            if retry and call.state is CallState.WAITING:
                self._route_call(call)

    def _max_wait(self, call: Call, queue: QueueConfig) -> bool:
        if queue.max_wait_action == "overflow" and queue.overflow_to in self.queues:
            self._dequeue(call)
            call.overflowed_from, call.queue, call.step = call.queue, queue.overflow_to, 0
            call.max_wait_handled = False
            self._enqueue(call)
            self._decide(
                "overflowed",
                call.id,
                None,
                f"max wait {queue.max_wait_s:g} s in {queue.name}: to {queue.overflow_to}",
                to=queue.overflow_to,
            )
            return True
        self._decide(
            "max_wait",
            call.id,
            None,
            f"max wait reached: {queue.max_wait_action}",
            action=queue.max_wait_action,
        )
        return False

    # --- routing -----------------------------------------------------------
    def _enqueue(self, call: Call) -> None:
        key = (
            -(call.priority - call.enqueued_at / self.settings.aging_s),
            call.enqueued_at,
            next(self._seq),
            call.id,
        )
        self._keys[call.id] = key
        bisect.insort(self._waiting[call.queue], key)

    def _dequeue(self, call: Call) -> None:
        key = self._keys.pop(call.id, None)
        if key is None:
            return
        lst = self._waiting[call.queue]
        i = bisect.bisect_left(lst, key)
        if i < len(lst) and lst[i] == key:
            del lst[i]

    def _route_call(self, call: Call) -> None:
        """Offer the call to the best eligible routable agent, if any."""
        need, opened = self.requirements(call)
        if need:
            rarest = min(need, key=lambda s: len(self._routable_by_skill.get(s, ())))
            pool: Iterable[str] = self._routable_by_skill.get(rarest, set())
        else:
            pool = self._routable
        candidates = [self.agents[a] for a in pool]
        if opened:
            candidates = [self.agents[a] for a in self._routable]
        candidates = [a for a in candidates if self.eligible(a, call)]
        if not candidates:
            return
        self._offer(call, self._pick_agent(self.queues[call.queue], call, candidates))

    def _pick_agent(self, queue: QueueConfig, call: Call, agents: list[Agent]) -> Agent:
        if call.preferred_agent and any(a.id == call.preferred_agent for a in agents):
            return self.agents[call.preferred_agent]
        strategy = queue.strategy
        if strategy is Strategy.BEST_SKILL:
            need, _ = self.requirements(call)
            return min(
                agents, key=lambda a: (-sum(a.skills.get(s, 0) for s in need), a.idle_since, a.id)
            )
        if strategy is Strategy.FEWEST_CALLS:
            return min(agents, key=lambda a: (a.calls_handled, a.idle_since, a.id))
        if strategy is Strategy.ROUND_ROBIN:
            ordered = sorted(agents, key=lambda a: a.id)
            last = self._rr_last.get(queue.name, "")
            return next((a for a in ordered if a.id > last), ordered[0])
        return min(agents, key=lambda a: (a.idle_since, a.id))

    def _route_agent(self, agent: Agent) -> None:
        """Offer the routable agent the best waiting call it may take, if any."""
        if not agent.routable:
            return
        best: tuple[tuple[float, float, int, str], Call] | None = None
        servable = self._servable[agent.id]
        for name in servable:
            waiting = self._waiting[name]
            for key in waiting:
                if best is not None and key >= best[0]:
                    break
                call = self.calls[key[3]]
                if self.eligible(agent, call):
                    best = (key, call)
                    break
        if best is not None:
            self._offer(best[1], agent)

    def _offer(self, call: Call, agent: Agent) -> None:
        queue = self.queues[call.queue]
        self._dequeue(call)
        call.state, call.agent_id, call.offered_at = CallState.OFFERED, agent.id, self._now
        agent.call_id = call.id
        ring = queue.ring_timeout_s
        if call.callback_number:
            ring += self.settings.callback_answer_s  # the customer answers first
        agent.state_until = self._now + ring
        self._rr_last[queue.name] = agent.id
        self._set_state(agent, AgentState.OFFERED, "offered a call")
        need, _ = self.requirements(call)
        skills = ", ".join(f"{s}>={lvl}" for s, lvl in sorted(need.items())) or "none"
        self._decide(
            "offer",
            call.id,
            agent.id,
            f"{queue.strategy.value} pick in {queue.name} (needs {skills}; step {call.step})",
            endpoint=agent.endpoint,
            ring_timeout_s=queue.ring_timeout_s,
            callback=call.callback_number,
            waited_s=round(self._now - call.enqueued_at, 3),
        )

    def _decide(
        self, kind: str, call_id: str | None, agent_id: str | None, reason: str, **detail: object
    ) -> None:
        self._out.append(
            Decision(kind, call_id, agent_id, reason, self._now, tuple(detail.items()))
        )

    @staticmethod
    def _relaxed_requirements(queue: QueueConfig) -> Requirements:
        """The least any call of the queue will ever need (for a quick skip)."""
        need: Requirements = dict(queue.skills)
        for step in queue.escalation:
            for skill in step.drop_skills:
                need.pop(skill, None)
            if step.lower_levels_by:
                need = {s: max(1, lvl - step.lower_levels_by) for s, lvl in need.items()}
        return need


def _meets(agent: Agent, need: Requirements) -> bool:
    skills = agent.skills
    return all(skills.get(s, 0) >= lvl for s, lvl in need.items())
