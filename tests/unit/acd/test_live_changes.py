"""A supervisor's live changes: an agent's skills changed, a state forced with a reason."""

from __future__ import annotations

import pytest

from acd.effects import AgentStateChanged, Offer, Refused, SkillsChanged
from acd.engine import Engine, UnknownEntity
from acd.events import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentSkillsChanged,
    CallArrived,
    OfferAnswered,
)
from acd.model import Agent, AgentState, QueueConfig


def floor() -> Engine:
    queues = [QueueConfig("sales", (("sales", 3),)), QueueConfig("tech", (("tech", 5),))]
    eng = Engine(queues, [Agent("a", "A", "1001", {"sales": 5}), Agent("b", "B", "1002", {})])
    for agent in ("a", "b"):
        eng.handle(AgentLogin(agent), 0)
        eng.handle(AgentReady(agent), 0)
    return eng


def offers(effects: list) -> list[tuple[str | None, str | None]]:  # type: ignore[type-arg]
    return [(e.call_id, e.agent_id) for e in effects if isinstance(e, Offer)]


def test_a_new_skill_routes_the_waiting_call_to_the_agent_at_once() -> None:
    eng = floor()
    assert eng.servable("b") == ()
    assert offers(eng.handle(CallArrived("c1", "tech"), 1)) == []  # nobody has tech
    effects = eng.handle(AgentSkillsChanged("b", (("tech", 6),), by="sue"), 2)
    changed = [e for e in effects if isinstance(e, SkillsChanged)]
    assert changed[0].skills == {"tech": 6} and changed[0].queues == ("tech",)
    assert "by sue" in changed[0].reason
    assert offers(effects) == [("c1", "b")]


def test_a_skill_taken_away_is_out_of_the_index_for_the_next_call() -> None:
    eng = floor()
    eng.handle(AgentSkillsChanged("a", (("tech", 5),)), 1)
    assert eng.servable("a") == ("tech",)
    assert offers(eng.handle(CallArrived("s1", "sales"), 2)) == []  # a has no sales now
    assert offers(eng.handle(CallArrived("t1", "tech"), 3)) == [("t1", "a")]


def test_skills_changed_while_busy_apply_when_the_agent_is_free() -> None:
    eng = floor()
    eng.handle(CallArrived("s1", "sales"), 1)
    eng.handle(OfferAnswered("s1", "a"), 2)
    eng.handle(AgentSkillsChanged("a", (("sales", 5), ("tech", 9))), 3)
    assert offers(eng.handle(CallArrived("t1", "tech"), 4)) == []  # a is on a call
    assert eng.agents["a"].state is AgentState.ON_CALL
    eng.handle(AgentNotReady("b", "break"), 5)
    eng.handle(AgentSkillsChanged("b", (("tech", 9),)), 6)  # b not ready: no offer yet
    assert offers(eng.handle(AgentReady("b"), 7)) == [("t1", "b")]


def test_levels_outside_one_to_ten_and_unknown_agents_are_refused() -> None:
    eng = floor()
    with pytest.raises(ValueError, match="1-10"):
        eng.handle(AgentSkillsChanged("a", (("tech", 11),)), 1)
    assert eng.agents["a"].skills == {"sales": 5}
    with pytest.raises(UnknownEntity):
        eng.handle(AgentSkillsChanged("nobody", ()), 1)


def test_a_forced_state_keeps_the_supervisors_reason_and_name() -> None:
    eng = floor()
    [nr] = eng.handle(AgentNotReady("a", "supervisor", by="sue"), 1)
    assert isinstance(nr, AgentStateChanged)
    assert (nr.state, nr.code) == (AgentState.NOT_READY, "supervisor")
    assert nr.reason == "not ready: supervisor (by sue)"
    [out] = eng.handle(AgentLogout("b", "supervisor", by="sue"), 2)
    assert isinstance(out, AgentStateChanged)
    assert (out.state, out.code, out.reason) == (
        AgentState.LOGGED_OUT,
        "supervisor",
        "logged out (by sue)",
    )
    assert eng.agents["b"].reason == "supervisor"
    # during a call, forced or not, the state stays: the API answers 409
    eng.handle(AgentReady("a"), 3)
    eng.handle(CallArrived("s1", "sales"), 4)
    refused = eng.handle(AgentLogout("a", "supervisor", by="sue"), 5)
    assert isinstance(refused[0], Refused)
