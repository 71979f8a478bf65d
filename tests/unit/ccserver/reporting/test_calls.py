"""Folding call events into call records and agent state intervals, in batch and live.

The live fold (``CallFold``, fed event by event for the metrics and the demo)
must give the records of the batch fold the reports use.
"""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry

from ccserver.live_stats import LiveStats
from ccserver.reporting.calls import (
    CallFold,
    CallRecord,
    Settled,
    WrapUps,
    agent_intervals,
    fold_calls,
)
from ccserver.reporting.summary import CallSummary
from contracts.sink import CallEvent

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


def abandoned_call(call: str, wait: float, start: float = 200) -> list[CallEvent]:
    return [
        ev(start, "call.started", call, caller="5550001", channel=f"X/{call}"),
        ev(start + 1, "channel.dialplan", call, channel=f"X/{call}", context="cc-hold"),
        ev(start + 1, "acd.queued", call, queue="general"),
        ev(start + 1 + wait, "acd.abandoned", call, waited_s=wait),
        ev(start + 1 + wait, "channel.hungup", call, channel=f"X/{call}"),
        ev(start + 1 + wait, "call.ended", call),
    ]


def self_served_call(call: str) -> list[CallEvent]:
    return [
        ev(300, "call.started", call, channel=f"X/{call}"),
        ev(300, "ivr.started", call, channel=f"X/{call}"),
        ev(330, "ivr.ended", call, outcome="self_served", path=["balance"]),
        ev(331, "call.ended", call),
    ]


def day() -> list[CallEvent]:
    events = answered_call() + abandoned_call("a", 3) + abandoned_call("b", 45)
    events += self_served_call("s")
    return sorted(events, key=lambda e: e.at)  # as they happen


def live(events: list[CallEvent]) -> tuple[CallFold, list[Settled]]:
    fold = CallFold(short_abandon_s=5)
    out: list[Settled] = []
    for e in events:
        out.extend(fold.feed(e))
    return fold, out


def fields(rec: CallRecord) -> dict[str, object]:
    return rec.as_dict()


def test_live_records_are_the_batch_records() -> None:
    events = day()
    fold, settled = live(events)
    batch = {r.call_id: r for r in fold_calls(list(events), short_abandon_s=5)}
    ended = {s.record.call_id: s.record for s in settled if s.kind == "ended"}
    assert ended.keys() == batch.keys() and fold.open_calls == 0
    for call_id, rec in ended.items():
        assert fields(rec) == fields(batch[call_id]), call_id
    assert {r.disposition for r in ended.values()} == {
        "answered", "short_abandon", "abandoned", "self_served"
    }  # fmt: skip


def test_the_moments_of_an_answered_call() -> None:
    _, settled = live(day())
    mine = [(s.kind, s.at - T) for s in settled if s.record.call_id == "c1"]
    # answered at the answer, ended at the caller's hang-up, handled when wrap-up ends
    assert mine == [("answered", 40), ("ended", 171), ("handled", 175)]
    answered = next(s.record for s in settled if s.kind == "handled")
    assert answered.wrap_s == 15 and answered.handle_s == 135


def test_events_in_any_order_within_a_call_give_the_same_record() -> None:
    events = answered_call()
    rng = random.Random(3)
    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        (rec,) = fold_calls(shuffled)
        assert rec.wait_s == pytest.approx(19.9) and rec.wrap_s == 15


def test_late_events_of_an_ended_call_open_nothing() -> None:
    fold, _ = live(abandoned_call("a", 30))
    assert fold.feed(ev(900, "acd.callback_failed", "a")) == [] and fold.open_calls == 0


def test_open_calls_are_bounded() -> None:
    fold = CallFold(max_open=3)
    for n in range(10):
        fold.feed(ev(n, "call.started", f"c{n}", channel=f"X/{n}"))
    assert fold.open_calls == 3


