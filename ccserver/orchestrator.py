"""The orchestrator: the ACD engine kept in step with Asterisk (the routing plugin).

It is assembled from the routing plugin's parts in ``ccserver.routing``:
``state`` (the engine loop and correlation), ``delivery`` (effects → AMI
actions), ``translate`` (AMI events → ACD events) and ``resync`` (restore at
start, reconciliation after every resync); this module adds what the rest of
the server asks of routing: the agents' own actions, the snapshot for the API
and metrics, and the IVR's queue questions (expected wait, callbacks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd.effects import (
    Abandoned,
    Adopted,
    Connected,
    Effect,
    Refused,
    Transferred,
)
from acd.events import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    CallArrived,
    CallbackRequested,
    Event,
    WrapUpDone,
)
from acd.model import AgentState
from ivr.flow import QueueCallback

from .routing.delivery import Delivery
from .routing.resync import Resync
from .routing.translate import parse_skills

__all__ = ["SUPERVISOR_REASON", "ActionRefused", "Orchestrator", "parse_skills"]

# the reason code of a state a supervisor forced without naming one
SUPERVISOR_REASON = "supervisor"


class ActionRefused(Exception):
    """An agent's action that their state does not allow now (the reason says why)."""


class Orchestrator(Resync, Delivery):
    """Keeps the engine and Asterisk in step."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # agent id -> (call id, queue) of the call they took last (the desk files its
        # notes and wrap-up against it)
        self.last_calls: dict[str, tuple[str, str]] = {}
        self.disposed: dict[str, str] = {}  # agent id -> the call their last code went to

    def handle(self, event: Event) -> list[Effect]:
        effects = super().handle(event)
        for effect in effects:
            if isinstance(effect, Abandoned | Connected | Adopted) and effect.call_id:
                self.settle_unknown_wait(effect.call_id, abandoned=isinstance(effect, Abandoned))
            if isinstance(effect, Connected | Adopted | Transferred) and effect.agent_id:
                call = self.engine.calls.get(effect.call_id or "")
                queue = call.queue if call is not None else self.default_queue
                self.last_calls[effect.agent_id] = (effect.call_id or "", queue)
        return effects

    def last_call(self, agent_id: str) -> tuple[str, str] | None:
        """(call id, queue) of the call the agent is on or took last (None: none yet)."""
        return self.last_calls.get(agent_id)

    def needs_disposition(self, queue: str | None) -> bool:
        """Whether the queue wants a disposition code for each call (``disposition_required``)."""
        return any(q.name == queue and q.disposition_required for q in self.model.queues)

    def disposition_missing(self, agent_id: str) -> str | None:
        """The queue of the agent's last call if it wants a code the agent has not filed."""
        last = self.last_call(agent_id)
        if last is None or self.disposed.get(agent_id) == last[0]:
            return None
        return last[1] if self.needs_disposition(last[1]) else None

    # the live configuration stores a supervisor's skill change (agent, skills, by)
    skills_kept: Callable[[str, dict[str, int], str], None] | None = None

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
        # no line yet, so no node: any seat may take it, and the customer is rung from
        # the node of that seat's softphone (README "Scaling out")
        self.handle(
            CallArrived(
                cb.call_id, cb.queue, cb.number, cb.priority, cb.vip, skills, callback=cb.number
            )
        )
        call = self.engine.calls.get(cb.call_id)
        return call is not None and call.callback_number == cb.number

    def keep_place_for_callback(self, call_id: str, number: str) -> bool:
        """A waiting caller chose a callback: keep the place, hang up, call back."""
        self.handle(CallbackRequested(call_id, number))
        call = self.engine.calls.get(call_id)
        if call is None or call.callback_number != number:
            return False
        self._caller_channel.pop(call_id, None)  # this line hangs up; the callback replaces it
        return True

    def agent_action(self, agent_id: str, action: str, reason: str | None = None) -> list[Effect]:
        """login, logout, ready, not_ready (with a reason code), end_wrap_up.

        Raises ValueError for an unknown action or reason code, and
        :class:`ActionRefused` when the agent's state does not allow it.
        """
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
        agent = self.engine.agents.get(agent_id)
        wrapping_up = agent is not None and agent.state is AgentState.WRAP_UP
        if action in ("end_wrap_up", "ready") and wrapping_up:
            # the agent ends wrap-up (the timer running out is the engine's): not before
            # the code their queue wants is filed
            queue = self.disposition_missing(agent_id)
            if queue is not None:
                raise ActionRefused(f"queue {queue} needs a disposition code first")
        effects = self.handle(events[action]())
        refused = next((e for e in effects if isinstance(e, Refused)), None)
        if refused is not None:
            raise ActionRefused(refused.reason)
        if action == "login":
            # device truth at every login
            self._tasks.spawn(self.refresh_devices(), name="acd.refresh_devices")
        return effects

    def force_state(
        self, agent_id: str, action: str, by: str, reason: str | None = None
    ) -> list[Effect]:
        """A supervisor sets an agent not ready or logs them out.

        The reason code is the one given (a configured code) or ``supervisor``;
        ``by`` names the supervisor in the decision's reason. Raises ValueError
        for another action or code, :class:`ActionRefused` during a call.
        """
        code = reason or SUPERVISOR_REASON
        if code != SUPERVISOR_REASON and code not in self.model.reason_codes:
            raise ValueError(
                f"unknown reason code {code!r}; use one of {self.model.reason_codes}"
                f" or {SUPERVISOR_REASON!r}"
            )
        event: Event
        if action == "not_ready":
            event = AgentNotReady(agent_id, code, by=by)
        elif action == "logout":
            event = AgentLogout(agent_id, code, by=by)
        else:
            raise ValueError(f"a supervisor forces not_ready or logout, not {action!r}")
        effects = self.handle(event)
        refused = next((e for e in effects if isinstance(e, Refused)), None)
        if refused is not None:
            raise ActionRefused(refused.reason)
        return effects

    def known_skills(self) -> set[str]:
        """The skill names in use: those the queues ask for or some agent has."""
        names = {s for a in self.engine.agents.values() for s in a.skills}
        for q in self.engine.queues.values():
            names.update(s for s, _ in q.skills)
            for step in q.escalation:
                names.update(s for s, _ in step.add_skills)
        return names

    def change_skills(self, agent_id: str, skills: dict[str, int], by: str) -> list[Effect]:
        """Give an agent new skills, effective for the next routing decision.

        Raises ValueError for a skill name nobody uses (a typo would make an
        agent who serves nothing) or a level outside 1-10.
        """
        unknown = sorted(set(skills) - self.known_skills())
        if unknown:
            raise ValueError(f"unknown skills {unknown}; known: {sorted(self.known_skills())}")
        effects = self.handle(AgentSkillsChanged(agent_id, tuple(sorted(skills.items())), by=by))
        if self.skills_kept is not None:
            self.skills_kept(agent_id, dict(skills), by)  # so that a restart keeps them
        return effects

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
                "node": a.node,
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
            queue = self.engine.queues[name]
            queues.append(
                {
                    "name": name,
                    "waiting": len(waiting),
                    "longest_wait_s": round(
                        max((now - c.enqueued_at for c in waiting), default=0.0), 1
                    ),
                    "sl_target": queue.sl_target,
                    "sl_threshold_s": queue.sl_threshold_s,
                    "max_wait_s": queue.max_wait_s,
                }
            )
        return {"agents": agents, "queues": queues, "corrections": self.corrections}
