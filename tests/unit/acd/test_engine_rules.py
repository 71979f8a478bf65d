"""Each routing rule of the ACD, by example."""

from __future__ import annotations

import pytest

from acd.effects import Offer, Refused, Transferred
from acd.engine import Engine, EngineSettings, UnknownEntity
from acd.events import (
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentRestored,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    CallTransferred,
    DeviceChanged,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
    Tick,
    WrapUpDone,
)
from acd.model import Agent, AgentState, CallState, DeviceState, QueueConfig, Strategy


def engine_with(
    *agents: Agent, strategy: Strategy = Strategy.LONGEST_IDLE, **queue: object
) -> Engine:
    q = QueueConfig("q", (("s", 3),), strategy=strategy, **queue)  # type: ignore[arg-type]
    eng = Engine([q, QueueConfig("spill", (("s", 1),))], list(agents))
    for a in agents:
        eng.handle(AgentLogin(a.id), 0)
    return eng


def offers(decisions: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(d.call_id, d.agent_id) for d in decisions if d.kind == "offer"]


def agent(i: str, level: int = 5, **kw: object) -> Agent:
    return Agent(i, i, f"1{i}", {"s": level}, **kw)  # type: ignore[arg-type]


def test_vip_jumps_the_queue() -> None:
    eng = engine_with(agent("a"))
    eng.handle(CallArrived("normal", "q", "1"), 1)
    eng.handle(CallArrived("vip", "q", "2", vip=True), 2)
    assert offers(eng.handle(AgentReady("a"), 3)) == [("vip", "a")]


def test_aging_lets_an_old_call_overtake_a_higher_priority() -> None:
    eng = Engine([QueueConfig("q", ())], [agent("a")], EngineSettings(aging_s=10))
    eng.handle(AgentLogin("a"), 0)
    eng.handle(CallArrived("old", "q"), 0)
    eng.handle(CallArrived("urgent", "q", priority=2), 25)  # 2 points < 25 s / 10
    assert offers(eng.handle(AgentReady("a"), 26)) == [("old", "a")]


def test_preferred_agent_first_then_anyone_after_the_timeout() -> None:
    eng = engine_with(agent("a"), agent("b"), preferred_agent_timeout_s=20)
    eng.handle(AgentReady("a"), 0)
    eng.handle(AgentNotReady("b", "lunch"), 0)
    assert offers(eng.handle(CallArrived("c", "q", "1", preferred_agent="b"), 1)) == []
    assert offers(eng.handle(Tick(), 10)) == []
    assert offers(eng.handle(Tick(), 21)) == [("c", "a")]


def test_no_answer_puts_the_agent_not_ready_and_the_call_keeps_its_place() -> None:
    eng = engine_with(agent("a"), agent("b"))
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("first", "q"), 1)
    eng.handle(CallArrived("second", "q"), 2)
    eng.handle(OfferFailed("first", "a", OfferFailure.NO_ANSWER), 5)
    assert eng.agents["a"].state is AgentState.NOT_READY and eng.agents["a"].reason == "no answer"
    assert [c.id for c in eng.waiting_calls("q")] == ["first", "second"]
    assert offers(eng.handle(AgentReady("b"), 6)) == [("first", "b")]


def test_ring_timeout_is_enforced_by_the_engine_too() -> None:
    eng = engine_with(agent("a"), ring_timeout_s=10)
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c", "q"), 0)
    kinds = [d.kind for d in eng.handle(Tick(), 11)]
    assert "cancel_offer" in kinds and eng.calls["c"].state is CallState.WAITING


def test_caller_hangup_while_ringing_cancels_the_offer() -> None:
    eng = engine_with(agent("a"))
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c", "q"), 0)
    decisions = eng.handle(CallAbandoned("c"), 3)
    assert next(d.kind for d in decisions) == "cancel_offer"
    assert eng.agents["a"].state is AgentState.AVAILABLE and "c" not in eng.calls


