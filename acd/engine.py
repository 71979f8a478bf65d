"""The ACD engine: which waiting caller goes to which agent, and when.

Theory of operation
-------------------
The engine is a state machine over plain data with one entry point,
``Engine.handle(event, now) -> effects``: the events (``acd.events``) say what
happened, the effects (``acd.effects``) what the ACD decided, each a typed
dataclass with a reason in plain words. It does no I/O and reads no clock:
``now`` comes with every event, timers advance only through ``Tick`` events, so
the same events at the same times always give the same effects. The shell
(``ccserver.orchestrator``) turns effects into AMI actions and AMI results back
into events. This module says what each event does; ``acd.routing`` holds the
state, its indexes and the rules that match calls and agents.

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

from collections.abc import Callable, Iterable
from typing import Any

from .effects import (
    Abandoned,
    Adopted,
    CallbackGaveUp,
    CallbackQueued,
    CallbackRetry,
    CancelOffer,
    CancelWhy,
    Connected,
    DeviceNoted,
    Effect,
    Escalated,
    MaxWaitReached,
    Overflowed,
    PreferenceExpired,
    Queued,
    Requeued,
    Resumed,
    SkillsChanged,
    Transferred,
)
from .events import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentRestored,
    AgentSkillsChanged,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallbackFailed,
    CallbackRequested,
    CallEnded,
    CallTransferred,
    ConfigurationChanged,
    DeviceChanged,
    Event,
    NodeLinkChanged,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
    Tick,
    WrapUpDone,
)
from .model import (
    Agent,
    AgentState,
    Call,
    CallState,
    DeviceState,
    QueueConfig,
)
from .reconfigure import reconfigure
from .routing import EngineCore, EngineSettings, UnknownEntity

# why an agent cannot go ready or not ready now
_BUSY_OR_OUT = {
    AgentState.LOGGED_OUT: "logged out: log in first",
    AgentState.OFFERED: "a call is ringing: answer it or let it ring out",
    AgentState.ON_CALL: "on a call: change state after it",
}

__all__ = ["Engine", "EngineSettings", "UnknownEntity"]


def _by(who: str | None) -> str:
    """Who made the change, when not the agent, for the reason's words."""
    return f" (by {who})" if who else ""


