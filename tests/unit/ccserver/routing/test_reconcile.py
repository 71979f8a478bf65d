"""Reconciling the ACD with Asterisk's channels: each rule by example."""

from __future__ import annotations

from acd.engine import Engine
from acd.events import (
    AgentLogin,
    AgentReady,
    CallAbandoned,
    CallAdopted,
    CallArrived,
    CallEnded,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
)
from acd.model import Agent, CallState, DeviceState, QueueConfig
from ccserver.routing.reconcile import Arrival, Floor, corrections, device_state, holding_callers
from cti.tracker import Channel

HOLD, DELIVER = "cc-hold", "cc-deliver"


def engine(*agents: str) -> Engine:
    eng = Engine([QueueConfig("q", ())], [Agent(a, a, f"10{a}", {}) for a in agents])
    for a in agents:
        eng.handle(AgentLogin(a), 0)
    return eng


def line(uid: str, name: str, linkedid: str | None = None, **kw: object) -> Channel:
    return Channel(uid, name, linkedid or uid, 0.0, **kw)  # type: ignore[arg-type]


def floor(*channels: Channel, callers: dict[str, str] | None = None, **kw: object) -> Floor:
    return Floor(
        channels=channels,
        caller_channel=callers or {},
        alias=kw.get("alias", {}),  # type: ignore[arg-type]
        dialing=kw.get("dialing", {}),  # type: ignore[arg-type]
        hold_context=HOLD,
        deliver_context=DELIVER,
    )


def events(fixes: list) -> list:  # type: ignore[type-arg]
    return [f.event for f in fixes]


def test_a_waiting_caller_whose_line_vanished_is_abandoned() -> None:
    eng = engine("a")
    eng.handle(CallArrived("c1", "q"), 1)
    fixes = corrections(eng, floor(callers={"c1": "PJSIP/trunk-1"}), {}, {})
    assert events(fixes) == [CallAbandoned("c1")]
    assert "line is gone" in fixes[0].why


def test_a_conversation_whose_lines_vanished_ends_and_frees_the_agent() -> None:
    eng = engine("a")
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c1", "q"), 1)
    eng.handle(OfferAnswered("c1", "a"), 2)
    # the caller's line is gone
    assert events(corrections(eng, floor(callers={"c1": "PJSIP/trunk-1"}), {}, {})) == [
        CallEnded("c1")
    ]
    # the caller is still there (a survey, say) but the agent's leg is gone
    caller = line("c1", "PJSIP/trunk-1", context=DELIVER)
    got = corrections(eng, floor(caller, callers={"c1": caller.name}), {}, {})
    assert events(got) == [CallEnded("c1")] and "agent a's leg" in got[0].why
    # both there: nothing to correct
    agent_leg = line("c1-b", "PJSIP/10a-0001", "c1", bridge_id="br")
    assert corrections(eng, floor(caller, agent_leg, callers={"c1": caller.name}), {}, {}) == []


def test_an_offer_answered_or_failed_while_not_listening_is_settled() -> None:
    eng = engine("a")
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c1", "q"), 1)
    assert eng.calls["c1"].state is CallState.OFFERED
    caller = line("c1", "PJSIP/trunk-1", context=DELIVER, bridge_id="br")
    leg = line("c1-b", "PJSIP/10a-0001", "c1", bridge_id="br")
    answered = corrections(eng, floor(caller, leg, callers={"c1": caller.name}), {}, {})
    assert events(answered) == [OfferAnswered("c1", "a")]
    back = line("c1", "PJSIP/trunk-1", context=HOLD)
    # the Dial began (we saw it) and the caller is holding again: it failed unseen
    failed = corrections(eng, floor(back, callers={"c1": back.name}, dialing={"c1": "a"}), {}, {})
    assert events(failed) == [OfferFailed("c1", "a", OfferFailure.UNAVAILABLE)]
    # the Redirect was only sent: the caller is still holding, nothing to settle yet
    assert corrections(eng, floor(back, callers={"c1": back.name}), {}, {}) == []