def test_abandon_resume_gives_back_the_place() -> None:
    eng = engine_with(agent("a"))
    eng.handle(CallArrived("x", "q", "5550001"), 10)
    eng.handle(CallArrived("y", "q", "5550002"), 20)
    eng.handle(CallAbandoned("x"), 30)
    decisions = eng.handle(CallArrived("x2", "q", "5550001"), 60)
    assert "resumed" in [d.kind for d in decisions]
    assert [c.id for c in eng.waiting_calls("q")] == ["x2", "y"]


def test_wrap_up_then_available_or_ended_early() -> None:
    eng = engine_with(agent("a"), wrap_up_s=30)
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c1", "q"), 0)
    eng.handle(OfferAnswered("c1", "a"), 2)
    eng.handle(CallArrived("c2", "q"), 3)
    eng.handle(CallEnded("c1"), 60)
    assert eng.agents["a"].state is AgentState.WRAP_UP
    assert eng.agents["a"].calls_handled == 1 and eng.agents["a"].talk_time_s == 58
    assert offers(eng.handle(WrapUpDone("a"), 70)) == [("c2", "a")]


def test_device_truth_beats_logged_in_state() -> None:
    eng = engine_with(agent("a"))
    eng.handle(DeviceChanged("a", DeviceState.UNREGISTERED), 0)
    eng.handle(AgentReady("a"), 0)
    assert offers(eng.handle(CallArrived("c", "q"), 1)) == []
    assert offers(eng.handle(DeviceChanged("a", DeviceState.OK), 2)) == [("c", "a")]


@pytest.mark.parametrize("why", [OfferFailure.BUSY, OfferFailure.UNAVAILABLE])
def test_a_device_failure_cools_off_and_is_never_a_no_answer(why: OfferFailure) -> None:
    eng = Engine(
        [QueueConfig("q", ())], [agent("a"), agent("b")], EngineSettings(device_retry_s=30)
    )
    for a in ("a", "b"):
        eng.handle(AgentLogin(a), 0)
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c", "q"), 0)
    eng.handle(AgentReady("b"), 0.5)
    decisions = eng.handle(OfferFailed("c", "a", why), 1)
    a = eng.agents["a"]
    assert a.state is AgentState.AVAILABLE and a.reason is None  # not "no answer"
    assert a.not_routable_because() == "softphone failed an offer: cooling off"
    assert offers(decisions) == [("c", "b")]  # the call goes on at once, keeping its place
    eng.handle(OfferFailed("c", "b", OfferFailure.NO_ANSWER), 2)
    assert eng.agents["b"].state is AgentState.NOT_READY
    assert offers(eng.handle(Tick(), 10)) == []
    assert offers(eng.handle(Tick(), 31)) == [("c", "a")]


def test_a_call_that_could_not_be_delivered_waits_a_moment_before_the_next_offer() -> None:
    # its line is usually gone with the Hangup not read yet: offering it again at once
    # would spin Redirect after refused Redirect until that Hangup arrives
    eng = Engine([QueueConfig("q", ())], [agent("a")], EngineSettings(redeliver_s=0.5))
    eng.handle(AgentLogin("a"), 0)
    eng.handle(AgentReady("a"), 0)
    assert offers(eng.handle(CallArrived("c", "q"), 0)) == [("c", "a")]
    assert offers(eng.handle(OfferFailed("c", "a", OfferFailure.NOT_DELIVERED), 1)) == []
    a = eng.agents["a"]
    assert a.state is AgentState.AVAILABLE and a.routable  # nobody's fault: free for others
    assert offers(eng.handle(CallArrived("d", "q"), 1.1)) == [("d", "a")]
    eng.handle(CallAbandoned("d"), 1.2)
    assert offers(eng.handle(Tick(), 1.3)) == []
    assert offers(eng.handle(Tick(), 1.5)) == [("c", "a")]  # keeping its place
    assert eng.calls["c"].enqueued_at == 0


