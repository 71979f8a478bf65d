"""Where calls and agents meet: the ACD's state, its indexes and the routing rules.

``EngineCore`` holds the waiting calls (one sorted list per queue, keyed by
effective priority), the routable agents indexed by skill, and the rules that
pick the best call for an agent and the best agent for a call and make the
offer. ``acd.engine.Engine`` builds on it with what each event does; see its
docstring for the theory of operation.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from .effects import (
    AgentStateChanged,
    Effect,
    Offer,
    Refused,
)
from .model import (
    Agent,
    AgentState,
    Call,
    CallState,
    EscalationStep,
    QueueConfig,
    Strategy,
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
    # a call ccserver could not deliver (mostly: its line is gone and the Hangup is not
    # read yet) is offered again after this, not at once and over again meanwhile
    redeliver_s: float = 0.5
    # queue callbacks: the agent is reserved while the customer is called
    callback_answer_s: float = 30.0  # time the customer has to answer
    callback_attempts: int = 3
    callback_retry_s: float = 120.0  # between unanswered attempts


Requirements = dict[str, int]


class EngineCore:
    """The routing state, its queries, and the routing rules the event handlers use."""

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
        self._out: list[Effect] = []
        self._now = 0.0
        self._nodes_down: set[str] = set()  # Asterisk nodes whose AMI link is down
        # per agent, the queues whose calls could ever be theirs (until their skills change)
        self._servable = {a.id: self._servable_by(a) for a in self.agents.values()}
        for agent in self.agents.values():
            self._index(agent)

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
        need = dict(queue.skills) | dict(call.extra_skills)
        return _relax(need, queue.escalation[: call.step], adds=True)

    def eligible(self, agent: Agent, call: Call) -> bool:
        """Whether the agent may be offered this call now (skills and preference)."""
        if not agent.routable:
            return False
        if call.not_before is not None and self._now < call.not_before:
            return False
        if call.node is not None:
            if call.node in self._nodes_down:
                return False
            if (
                agent.node is not None
                and agent.node != call.node
                and not self.queues[call.queue].cross_node
            ):
                return False  # a seat on another node, and the queue keeps calls on theirs
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
        until = agent.state_until if state is AgentState.WRAP_UP else None
        self._out.append(
            AgentStateChanged(
                at=self._now, reason=why, agent_id=agent.id, state=state, code=reason, until=until
            )
        )

    def _servable_by(self, agent: Agent) -> tuple[str, ...]:
        return tuple(n for n in self.queues if _meets(agent, self._relaxed[n]) or self._opens[n])

    def _reskill(self, agent: Agent, skills: Requirements) -> None:
        """Give the agent new skills: re-index them and the queues they may serve."""
        if agent.id in self._routable:  # out of the old skills' sets, into the new ones'
            self._routable.discard(agent.id)
            for skill in agent.skills:
                self._routable_by_skill.get(skill, set()).discard(agent.id)
        agent.skills = dict(skills)
        self._servable[agent.id] = self._servable_by(agent)
        self._index(agent)

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
        self._out.append(
            Offer(
                at=self._now,
                reason=f"{queue.strategy.value} pick in {queue.name}"
                f" (needs {skills}; step {call.step})",
                call_id=call.id,
                agent_id=agent.id,
                endpoint=agent.endpoint,
                ring_timeout_s=queue.ring_timeout_s,
                callback=call.callback_number,
                waited_s=round(self._now - call.enqueued_at, 3),
                node=agent.node,
                call_node=call.node,
            )
        )

    def _refuse(self, agent: Agent, why: str) -> None:
        self._out.append(
            Refused(at=self._now, reason=why, call_id=agent.call_id, agent_id=agent.id)
        )

    @staticmethod
    def _relaxed_requirements(queue: QueueConfig) -> Requirements:
        """The least any call of the queue will ever need (for a quick skip): every
        step's drops and lowered levels, none of the skills a step adds."""
        return _relax(dict(queue.skills), queue.escalation, adds=False)[0]


def _relax(
    need: Requirements, steps: Iterable[EscalationStep], *, adds: bool
) -> tuple[Requirements, tuple[str, ...]]:
    """Requirements after escalation ``steps`` (the one relaxation rule), and the
    queues those steps opened the call to."""
    opened: list[str] = []
    for step in steps:
        for skill in step.drop_skills:
            need.pop(skill, None)
        if step.lower_levels_by:
            need = {s: max(1, lvl - step.lower_levels_by) for s, lvl in need.items()}
        if adds:
            need.update(step.add_skills)
        if step.open_to_queue:
            opened.append(step.open_to_queue)
    return need, tuple(opened)


def _meets(agent: Agent, need: Requirements) -> bool:
    skills = agent.skills
    return all(skills.get(s, 0) >= lvl for s, lvl in need.items())
