"""The live configuration's apply step: the running engine takes a new configuration."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import AcdModel
from acd.effects import ConfigApplied, ConfigRefused, Effect, Offer, SkillsChanged
from acd.engine import Engine, EngineSettings
from acd.events import (
    AgentLogin,
    AgentLogout,
    AgentReady,
    AgentSpec,
    CallAbandoned,
    CallArrived,
    CallEnded,
    ConfigurationChanged,
    DeviceChanged,
    OfferAnswered,
    Tick,
)
from acd.model import Agent, AgentState, CallState, DeviceState, EscalationStep, QueueConfig
from acd.reconfigure import change_of

SALES = QueueConfig("sales", (("sales", 3),), wrap_up_s=0)
TECH = QueueConfig("tech", (("tech", 5),), wrap_up_s=0)
AGENTS = (AgentSpec("a", "A", "1001", (("sales", 5),)), AgentSpec("b", "B", "1002", ()))


def floor() -> Engine:
    eng = Engine([SALES, TECH], [Agent(s.id, s.name, s.endpoint, dict(s.skills)) for s in AGENTS])
    for agent in ("a", "b"):
        eng.handle(AgentLogin(agent), 0)
        eng.handle(AgentReady(agent), 0)
    return eng


def change(
    queues: tuple[QueueConfig, ...] = (SALES, TECH),
    agents: tuple[AgentSpec, ...] = AGENTS,
    engine_settings: EngineSettings | None = None,
    version: int = 2,
) -> ConfigurationChanged:
    return ConfigurationChanged(
        queues, agents, engine_settings or EngineSettings(), version, "root"
    )


def offers(effects: list[Effect]) -> list[tuple[str | None, str | None]]:
    return [(e.call_id, e.agent_id) for e in effects if isinstance(e, Offer)]


def test_a_new_agent_appears_logged_out_and_takes_a_call_once_ready() -> None:
    eng = floor()
    assert offers(eng.handle(CallArrived("t1", "tech"), 1)) == []  # nobody has tech
    effects = eng.handle(change(agents=(*AGENTS, AgentSpec("c", "C", "1003", (("tech", 7),)))), 2)
    [applied] = [e for e in effects if isinstance(e, ConfigApplied)]
    assert applied.agents_added == ("c",) and applied.version == 2
    assert applied.payload()["agents_added"] == ("c",) and "by root" in applied.reason
    new = eng.agents["c"]
    assert (new.state, new.device) == (AgentState.LOGGED_OUT, DeviceState.UNKNOWN)
    assert eng.by_endpoint["1003"] == "c" and eng.servable("c") == ("tech",)
    eng.handle(DeviceChanged("c", DeviceState.OK), 3)  # Asterisk says the softphone is there
    eng.handle(AgentLogin("c"), 3)
    assert offers(eng.handle(AgentReady("c"), 4)) == [("t1", "c")]


def test_a_removed_agent_goes_when_logged_out_and_is_refused_while_logged_in() -> None:
    eng = floor()
    [refused] = eng.handle(change(agents=AGENTS[:1]), 1)
    assert isinstance(refused, ConfigRefused)
    assert "agent b is available: log them out before removing them" in refused.reason
    assert "b" in eng.agents  # nothing of it applied
    eng.handle(AgentLogout("b"), 2)
    [applied] = eng.handle(change(agents=AGENTS[:1]), 3)
    assert isinstance(applied, ConfigApplied) and applied.agents_removed == ("b",)
    assert "b" not in eng.agents and "1002" not in eng.by_endpoint


def test_an_endpoint_changes_only_while_logged_out() -> None:
    eng = floor()
    moved = (AGENTS[0], dataclasses.replace(AGENTS[1], endpoint="2002"))
    [refused] = eng.handle(change(agents=moved), 1)
    assert isinstance(refused, ConfigRefused) and "changing their endpoint" in refused.reason
    eng.handle(AgentLogout("b"), 2)
    [applied] = eng.handle(change(agents=moved), 3)
    assert isinstance(applied, ConfigApplied) and applied.agents_changed == ("b",)
    assert eng.by_endpoint == {"1001": "a", "2002": "b"}
    assert eng.agents["b"].device is DeviceState.UNKNOWN  # another softphone: not known yet


def test_two_agents_on_one_endpoint_are_refused() -> None:
    eng = floor()
    [refused] = eng.handle(change(agents=(*AGENTS, AgentSpec("c", "C", "1001", ()))), 1)
    assert isinstance(refused, ConfigRefused) and "same endpoint 1001" in refused.reason


def test_skills_changed_in_the_configuration_route_a_waiting_call_at_once() -> None:
    eng = floor()
    eng.handle(CallArrived("t1", "tech"), 1)
    skilled = (AGENTS[0], dataclasses.replace(AGENTS[1], skills=(("tech", 6),)))
    effects = eng.handle(change(agents=skilled), 2)
    [changed] = [e for e in effects if isinstance(e, SkillsChanged)]
    assert changed.agent_id == "b" and changed.skills == {"tech": 6}
    assert changed.queues == ("tech",) and "configuration (by root)" in changed.reason
    assert offers(effects) == [("t1", "b")]


def test_a_queues_new_skills_apply_to_the_call_already_waiting() -> None:
    eng = floor()
    eng.handle(CallArrived("t1", "tech"), 1)
    easier = dataclasses.replace(TECH, skills=(("sales", 1),))
    effects = eng.handle(change(queues=(SALES, easier)), 2)
    [applied] = [e for e in effects if isinstance(e, ConfigApplied)]
    assert applied.queues_changed == ("tech",)
    assert offers(effects) == [("t1", "a")]  # a has sales: longest idle of a and b? a only
    assert eng.servable("a") == ("sales", "tech")


def test_queue_settings_apply_to_the_next_decision() -> None:
    eng = floor()
    slower = dataclasses.replace(SALES, ring_timeout_s=40, wrap_up_s=12)
    eng.handle(change(queues=(slower, TECH)), 1)
    [offer] = [e for e in eng.handle(CallArrived("s1", "sales"), 2) if isinstance(e, Offer)]
    assert offer.ring_timeout_s == 40
    eng.handle(OfferAnswered("s1", "a"), 3)
    eng.handle(CallEnded("s1"), 10)
    assert eng.agents["a"].state is AgentState.WRAP_UP and eng.agents["a"].state_until == 22


def test_a_new_priority_reorders_the_calls_already_waiting() -> None:
    eng = Engine([SALES, TECH], [Agent("x", "X", "1", {"sales": 5, "tech": 9})])
    eng.handle(CallArrived("s1", "sales"), 1)
    eng.handle(CallArrived("t1", "tech"), 2)
    assert [c.id for c in eng.waiting_calls()] == ["s1", "t1"]
    urgent = dataclasses.replace(TECH, priority=5)
    eng.handle(
        ConfigurationChanged((SALES, urgent), (AgentSpec("x", "X", "1", ()),), EngineSettings()), 3
    )
    assert [c.id for c in eng.waiting_calls()] == ["t1", "s1"]
    eng.handle(CallArrived("t2", "tech"), 4)
    assert eng.calls["t2"].priority == 5  # a new call takes the new priority too


def test_an_escalation_step_removed_caps_the_calls_step() -> None:
    stepped = dataclasses.replace(TECH, escalation=(EscalationStep(10, lower_levels_by=2),))
    eng = Engine([SALES, stepped], [])
    eng.handle(CallArrived("t1", "tech"), 0)
    eng.handle(Tick(), 11)
    assert eng.calls["t1"].step == 1
    eng.handle(ConfigurationChanged((SALES, TECH), (), EngineSettings()), 12)
    assert eng.calls["t1"].step == 0
    assert eng.requirements(eng.calls["t1"])[0] == {"tech": 5}


def test_a_queue_with_calls_is_not_removed_an_empty_one_is_and_one_is_added() -> None:
    eng = floor()
    eng.handle(CallArrived("t1", "tech"), 1)
    billing = QueueConfig("billing", (("billing", 1),))
    [refused] = eng.handle(change(queues=(SALES, billing)), 2)
    assert isinstance(refused, ConfigRefused)
    assert "queue tech has 1 call(s)" in refused.reason and "billing" not in eng.queues
    eng.handle(CallAbandoned("t1"), 3)
    [applied] = eng.handle(change(queues=(SALES, billing)), 4)
    assert isinstance(applied, ConfigApplied)
    assert (applied.queues_added, applied.queues_removed) == (("billing",), ("tech",))
    assert list(eng.queues) == ["sales", "billing"]
    assert eng.handle(CallArrived("b1", "billing"), 5)[0].kind == "queued"


def test_a_talking_call_keeps_its_queue_and_a_removed_agents_name_is_free() -> None:
    eng = floor()
    eng.handle(CallArrived("s1", "sales"), 1)
    eng.handle(OfferAnswered("s1", "a"), 2)
    [refused] = eng.handle(change(queues=(TECH,)), 3)
    assert isinstance(refused, ConfigRefused) and "queue sales has 1 call(s)" in refused.reason
    assert "agent a is on_call" in eng.handle(change(agents=AGENTS[1:]), 3)[0].reason


def test_engine_settings_and_reason_codes_replace_the_old_ones() -> None:
    eng = floor()
    new = EngineSettings(aging_s=10, reason_codes=("meeting",))
    [applied] = eng.handle(change(engine_settings=new), 1)
    assert isinstance(applied, ConfigApplied) and applied.settings_changed
    assert eng.settings.reason_codes == ("meeting",)


def test_the_same_configuration_changes_nothing_but_is_recorded() -> None:
    eng = floor()
    [applied] = eng.handle(change(), 1)
    assert isinstance(applied, ConfigApplied)
    assert applied.payload()["agents_changed"] == () and not applied.settings_changed


def test_change_of_builds_the_event_from_the_validated_model() -> None:
    model = AcdModel.model_validate(
        {
            "reason_codes": ["lunch"],
            "queues": [{"name": "q", "skills": {"s": 2}, "ring_timeout_s": 9}],
            "agents": [{"id": "x", "endpoint": "1001", "skills": {"s": 3}}],
        }
    )
    event = change_of(model, version=7, by="root")
    assert event.queues == (model.queues[0].build(),)
    assert event.agents == (AgentSpec("x", "x", "1001", (("s", 3),)),)
    assert event.settings.reason_codes == ("lunch",) and event.version == 7


# --- properties ------------------------------------------------------------------------

SKILLS = ("sales", "tech")
queue_st = st.builds(
    lambda name, skill, level, prio, ring: QueueConfig(
        name, ((skill, level),), priority=prio, ring_timeout_s=ring, wrap_up_s=0
    ),
    st.sampled_from(["sales", "tech", "misc"]),
    st.sampled_from(SKILLS),
    st.integers(1, 10),
    st.integers(-2, 2),
    st.floats(1, 30),
)
agent_st = st.builds(
    lambda n, skills: AgentSpec(f"a{n}", f"A{n}", f"10{n:02d}", tuple(sorted(skills.items()))),
    st.integers(0, 5),
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10)),
)
config_st = st.builds(
    lambda qs, ags: (
        tuple({q.name: q for q in qs}.values()),
        tuple({a.id: a for a in ags}.values()),
    ),
    st.lists(queue_st, min_size=1, max_size=3),
    st.lists(agent_st, max_size=5),
)
step_st = st.one_of(
    st.tuples(st.just("arrive"), st.sampled_from(["sales", "tech", "misc"])),
    st.tuples(st.just("answer"), st.integers(0, 9)),
    st.tuples(st.just("end"), st.integers(0, 9)),
    st.tuples(st.just("login"), st.integers(0, 5)),
    st.tuples(st.just("logout"), st.integers(0, 5)),
    st.tuples(st.just("configure"), config_st),
)


def _invariants(eng: Engine) -> None:
    holders: dict[str, str] = {}
    for call in eng.calls.values():
        assert call.queue in eng.queues, "a call in a queue that is gone"
        if call.state in (CallState.OFFERED, CallState.CONNECTED):
            assert call.agent_id in eng.agents, "a call held by an agent who is gone"
            assert call.agent_id not in holders
            holders[call.agent_id] = call.id
    assert eng.by_endpoint == {a.endpoint: a.id for a in eng.agents.values()}
    for agent in eng.agents.values():
        assert eng.servable(agent.id) == eng._servable_by(agent)
    for call in eng.waiting_calls():
        for agent in eng.agents.values():
            assert not eng.eligible(agent, call), f"{call.id} waits while {agent.id} is free"


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step_st, max_size=40))
def test_the_floor_stays_whole_through_random_reconfigurations(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    eng = Engine([SALES, TECH], [])
    now = 0.0
    for n, (kind, arg) in enumerate(steps):
        now += 1
        calls = sorted(eng.calls)
        agents = sorted(eng.agents)
        event: object = Tick()
        if kind == "arrive" and arg in eng.queues:
            event = CallArrived(f"c{n}", arg)
        elif kind == "answer" and calls:
            call = eng.calls[calls[arg % len(calls)]]
            if call.state is CallState.OFFERED:
                event = OfferAnswered(call.id, call.agent_id or "")
        elif kind == "end" and calls:
            event = CallEnded(calls[arg % len(calls)])
        elif kind in ("login", "logout") and agents:
            agent = agents[arg % len(agents)]
            event = AgentLogin(agent) if kind == "login" else AgentLogout(agent)
            if kind == "login":
                eng.handle(AgentLogin(agent), now)
                event = AgentReady(agent)
        elif kind == "configure":
            queues, specs = arg
            before = (dict(eng.queues), set(eng.agents))
            effects = eng.handle(change(queues, specs), now)
            if isinstance(effects[0], ConfigRefused):
                assert (dict(eng.queues), set(eng.agents)) == before  # refused whole
            else:
                assert list(eng.queues) == [q.name for q in queues]
                assert set(eng.agents) == {a.id for a in specs}
                for spec in specs:
                    assert eng.agents[spec.id].skills == dict(spec.skills)
                for agent in specs:  # new softphones: Asterisk says they are there
                    if eng.agents[agent.id].device is DeviceState.UNKNOWN:
                        eng.handle(DeviceChanged(agent.id, DeviceState.OK), now)
            _invariants(eng)
            continue
        eng.handle(event, now)  # type: ignore[arg-type]
        _invariants(eng)