def test_asterisk_reporting_the_softphone_back_ends_the_cool_off() -> None:
    eng = engine_with(agent("a"))
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c", "q"), 0)
    eng.handle(OfferFailed("c", "a", OfferFailure.UNAVAILABLE), 1)
    eng.handle(DeviceChanged("a", DeviceState.UNREGISTERED), 2)
    assert eng.agents["a"].not_routable_because() == "softphone unregistered"
    assert offers(eng.handle(DeviceChanged("a", DeviceState.OK), 3)) == [("c", "a")]


def test_an_unknown_device_is_never_offered() -> None:
    eng = engine_with(agent("a"))
    eng.handle(DeviceChanged("a", DeviceState.UNKNOWN), 0)
    eng.handle(AgentReady("a"), 0)
    assert offers(eng.handle(CallArrived("c", "q"), 1)) == []
    assert eng.agents["a"].not_routable_because() == "softphone unknown"


def test_restored_agents_keep_state_reason_and_wrap_up() -> None:
    eng = engine_with(agent("a"), agent("b"), agent("c"), agent("d"))
    eng.handle(AgentRestored("a", AgentState.NOT_READY, "lunch"), 100)
    eng.handle(AgentRestored("b", AgentState.WRAP_UP, None, until=110), 100)
    eng.handle(AgentRestored("c", AgentState.WRAP_UP, None, until=90), 100)  # already over
    eng.handle(AgentRestored("d", AgentState.AVAILABLE), 100)
    states = {i: (a.state, a.reason) for i, a in eng.agents.items()}
    assert states == {
        "a": (AgentState.NOT_READY, "lunch"),
        "b": (AgentState.WRAP_UP, None),
        "c": (AgentState.AVAILABLE, None),
        "d": (AgentState.AVAILABLE, None),
    }
    eng.handle(Tick(), 111)
    assert eng.agents["b"].state is AgentState.AVAILABLE
    with pytest.raises(ValueError, match="on_call"):
        eng.handle(AgentRestored("a", AgentState.ON_CALL), 112)


def test_a_requeued_caller_keeps_the_original_wait_start_and_order() -> None:
    eng = engine_with(agent("a"))
    eng.handle(CallArrived("late", "q", enqueued_at=50), 100)
    eng.handle(CallArrived("early", "q", enqueued_at=20), 100)
    assert [c.id for c in eng.waiting_calls("q")] == ["early", "late"]
    assert eng.calls["early"].enqueued_at == 20
    decisions = eng.handle(AgentReady("a"), 101)
    assert offers(decisions) == [("early", "a")]
    assert next(d for d in decisions if isinstance(d, Offer)).waited_s == 81


def test_an_adopted_conversation_keeps_the_agent_on_call_until_it_ends() -> None:
    eng = engine_with(agent("a"), agent("b"), wrap_up_s=10)
    eng.handle(AgentReady("a"), 0)
    eng.handle(AgentReady("b"), 0)
    eng.handle(CallArrived("c", "q"), 1)  # offered to a (longest idle)
    assert eng.calls["c"].agent_id == "a"
    # Asterisk shows c talking to b (answered while ccserver was away)
    decisions = eng.handle(CallAdopted("c", "q", "b", connected_at=2), 5)
    assert [d.kind for d in decisions if d.kind in ("adopted",)] == ["adopted"]
    assert eng.agents["b"].state is AgentState.ON_CALL and eng.agents["b"].call_id == "c"
    assert eng.agents["a"].state is AgentState.AVAILABLE and eng.agents["a"].call_id is None
    eng.handle(CallEnded("c"), 12)
    assert eng.agents["b"].state is AgentState.WRAP_UP and eng.agents["b"].talk_time_s == 10
    # nothing is offered twice: the adopted call is gone after it ended
    assert "c" not in eng.calls