def test_live_stats_count_what_the_reports_count() -> None:
    registry = CollectorRegistry()
    stats = LiveStats(registry, ["general"], lambda q: 20, clock=lambda: T + 400, short_abandon_s=5)
    for e in day():
        stats.emit(e)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("ccserver_queue_calls_offered_total", queue="general") == 3
    assert value("ccserver_queue_calls_answered_total", queue="general") == 1
    assert value("ccserver_queue_calls_abandoned_total", queue="general") == 2
    assert value("ccserver_queue_wait_seconds_sum", queue="general", outcome="answered") == (
        pytest.approx(19.9)
    )
    assert value("ccserver_queue_handle_seconds_sum", queue="general") == 135
    assert value("ccserver_ivr_calls_total", outcome="self_served") == 1
    assert value("ccserver_ivr_calls_total", outcome="handoff") == 1
    # answered_only: the one answered call waited 19.9 s, within 20 s
    assert value("ccserver_queue_service_level", queue="general") == 1.0
    stats.variant = "abandons_against"  # 1 within / (1 answered + 2 abandoned - 1 short)
    assert value("ccserver_queue_service_level", queue="general") == 0.5


def test_live_service_level_keeps_only_its_window_when_nobody_scrapes() -> None:
    stats = LiveStats(CollectorRegistry(), ["general"], lambda q: 20, clock=lambda: T)
    for n in range(3_000):  # an abandon every second for 50 minutes, no scrape
        for e in abandoned_call(f"a{n}", 30, start=n):
            stats.emit(e)
    assert len(stats._recent["general"]) <= stats.window_s + 1


def test_the_demo_summary_counts_dispositions() -> None:
    summary = CallSummary(short_abandon_s=5)
    for e in day():
        summary.emit(e)
    got = summary.summary()
    assert got.ended == {"answered": 1, "short_abandon": 1, "abandoned": 1, "self_served": 1}
    assert got.ivr_outcomes == {"handoff": 1, "self_served": 1}
    assert got.calls == 4 and got.still_open == 0


def test_a_live_answer_replayed_late_beats_an_adoptions_estimate() -> None:
    # the active answered the call live and died before writing it (its spool); the
    # standby adopted the conversation with the agent leg's whole-second age, earlier
    # than the answer; the dead process's spool is written when it comes back
    live = [
        ev(0, "call.started", caller="5551234", channel="PJSIP/trunk-1"),
        ev(5, "acd.queued", queue="general"),
        ev(6, "dial.begin", channel="PJSIP/trunk-1", dest="PJSIP/1001-2"),
        ev(6.7, "dial.end", channel="PJSIP/trunk-1", dest="PJSIP/1001-2", status="ANSWER"),
        ev(6.7, "acd.connected", agent="ana", waited_s=1.7),
    ]
    adopted = ev(9, "acd.adopted", agent="ana", answered_at=T + 6.0)
    ended = [ev(30, "channel.hungup", channel="PJSIP/1001-2"), ev(30, "call.ended")]
    (only_adopted,) = fold_calls([live[0], live[1], adopted, *ended])
    assert only_adopted.answered_at == T + 6.0  # nothing better known
    for order in ([*live, adopted, *ended], [adopted, *ended, *live]):
        (rec,) = fold_calls(order)
        assert rec.answered_at == T + 6.7 and rec.wait_s == pytest.approx(1.7)
        assert rec.talk_s == pytest.approx(23.3)


def test_the_wrap_up_rule_forgets_what_no_later_wrap_up_can_own() -> None:
    wrap = WrapUps()
    for n in range(100):  # ana answers a call every 10 s and wraps each up
        wrap.answered(CallRecord(f"c{n}", answered_at=T + 10 * n, agent="ana"))
    wrap.agent_state(ev(995, "acd.agent_state", call="", agent="ana", state="wrap_up"))
    wrap.answered(CallRecord("late", answered_at=T + 1000, agent="ben"))
    wrap.forget_before(T + 1005)
    # ana's wrap-up begun at 995 still gets its call; ben keeps his last one
    assert wrap.owner("ana", T + 995).call_id == "c99"  # type: ignore[union-attr]
    assert wrap.owner("ben", T + 1005).call_id == "late"  # type: ignore[union-attr]
    assert wrap.owner("ana", T + 985) is None  # forgotten: answered long before
    done = wrap.agent_state(ev(1010, "acd.agent_state", call="", agent="ana", state="available"))
    assert wrap.credited is not None and wrap.credited.call_id == "c99"
    assert wrap.credited.wrap_s == 15 and done is not None