class Engine(EngineCore):
    """The routing state and its one entry point, :meth:`handle`."""

    def __init__(
        self,
        queues: Iterable[QueueConfig],
        agents: Iterable[Agent],
        settings: EngineSettings | None = None,
    ) -> None:
        super().__init__(queues, agents, settings)
        self._handlers: dict[type, Callable[[Any], None]] = {
            CallArrived: self._on_call_arrived,
            CallAdopted: self._on_call_adopted,
            CallTransferred: self._on_call_transferred,
            CallAbandoned: self._on_call_abandoned,
            OfferAnswered: self._on_offer_answered,
            OfferFailed: self._on_offer_failed,
            CallEnded: self._on_call_ended,
            AgentLogin: self._on_agent_login,
            AgentLogout: self._on_agent_logout,
            AgentReady: self._on_agent_ready,
            AgentNotReady: self._on_agent_not_ready,
            AgentRestored: self._on_agent_restored,
            AgentSkillsChanged: self._on_agent_skills_changed,
            WrapUpDone: self._on_wrap_up_done,
            DeviceChanged: self._on_device_changed,
            NodeLinkChanged: self._on_node_link_changed,
            CallbackRequested: self._on_callback_requested,
            CallbackFailed: self._on_callback_failed,
            ConfigurationChanged: self._on_configuration_changed,
            Tick: self._on_tick,
        }

    def handle(self, event: Event, now: float) -> list[Effect]:
        """Apply one event at time ``now``; return what the ACD decided."""
        self._now = now
        self._out = []
        self._handlers[type(event)](event)
        return self._out

    def _on_agent_login(self, e: AgentLogin) -> None:
        agent = self._agent(e.agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            self._set_state(agent, AgentState.NOT_READY, "logged in", "login")

    def _on_agent_logout(self, e: AgentLogout) -> None:
        agent = self._agent(e.agent_id)
        if agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            self._refuse(agent, "cannot log out during a call")
            return
        self._set_state(agent, AgentState.LOGGED_OUT, "logged out" + _by(e.by), e.reason)

    def _on_agent_ready(self, e: AgentReady) -> None:
        agent = self._agent(e.agent_id)
        if agent.state in (AgentState.NOT_READY, AgentState.WRAP_UP):
            agent.state_until = None
            self._set_state(agent, AgentState.AVAILABLE, "ready")
            self._route_agent(agent)
        elif agent.state is not AgentState.AVAILABLE:  # ready while ready: nothing to do
            self._refuse(agent, _BUSY_OR_OUT[agent.state])

    def _on_agent_not_ready(self, e: AgentNotReady) -> None:
        agent = self._agent(e.agent_id)
        if agent.state in (AgentState.AVAILABLE, AgentState.WRAP_UP, AgentState.NOT_READY):
            why = f"not ready: {e.reason}{_by(e.by)}"
            self._set_state(agent, AgentState.NOT_READY, why, e.reason)
        else:
            self._refuse(agent, _BUSY_OR_OUT[agent.state])

    def _on_agent_skills_changed(self, e: AgentSkillsChanged) -> None:
        agent = self._agent(e.agent_id)
        for skill, level in e.skills:
            if not 1 <= level <= 10:
                raise ValueError(f"skill {skill}: level {level} is not within 1-10")
        self._reskill(agent, dict(e.skills))
        shown = ", ".join(f"{s}={lvl}" for s, lvl in sorted(agent.skills.items())) or "none"
        self._out.append(
            SkillsChanged(
                at=self._now,
                reason=f"skills now {shown}{_by(e.by)}",
                agent_id=agent.id,
                skills=dict(agent.skills),
                queues=self.servable(agent.id),
            )
        )
        # a call waiting for the new skills goes to this agent now, if free
        self._route_agent(agent)

    def _on_configuration_changed(self, e: ConfigurationChanged) -> None:
        reconfigure(self, e)  # taken whole or refused whole (acd.reconfigure)

    def _on_wrap_up_done(self, e: WrapUpDone) -> None:
        agent = self._agent(e.agent_id)
        if agent.state is AgentState.WRAP_UP:
            agent.state_until = None
            self._set_state(agent, AgentState.AVAILABLE, "wrap-up ended by the agent")
            self._route_agent(agent)
        else:
            self._refuse(agent, f"not in wrap-up ({agent.state.value})")

    def _on_device_changed(self, e: DeviceChanged) -> None:
        agent = self._agent(e.agent_id)
        if (
            e.node is not None
            and agent.node is not None
            and e.node != agent.node
            and e.device is not DeviceState.OK
        ):
            return  # a node the softphone is not registered on has no say on it
        moved = e.node is not None and e.device is DeviceState.OK and agent.node != e.node
        if moved:
            agent.node = e.node  # the softphone is registered there now: its seat's node
        elif agent.node is None and e.node is not None:
            agent.node = e.node
        if agent.device is e.device:
            if moved and agent.routable:
                self._route_agent(agent)
            return
        agent.device = e.device
        if e.device is DeviceState.OK:
            agent.cool_off_until = None  # Asterisk says the softphone is back: try it now
        self._index(agent)
        self._out.append(
            DeviceNoted(
                at=self._now,
                reason=f"softphone {e.device.value}",
                agent_id=agent.id,
                device=e.device,
            )
        )
        if agent.routable:
            self._route_agent(agent)

    def _on_node_link_changed(self, e: NodeLinkChanged) -> None:
        if not e.up:
            self._nodes_down.add(e.node)  # its callers wait: an offer could not be delivered
            return
        if e.node not in self._nodes_down:
            return
        self._nodes_down.discard(e.node)
        for call in self.waiting_calls():
            if call.node == e.node and call.state is CallState.WAITING:
                self._route_call(call)

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
            call.node = e.node
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
        self._out.append(
            Adopted(
                at=self._now,
                reason="connected while ccserver was not watching",
                call_id=call.id,
                agent_id=agent.id,
                answered_at=agent.connected_at,
            )
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
        call.node = e.node
        if e.preferred_agent in self.agents:
            call.preferred_agent = e.preferred_agent
            call.preferred_until = self._now + queue.preferred_agent_timeout_s
        resumed = self._abandoned.pop((e.caller, e.queue), None) if e.caller else None
        if resumed is not None and self._now - resumed[1] <= self.settings.resume_window_s:
            call.enqueued_at = resumed[0]
            self._out.append(
                Resumed(
                    at=self._now,
                    reason="called back after abandoning: keeps its place",
                    call_id=call.id,
                    enqueued_at=resumed[0],
                )
            )
        self.calls[call.id] = call
        self._enqueue(call)
        why = "VIP, priority boosted" if e.vip else "entered the queue"
        self._out.append(
            Queued(
                at=self._now,
                reason=why,
                call_id=call.id,
                # a wait start kept across a restart or a link drop (not a resumed place:
                # the new call's own wait starts now, only its place in the queue is kept)
                queue=call.queue,
                priority=call.priority,
                enqueued_at=e.enqueued_at,
            )
        )
        if e.callback:  # before routing: a free seat's offer must ring the customer
            call.callback_number = e.callback
            self._out.append(
                CallbackQueued(at=self._now, reason="queued for a callback", call_id=call.id)
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
            self._out.append(
                CancelOffer(
                    at=self._now,
                    reason="caller hung up while the agent rang",
                    call_id=call.id,
                    agent_id=agent.id,
                    why=CancelWhy.CALLER_HUNG_UP,
                )
            )
            agent.call_id = None
            agent.state_until = None
            self._set_state(agent, AgentState.AVAILABLE, "offer cancelled: caller hung up")
        self._dequeue(call)
        call.state = CallState.ENDED
        if call.caller:
            self._abandoned[(call.caller, call.queue)] = (call.enqueued_at, self._now)
        self._out.append(
            Abandoned(
                at=self._now,
                reason="caller hung up while waiting",
                call_id=call.id,
                waited_s=round(self._now - call.enqueued_at, 3),
            )
        )
        del self.calls[call.id]
        if call.agent_id and self.agents[call.agent_id].routable:
            self._route_agent(self.agents[call.agent_id])

    def _on_callback_requested(self, e: CallbackRequested) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.state is not CallState.WAITING:
            return
        call.callback_number = e.number
        self._out.append(
            CallbackQueued(at=self._now, reason="caller keeps the place, hangs up", call_id=call.id)
        )

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
            self._out.append(
                CallbackGaveUp(
                    at=self._now,
                    reason=f"customer did not answer {call.callback_attempts} callbacks",
                    call_id=call.id,
                    waited_s=round(self._now - call.enqueued_at, 3),
                )
            )
        else:
            call.state = CallState.WAITING
            call.not_before = self._now + self.settings.callback_retry_s
            self._enqueue(call)
            self._out.append(
                CallbackRetry(
                    at=self._now,
                    reason="customer did not answer; next try in"
                    f" {self.settings.callback_retry_s:g} s",
                    call_id=call.id,
                    attempt=call.callback_attempts,
                )
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
        self._out.append(
            Connected(
                at=self._now,
                reason="agent answered",
                call_id=call.id,
                agent_id=agent.id,
                waited_s=round(answered - call.enqueued_at, 3),
                answered_at=answered,
            )
        )

    def _on_offer_failed(self, e: OfferFailed) -> None:
        call, agent = self.calls.get(e.call_id), self._agent(e.agent_id)
        if call is None or call.state is not CallState.OFFERED or call.agent_id != agent.id:
            return
        self._offer_failed(call, agent, e.why)

    def _offer_failed(self, call: Call, agent: Agent, why: OfferFailure) -> None:
        agent.call_id = None
        agent.state_until = None
        if why is OfferFailure.NO_ANSWER and self.settings.no_answer_reason:
            reason = self.settings.no_answer_reason
            self._set_state(agent, AgentState.NOT_READY, "did not answer", reason)
        else:
            if why in (OfferFailure.BUSY, OfferFailure.UNAVAILABLE):
                # the softphone failed, not the person: a short cool-off, never
                # "not ready (no answer)"; Asterisk's next device report ends it early
                agent.cool_off_until = self._now + self.settings.device_retry_s
            elif why is OfferFailure.NOT_DELIVERED:
                call.not_before = self._now + self.settings.redeliver_s
            self._set_state(agent, AgentState.AVAILABLE, f"offer failed: {why}")
        self._requeue(call, agent, f"offer failed ({why})")

    def _requeue(self, call: Call, agent: Agent, why: str) -> None:
        """The call goes back to its place in the queue and is offered on at once."""
        if agent.call_id == call.id:
            agent.call_id = None
        call.state = CallState.WAITING
        call.agent_id = None
        self._enqueue(call)
        self._out.append(
            Requeued(
                at=self._now, reason=f"{why}; keeps its place", call_id=call.id, agent_id=agent.id
            )
        )
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
        if agent is not None and agent.call_id == call.id:
            self._agent_done(agent, call)

    def _agent_done(self, agent: Agent, call: Call) -> None:
        """The agent's part of a call is over (it ended, or they handed it on): wrap-up."""
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

    def _on_call_transferred(self, e: CallTransferred) -> None:
        call, taker = self.calls.get(e.call_id), self._agent(e.agent_id)
        if call is None or call.state is not CallState.CONNECTED or call.agent_id == taker.id:
            return
        if taker.call_id is not None:
            other = self.calls.get(taker.call_id)
            if other is not None and other.state is CallState.OFFERED:
                self._requeue(other, taker, "the agent took a transferred call")
            elif other is not None:
                return  # one conversation per agent: the known one stands
        giver = self.agents.get(call.agent_id or "")
        call.agent_id = taker.id
        taker.call_id, taker.state_until, taker.connected_at = call.id, None, self._now
        self._set_state(taker, AgentState.ON_CALL, "took a transferred call")
        self._out.append(
            Transferred(
                at=self._now,
                reason=f"transferred by {giver.id if giver else 'an agent'}",
                call_id=call.id,
                agent_id=taker.id,
                from_agent=giver.id if giver else "",
            )
        )
        if giver is not None and giver.call_id == call.id:
            self._agent_done(giver, call)

    def _on_tick(self, e: Tick) -> None:
        now = self._now
        for agent in self.agents.values():
            if agent.cool_off_until is not None and agent.cool_off_until <= now:
                agent.cool_off_until = None  # the softphone is tried again
                self._index(agent)
                self._out.append(
                    DeviceNoted(
                        at=self._now, reason="cool-off over", agent_id=agent.id, device=agent.device
                    )
                )
                self._route_agent(agent)
            if agent.state_until is None or agent.state_until > now:
                continue
            if agent.state is AgentState.OFFERED and agent.call_id in self.calls:
                call = self.calls[agent.call_id]
                if call.node is not None and call.node in self._nodes_down:
                    continue  # its node's link is down: the ring's outcome is not heard yet
                self._out.append(
                    CancelOffer(
                        at=self._now,
                        reason="ring timeout",
                        call_id=call.id,
                        agent_id=agent.id,
                        why=CancelWhy.RING_TIMEOUT,
                    )
                )
                self._offer_failed(call, agent, OfferFailure.NO_ANSWER)
            elif agent.state is AgentState.WRAP_UP:
                agent.state_until = None
                self._set_state(agent, AgentState.AVAILABLE, "wrap-up over")
                self._route_agent(agent)
        for call in self.waiting_calls():
            if call.state is not CallState.WAITING:
                continue
            retry = False
            if call.not_before is not None and now >= call.not_before:
                call.not_before = None  # its retry (a callback's, a redelivery) is due
                retry = True
            queue = self.queues[call.queue]
            waited = now - call.enqueued_at
            while (
                call.step < len(queue.escalation) and waited >= queue.escalation[call.step].after_s
            ):
                call.step += 1
                retry = True
                self._out.append(
                    Escalated(
                        at=self._now,
                        reason=f"waited {waited:.0f} s: escalation step {call.step}",
                        call_id=call.id,
                        step=call.step,
                    )
                )
            if call.preferred_until is not None and now >= call.preferred_until:
                call.preferred_until = None
                retry = True
                self._out.append(
                    PreferenceExpired(
                        at=self._now,
                        reason="preferred agent did not take it in time: open to all",
                        call_id=call.id,
                        agent_id=call.preferred_agent,
                    )
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
            self._out.append(
                Overflowed(
                    at=self._now,
                    reason=f"max wait {queue.max_wait_s:g} s in {queue.name}:"
                    f" to {queue.overflow_to}",
                    call_id=call.id,
                    to=queue.overflow_to,
                )
            )
            return True
        self._out.append(
            MaxWaitReached(
                at=self._now,
                reason=f"max wait reached: {queue.max_wait_action}",
                call_id=call.id,
                action=queue.max_wait_action,
            )
        )
        return False