def test_a_conversation_unknown_to_the_acd_is_adopted_once() -> None:
    eng = engine("a", "b")
    caller = line("c9", "PJSIP/trunk-9", context=DELIVER, bridge_id="br", caller_num="555")
    leg = line("c9-b", "PJSIP/10b-0003", "c9", bridge_id="br", answered_at=40.0)
    fixes = corrections(eng, floor(caller, leg), {}, {"c9": "q"})
    assert events(fixes) == [CallAdopted("c9", "q", "b", "555", 40.0)]
    for fix in fixes:
        eng.handle(fix.event, 50)
    assert eng.agents["b"].call_id == "c9"
    assert corrections(eng, floor(caller, leg, callers={"c9": caller.name}), {}, {"c9": "q"}) == []


def test_holding_callers_are_queued_in_their_original_order() -> None:
    eng = engine("a")
    early = line("c1", "PJSIP/trunk-1", context=HOLD)
    late = line("c2", "PJSIP/trunk-2", context=HOLD)
    ivr = line("c3", "PJSIP/trunk-3", context="cc-hotline")
    view = floor(late, early, ivr)
    assert set(holding_callers(view, eng.calls)) == {"c1", "c2"}
    arrivals = {
        "c2": Arrival(CallArrived("c2", "q", enqueued_at=20.0), 20.0),
        "c1": Arrival(CallArrived("c1", "q", enqueued_at=10.0), 10.0),
    }
    assert [e.call_id for e in events(corrections(eng, view, arrivals, {}))] == ["c1", "c2"]


def test_device_truth_tells_unregistered_unreachable_busy_and_ok_apart() -> None:
    devices = {"PJSIP/1001": "NOT_INUSE", "PJSIP/1002": "UNAVAILABLE", "PJSIP/1003": "INUSE"}
    contacts = {"1001": "Reachable", "1003": "Reachable", "1004": "Unreachable"}
    assert device_state("1001", devices, contacts) is DeviceState.OK
    assert device_state("1002", devices, contacts) is DeviceState.UNREGISTERED
    assert device_state("1003", devices, contacts) is DeviceState.BUSY
    assert device_state("1004", devices, contacts) is DeviceState.UNREACHABLE
    assert device_state("1005", devices, None) is DeviceState.UNREGISTERED  # not in Asterisk
    assert device_state("1001", None, {"1001": "NonQualified"}) is DeviceState.OK
    assert device_state("1001", None, None) is None


def test_a_conversation_held_entirely_while_not_listening_is_settled_from_the_notes() -> None:
    eng = engine("a", "b")
    eng.handle(AgentReady("a"), 0)
    eng.handle(CallArrived("c1", "q"), 1)  # offered to a
    eng.handle(CallArrived("c2", "q"), 2)  # waiting: nobody else ready
    notes = {"c1": (3.5, "PJSIP/10a-0007"), "c2": (4.0, "PJSIP/10b-0008")}
    view = Floor((), {"c1": "PJSIP/trunk-1", "c2": "PJSIP/trunk-2"}, {}, {}, HOLD, DELIVER, notes)
    fixes = events(corrections(eng, view, {}, {}))
    assert fixes == [
        OfferAnswered("c1", "a", 3.5),
        CallEnded("c1"),
        CallAdopted("c2", "q", "b", "", 4.0),
        CallEnded("c2"),
    ]
    for event in fixes:
        eng.handle(event, 10)
    assert not eng.calls
    assert eng.agents["a"].calls_handled == 1 and eng.agents["a"].talk_time_s == 6.5
    assert eng.agents["b"].calls_handled == 1


def test_a_call_the_acd_thinks_waiting_but_asterisk_shows_talking_is_adopted() -> None:
    eng = engine("a")
    eng.handle(CallArrived("c1", "q"), 1)
    caller = line("c1", "PJSIP/trunk-1", context=DELIVER, bridge_id="br")
    leg = line("c1-b", "PJSIP/10a-0001", "c1", bridge_id="br", answered_at=2.0)
    fixes = events(corrections(eng, floor(caller, leg, callers={"c1": caller.name}), {}, {}))
    assert fixes == [CallAdopted("c1", "q", "a", "", 2.0)]
