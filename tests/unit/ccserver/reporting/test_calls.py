"""Folding call events into call records and agent state intervals."""

from __future__ import annotations

import pytest

from ccserver.reporting.calls import agent_intervals, fold_calls
from cti.sink import CallEvent

T = 1_800_000_000.0


def ev(at: float, kind: str, call: str = "c1", **data: object) -> CallEvent:
    return CallEvent(f"{kind}-{at}-{call}", T + at, call, kind, data)


def answered_call() -> list[CallEvent]:
    return [
        ev(0, "call.started", caller="5551234", channel="PJSIP/trunk-1"),
        ev(0.5, "ivr.started", channel="PJSIP/trunk-1"),
        ev(20, "ivr.ended", outcome="handoff", path=["language", "main", "agent"]),
        ev(20.1, "channel.dialplan", channel="PJSIP/trunk-1", context="cc-hold"),
        ev(20.1, "acd.queued", queue="general"),
        ev(21, "acd.offer", agent="ben"),
        ev(21, "dial.begin", channel="PJSIP/trunk-1", dest="PJSIP/1002-1"),
        ev(36, "dial.end", channel="PJSIP/trunk-1", dest="PJSIP/1002-1", status="NOANSWER"),
        ev(36.1, "channel.dialplan", channel="PJSIP/trunk-1", context="cc-hold"),
        ev(37, "acd.offer", agent="ana"),
        ev(37, "dial.begin", channel="PJSIP/trunk-1", dest="PJSIP/1001-2"),
        ev(40, "dial.end", channel="PJSIP/trunk-1", dest="PJSIP/1001-2", status="ANSWER"),
        ev(40, "acd.connected", agent="ana", waited_s=19.9),
        ev(160, "channel.hungup", channel="PJSIP/1001-2"),
        ev(170, "survey.score", survey="call", score=4),
        ev(171, "channel.hungup", channel="PJSIP/trunk-1"),
        ev(171, "call.ended"),
        ev(40, "acd.agent_state", call="", agent="ana", state="on_call", code=None),
        ev(160, "acd.agent_state", call="", agent="ana", state="wrap_up", code=None),
        ev(175, "acd.agent_state", call="", agent="ana", state="available", code=None),
    ]


def test_answered_call_record() -> None:
    (rec,) = fold_calls(answered_call())
    assert rec.disposition == "answered" and rec.agent == "ana" and rec.queue == "general"
    assert rec.ivr and rec.ivr_path == ["language", "main", "agent"]
    assert rec.wait_s == pytest.approx(19.9)  # from the first entry into cc-hold to the answer
    assert rec.ring_s == pytest.approx(15 + 3)  # both offers rang
    assert rec.talk_s == 120  # until the agent leg hung up, not the survey's end
    assert rec.wrap_s == 15
    assert rec.handle_s == 135
    assert rec.survey == 4
    assert rec.ended_at == T + 171


def test_abandons_short_and_long_and_ivr_outcomes() -> None:
    events = [
        ev(0, "call.started", "a", caller="1", channel="X/a"),
        ev(1, "channel.dialplan", "a", channel="X/a", context="cc-hold"),
        ev(1, "acd.queued", "a", queue="q"),
        ev(4, "acd.abandoned", "a", waited_s=3),
        ev(4, "channel.hungup", "a", channel="X/a"),
        ev(4.2, "call.ended", "a"),  # a ringing agent leg ended a little later
        ev(0, "call.started", "b", caller="2", channel="X/b"),
        ev(1, "channel.dialplan", "b", channel="X/b", context="cc-hold"),
        ev(1, "acd.queued", "b", queue="q"),
        ev(61, "call.ended", "b"),
        ev(0, "call.started", "s", channel="X/s"),
        ev(0, "ivr.started", "s", channel="X/s"),
        ev(30, "ivr.ended", "s", outcome="self_served", path=["balance"]),
        ev(31, "call.ended", "s"),
        ev(0, "call.started", "h", channel="X/h"),
        ev(0, "ivr.started", "h", channel="X/h"),
        ev(5, "ivr.ended", "h", outcome="hangup", path=["language"]),
        ev(5, "call.ended", "h"),
        ev(0, "call.started", "d", channel="X/d"),
        ev(0, "ivr.started", "d", channel="X/d"),
        ev(9, "ivr.ended", "d", outcome="deflected", path=["outage"]),
        ev(9, "call.ended", "d"),
    ]
    got = {r.call_id: r for r in fold_calls(events, short_abandon_s=5)}
    assert got["a"].disposition == "short_abandon" and got["a"].wait_s == 3
    assert got["b"].disposition == "abandoned" and got["b"].wait_s == 60
    assert got["s"].disposition == "self_served"
    assert got["h"].disposition == "ivr_hangup"
    assert got["d"].disposition == "deflected"


def test_agent_intervals_are_clipped_to_the_range() -> None:
    events = [
        ev(0, "acd.agent_state", "", agent="ana", state="available", code=None),
        ev(100, "acd.agent_state", "", agent="ana", state="not_ready", code="lunch"),
        ev(400, "acd.agent_state", "", agent="ana", state="available", code=None),
    ]
    got = agent_intervals(events, T + 50, T + 500)["ana"]
    assert [(i.state, i.reason, i.seconds) for i in got] == [
        ("available", None, 50),
        ("not_ready", "lunch", 300),
        ("available", None, 100),
    ]