def test_max_wait_overflows_to_another_queue() -> None:
    eng = engine_with(agent("junior", level=1), max_wait_s=60, overflow_to="spill")
    eng.handle(AgentReady("junior"), 0)
    assert offers(eng.handle(CallArrived("c", "q"), 0)) == []
    decisions = eng.handle(Tick(), 61)
    assert [d.kind for d in decisions if d.kind in ("overflowed", "offer")] == [
        "overflowed",
        "offer",
    ]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.LONGEST_IDLE, "b"),
        (Strategy.BEST_SKILL, "c"),
        (Strategy.FEWEST_CALLS, "a"),
        (Strategy.ROUND_ROBIN, "a"),
    ],
)
def test_strategies_pick_among_eligible_agents(strategy: Strategy, expected: str) -> None:
    a, b, c = agent("a", 4), agent("b", 4), agent("c", 9)
    b.calls_handled, c.calls_handled = 3, 2
    eng = engine_with(a, b, c, strategy=strategy)
    eng.handle(AgentReady("b"), 1)
    eng.handle(AgentReady("a"), 2)
    eng.handle(AgentReady("c"), 3)
    assert offers(eng.handle(CallArrived("x", "q"), 4)) == [("x", expected)]


def test_agent_without_the_skill_is_never_offered() -> None:
    eng = engine_with(agent("low", level=2))
    eng.handle(AgentReady("low"), 0)
    assert offers(eng.handle(CallArrived("c", "q"), 0)) == []


def test_logout_refused_during_a_call_and_unknown_names_are_errors() -> None:
    eng = engine_with(agent("a"))
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c", "q"), 0)
    assert [d.kind for d in eng.handle(AgentLogout("a"), 1)] == ["refused"]
    with pytest.raises(UnknownEntity):
        eng.handle(AgentReady("nobody"), 1)
    with pytest.raises(UnknownEntity):
        eng.handle(CallArrived("z", "no-such-queue"), 1)


def test_actions_the_agent_state_does_not_allow_are_refused_with_a_reason() -> None:
    eng = Engine([QueueConfig("q", ())], [agent("a")])
    refused = eng.handle(AgentReady("a"), 0)  # logged out
    assert [type(d) for d in refused] == [Refused] and "log in first" in refused[0].reason
    assert eng.agents["a"].state is AgentState.LOGGED_OUT
    eng.handle(AgentLogin("a"), 1)
    assert eng.handle(AgentLogin("a"), 1) == []  # already logged in: nothing to do
    eng.handle(AgentReady("a"), 2)
    assert eng.handle(AgentReady("a"), 2) == []  # ready while ready: nothing to do
    assert isinstance(eng.handle(WrapUpDone("a"), 3)[0], Refused)
    eng.handle(CallArrived("c", "q"), 4)
    ringing = eng.handle(AgentNotReady("a", "break"), 5)
    assert [type(d) for d in ringing] == [Refused] and "ringing" in ringing[0].reason
    eng.handle(OfferAnswered("c", "a"), 6)
    talking = eng.handle(AgentNotReady("a", "break"), 7)
    assert "on a call" in talking[0].reason and eng.agents["a"].state is AgentState.ON_CALL


def test_an_attended_transfer_hands_the_call_to_the_colleague() -> None:
    eng = engine_with(agent("a"), agent("b"), wrap_up_s=5)
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c", "q"), 1)
    eng.handle(OfferAnswered("c", "a"), 2)
    effects = eng.handle(CallTransferred("c", "b"), 12)
    assert [type(d).__name__ for d in effects if isinstance(d, Transferred)] == ["Transferred"]
    a, b = eng.agents["a"], eng.agents["b"]
    assert (a.state, a.calls_handled, a.talk_time_s) == (AgentState.WRAP_UP, 1, 10)
    assert (b.state, b.call_id) == (AgentState.ON_CALL, "c")
    eng.handle(CallEnded("c"), 20)
    assert b.state is AgentState.WRAP_UP and b.talk_time_s == 8 and "c" not in eng.calls
