"""Live configuration: the running engine takes a new configuration without a restart.

``Engine.handle(ConfigurationChanged(...))`` lands here. The change is the
whole configuration as it is to be (every queue, agent and engine setting,
already validated by ``acd.config.AcdModel``); it is taken whole or refused
whole, never half applied. The rules:

- a new agent appears logged out, their softphone unknown until Asterisk says;
- an agent left out goes only while logged out; otherwise the change is refused
  ("log them out first"): taking a seat away under a caller is never right, and
  a refusal the admin can act on is clearer than a removal pending somewhere;
- an agent's endpoint changes only while logged out (a call in progress rings or
  talks on the old softphone); name and skills change at any time, skills for the
  next routing decision, as a supervisor's change does;
- a queue's settings (skills, priority, strategy, service level, wrap-up, ring
  timeout, max wait, escalation...) apply to the next decision: waiting calls are
  re-ordered by the new priority and aging, a call's escalation step is capped by
  the new steps, and every free agent is offered what they may take now; a call
  already ringing keeps the ring timeout it was offered with;
- a queue left out goes only when no call is in it (waiting, ringing or talking:
  the wrap-up after a call reads its queue), else the change is refused;
- the engine settings (aging, VIP boost, reason codes, callbacks...) replace the
  old ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .effects import ConfigApplied, ConfigRefused, SkillsChanged
from .events import AgentSpec, ConfigurationChanged
from .model import Agent, AgentState, CallState, DeviceState
from .routing import EngineCore

if TYPE_CHECKING:
    from .config import AcdModel


def change_of(model: AcdModel, *, version: int = 0, by: str | None = None) -> ConfigurationChanged:
    """The event that brings the engine to a validated configuration."""
    return ConfigurationChanged(
        queues=tuple(q.build() for q in model.queues),
        agents=tuple(
            AgentSpec(a.id, a.name or a.id, a.endpoint, tuple(sorted(a.skills.items())))
            for a in model.agents
        ),
        settings=model.settings(),
        version=version,
        by=by,
    )


def refusal(engine: EngineCore, change: ConfigurationChanged) -> str | None:
    """Why the running engine cannot take ``change`` now (None: it can)."""
    problems: list[str] = []
    wanted = {a.id: a for a in change.agents}
    for agent in engine.agents.values():
        spec = wanted.get(agent.id)
        if agent.state is AgentState.LOGGED_OUT:
            continue
        if spec is None:
            problems.append(
                f"agent {agent.id} is {agent.state.value}: log them out before removing them"
            )
        elif spec.endpoint != agent.endpoint:
            problems.append(
                f"agent {agent.id} is {agent.state.value}:"
                " log them out before changing their endpoint"
            )
    endpoints: dict[str, str] = {}
    for spec in change.agents:
        other = endpoints.setdefault(spec.endpoint, spec.id)
        if other != spec.id:
            problems.append(f"agents {other} and {spec.id} have the same endpoint {spec.endpoint}")
    names = {q.name for q in change.queues}
    for name in engine.queues:
        if name in names:
            continue
        busy = sum(1 for c in engine.calls.values() if c.queue == name)
        if busy:
            problems.append(f"queue {name} has {busy} call(s): remove it when it is empty")
    return "; ".join(problems) or None


def reconfigure(engine: EngineCore, change: ConfigurationChanged) -> None:
    """Apply ``change`` to ``engine`` (inside ``Engine.handle``: effects go to its output)."""
    now = engine._now
    why = refusal(engine, change)
    if why is not None:
        engine._out.append(
            ConfigRefused(
                at=now, reason=f"configuration refused: {why}", version=change.version, by=change.by
            )
        )
        return
    old_queues, old_settings = engine.queues, engine.settings
    waiting = engine.waiting_calls()  # in the order they are served now

    # queues and settings: every index that derives from them is rebuilt
    engine.settings = change.settings
    engine.queues = {q.name: q for q in change.queues}
    engine._relaxed = {q.name: engine._relaxed_requirements(q) for q in change.queues}
    engine._opens = {q.name: any(s.open_to_queue for s in q.escalation) for q in change.queues}
    for name in set(engine._rr_last) - set(engine.queues):
        del engine._rr_last[name]
    for call in engine.calls.values():
        before, after = old_queues[call.queue], engine.queues[call.queue]
        call.priority += after.priority - before.priority
        call.step = min(call.step, len(after.escalation))
    engine._waiting = {name: [] for name in engine.queues}
    engine._keys = {}
    for call in waiting:  # re-keyed by the new priority and aging, ties in the old order
        engine._enqueue(call)

    # agents
    wanted = {a.id: a for a in change.agents}
    removed = [a for a in engine.agents if a not in wanted]
    for agent_id in removed:
        del engine.agents[agent_id]  # logged out (refusal() saw to it): in no index
        engine._servable.pop(agent_id, None)
    added: list[str] = []
    changed: list[str] = []
    reskilled: list[Agent] = []
    for spec in change.agents:
        agent = engine.agents.get(spec.id)
        if agent is None:
            agent = Agent(spec.id, spec.name, spec.endpoint, dict(spec.skills))
            agent.device = DeviceState.UNKNOWN  # until Asterisk says
            engine.agents[spec.id] = agent
            added.append(spec.id)
            continue
        skills = dict(spec.skills)
        if (agent.name, agent.endpoint, agent.skills) == (spec.name, spec.endpoint, skills):
            continue
        changed.append(spec.id)
        agent.name = spec.name
        if agent.endpoint != spec.endpoint:
            agent.endpoint = spec.endpoint  # logged out (refusal() saw to it)
            agent.device = DeviceState.UNKNOWN  # another softphone: until Asterisk says
            engine._index(agent)
        if agent.skills != skills:
            engine._reskill(agent, skills)
            reskilled.append(agent)
    engine.by_endpoint = {a.endpoint: a.id for a in engine.agents.values()}
    engine._servable = {a.id: engine._servable_by(a) for a in engine.agents.values()}

    queues_changed = tuple(
        q.name for q in change.queues if q.name in old_queues and old_queues[q.name] != q
    )
    by = f" (by {change.by})" if change.by else ""
    engine._out.append(
        ConfigApplied(
            at=now,
            reason=f"configuration version {change.version} applied{by}",
            version=change.version,
            by=change.by,
            queues_added=tuple(q.name for q in change.queues if q.name not in old_queues),
            queues_removed=tuple(n for n in old_queues if n not in engine.queues),
            queues_changed=queues_changed,
            agents_added=tuple(added),
            agents_removed=tuple(removed),
            agents_changed=tuple(changed),
            settings_changed=old_settings != change.settings,
        )
    )
    for agent in reskilled:
        shown = ", ".join(f"{s}={lvl}" for s, lvl in sorted(agent.skills.items())) or "none"
        engine._out.append(
            SkillsChanged(
                at=now,
                reason=f"skills now {shown} (configuration{by})",
                agent_id=agent.id,
                skills=dict(agent.skills),
                queues=engine.servable(agent.id),
            )
        )
    # the next decision: each waiting call, best first, to an agent who may take it now
    for call in engine.waiting_calls():
        if call.state is CallState.WAITING:
            engine._route_call(call)
