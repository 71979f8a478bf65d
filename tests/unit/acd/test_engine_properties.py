"""Properties of the ACD engine under random traffic (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.engine import Engine
from acd.events import (
    AgentLogin,
    AgentNotReady,
    AgentReady,
    AgentRestored,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    CallTransferred,
    DeviceChanged,
    Event,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
    Tick,
    WrapUpDone,
)
from acd.model import Agent, AgentState, CallState, DeviceState, EscalationStep, QueueConfig

SKILLS = ("billing", "tech", "sales")
QUEUES = [
    QueueConfig(
        "billing",
        (("billing", 4),),
        wrap_up_s=5,
        escalation=(
            EscalationStep(20, lower_levels_by=2),
            EscalationStep(40, open_to_queue="sales"),
        ),
    ),
    QueueConfig(
        "tech",
        (("tech", 6), ("billing", 1)),
        wrap_up_s=0,
        escalation=(EscalationStep(15, drop_skills=frozenset({"billing"})),),
    ),
    QueueConfig("sales", (("sales", 3),), wrap_up_s=3),
]

agents_st = st.lists(
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), min_size=1),
    min_size=1,
    max_size=6,
)
step_st = st.tuples(
    st.sampled_from(
        [
            "arrive",
            "abandon",
            "answer",
            "fail",
            "end",
            "tick",
            "ready",
            "notready",
            "wrapdone",
            "device",
            "adopt",
            "restore",
            "transfer",
        ]
    ),
    st.integers(0, 30),
    st.floats(0, 12),
    st.sampled_from(["billing", "tech", "sales"]),
    st.booleans(),
)


def build(skills: list[dict[str, int]]) -> Engine:
    agents = [Agent(f"a{i}", f"A{i}", f"10{i:02d}", dict(s)) for i, s in enumerate(skills)]
    engine = Engine(QUEUES, agents)
    for a in agents:
        engine.handle(AgentLogin(a.id), 0.0)
        engine.handle(AgentReady(a.id), 0.0)
    return engine


def event_for(engine: Engine, step: tuple[str, int, float, str, bool], n: int) -> Event:
    kind, pick, _, queue, flag = step
    calls = sorted(engine.calls)
    agents = sorted(engine.agents)
    call = calls[pick % len(calls)] if calls else None
    agent = agents[pick % len(agents)]
    offered = [c for c in engine.calls.values() if c.state is CallState.OFFERED]
    connected = [c for c in engine.calls.values() if c.state is CallState.CONNECTED]
    if kind == "answer" and offered:
        c = offered[pick % len(offered)]
        return OfferAnswered(c.id, c.agent_id or "")
    if kind == "fail" and offered:
        c = offered[pick % len(offered)]
        why = list(OfferFailure)[pick % len(OfferFailure)]
        return OfferFailed(c.id, c.agent_id or "", why)
    if kind == "end" and connected:
        return CallEnded(connected[pick % len(connected)].id)
    if kind == "abandon" and call:
        return CallAbandoned(call)
    if kind == "ready":
        return AgentReady(agent)
    if kind == "notready":
        return AgentNotReady(agent, "break")
    if kind == "wrapdone":
        return WrapUpDone(agent)
    if kind == "device":
        return DeviceChanged(agent, DeviceState.OK if flag else DeviceState.UNREGISTERED)
    if kind == "transfer" and connected:
        return CallTransferred(connected[pick % len(connected)].id, agent)
    if kind == "adopt" and call:
        # Asterisk shows a call talking to an agent the ACD did not see connect
        return CallAdopted(call, engine.calls[call].queue, agent, connected_at=0.0)
    if kind == "restore":
        states = (AgentState.LOGGED_OUT, AgentState.AVAILABLE, AgentState.NOT_READY)
        return AgentRestored(agent, states[pick % 3], "break" if pick % 3 == 2 else None)
    if kind == "arrive":
        return CallArrived(f"c{n}", queue, caller=f"55{pick}", vip=flag and pick % 5 == 0)
    return Tick()


def check_invariants(engine: Engine, decisions: list, now: float) -> None:  # type: ignore[type-arg]
    holders: dict[str, str] = {}
    for call in engine.calls.values():
        if call.state in (CallState.OFFERED, CallState.CONNECTED):
            assert call.agent_id is not None
            assert call.agent_id not in holders, "an agent holds two calls"
            holders[call.agent_id] = call.id
    for agent in engine.agents.values():
        if agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            assert holders.get(agent.id) == agent.call_id
    for d in decisions:
        if d.kind == "offer":
            call, agent = engine.calls[d.call_id], engine.agents[d.agent_id]
            need, opened = engine.requirements(call)
            meets = all(agent.skills.get(s, 0) >= lvl for s, lvl in need.items())
            via = any(
                all(agent.skills.get(s, 0) >= lvl for s, lvl in engine.queues[q].skills)
                for q in opened
            )
            assert meets or via, "offered to an agent lacking the skills of the call's step"
    # greedy completeness: no routable agent idles beside a waiting call it may take
    for call in engine.waiting_calls():
        for agent in engine.agents.values():
            assert not engine.eligible(agent, call), f"{call.id} waits while {agent.id} is free"


@settings(max_examples=150, deadline=None)
@given(skills=agents_st, steps=st.lists(step_st, max_size=60))
def test_routing_invariants_hold_under_random_traffic(
    skills: list[dict[str, int]], steps: list[tuple[str, int, float, str, bool]]
) -> None:
    engine = build(skills)
    now = 0.0
    for n, step in enumerate(steps):
        now += step[2]
        decisions = engine.handle(event_for(engine, step, n), now)
        check_invariants(engine, decisions, now)


@settings(max_examples=100, deadline=None)
@given(arrivals=st.lists(st.floats(0.01, 5), min_size=2, max_size=25), n_agents=st.integers(1, 4))
def test_equal_priority_calls_are_served_first_in_first_out(
    arrivals: list[float], n_agents: int
) -> None:
    engine = Engine(
        [QueueConfig("q", (("s", 1),), wrap_up_s=0)],
        [Agent(f"a{i}", "", f"1{i}", {"s": 5}) for i in range(n_agents)],
    )
    for i in range(n_agents):
        engine.handle(AgentLogin(f"a{i}"), 0)
    now, order = 0.0, []
    for i, gap in enumerate(arrivals):
        now += gap
        engine.handle(CallArrived(f"c{i:03d}", "q"), now)
    for i in range(n_agents):
        order += [d.call_id for d in engine.handle(AgentReady(f"a{i}"), now) if d.kind == "offer"]
    while engine.calls:
        now += 1
        offered = [c for c in engine.calls.values() if c.state is CallState.OFFERED]
        for call in offered:
            engine.handle(OfferAnswered(call.id, call.agent_id or ""), now)
            order += [
                d.call_id for d in engine.handle(CallEnded(call.id), now) if d.kind == "offer"
            ]
    assert order == sorted(order)


@settings(max_examples=100, deadline=None)
@given(waits=st.lists(st.floats(0, 100), min_size=1, max_size=10))
def test_no_call_waits_a_whole_step_beside_an_eligible_agent(waits: list[float]) -> None:
    """Escalation reaches the waiting call on the first tick after its step begins."""
    engine = Engine(
        [QueueConfig("q", (("s", 9),), escalation=(EscalationStep(30, lower_levels_by=5),))],
        [Agent("a", "", "10", {"s": 4})],
    )
    engine.handle(AgentLogin("a"), 0)
    engine.handle(AgentReady("a"), 0)
    engine.handle(CallArrived("c", "q"), 0)
    now = 0.0
    for wait in sorted(waits):
        now = wait
        decisions = engine.handle(Tick(), now)
        offered = any(d.kind == "offer" for d in decisions)
        if now < 30:
            assert not offered and engine.calls["c"].state is CallState.WAITING
        if now >= 30:
            assert engine.calls["c"].state is CallState.OFFERED
            break
