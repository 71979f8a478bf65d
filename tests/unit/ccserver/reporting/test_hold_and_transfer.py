"""The fold's hold time and transferred calls: one record, the last agent, both talks."""

from __future__ import annotations

import pytest

from ccserver.reporting.calls import CallFold, fold_calls
from contracts import eventlog as el
from contracts.sink import CallEvent

T = 1_800_000_000.0
CALLER, ANA, BEN = "PJSIP/trunk-1", "PJSIP/1001-2", "PJSIP/1002-3"


def ev(at: float, kind: str, call: str = "c1", **data: object) -> CallEvent:
    return CallEvent(f"{kind}-{at}-{call}-{len(data)}", T + at, call, kind, data)


def answered_by_ana() -> list[CallEvent]:
    return [
        ev(0, el.CALL_STARTED, caller="5551234", channel=CALLER),
        ev(1, el.ACD_QUEUED, queue="general"),
        ev(2, el.ACD_OFFER, agent="ana", endpoint="1001"),
        ev(2, el.DIAL_BEGIN, channel=CALLER, dest=ANA),
        ev(5, el.DIAL_END, channel=CALLER, dest=ANA, status="ANSWER"),
        ev(5, el.ACD_CONNECTED, agent="ana", waited_s=4.0),
    ]


def end_at(at: float, agent_leg: str) -> list[CallEvent]:
    return [
        ev(at, el.CHANNEL_UNBRIDGED, channel=agent_leg, bridge="b"),
        ev(at, el.CHANNEL_HUNGUP, channel=agent_leg, cause=16),
        ev(at + 0.01, el.CHANNEL_UNBRIDGED, channel=CALLER, bridge="b"),
        ev(at + 0.01, el.CHANNEL_HUNGUP, channel=CALLER, cause=16),
        ev(at + 0.01, el.CALL_ENDED, caller="5551234"),
    ]


def test_hold_while_talking_is_hold_not_talk() -> None:
    events = [
        *answered_by_ana(),
        ev(20, el.CHANNEL_HOLD, channel=ANA, music_class="default"),
        ev(32.5, el.CHANNEL_UNHOLD, channel=ANA),
        ev(40, el.CHANNEL_HOLD, channel=CALLER),  # the caller's phone may hold too
        ev(42, el.CHANNEL_UNHOLD, channel=CALLER),
        ev(50, el.CHANNEL_HOLD, channel="PJSIP/9999-9"),  # not a party of this conversation
        ev(52, el.CHANNEL_UNHOLD, channel="PJSIP/9999-9"),
        *end_at(65, ANA),
        ev(66, el.ACD_AGENT_STATE, "", agent="ana", state="wrap_up"),
        ev(70, el.ACD_AGENT_STATE, "", agent="ana", state="available"),
    ]
    (rec,) = fold_calls(events)
    assert rec.hold_s == pytest.approx(14.5)
    assert rec.talk_s == pytest.approx(60 - 14.5)
    assert rec.handle_s == pytest.approx(60 + 4)


def test_a_hold_open_when_the_agent_hangs_up_ends_there() -> None:
    events = [*answered_by_ana(), ev(20, el.CHANNEL_HOLD, channel=ANA), *end_at(30, ANA)]
    (rec,) = fold_calls(events)
    assert rec.hold_s == pytest.approx(10) and rec.talk_s == pytest.approx(15)


def test_a_hold_before_the_answer_is_not_counted() -> None:
    events = [
        ev(0, el.CALL_STARTED, caller="5551234", channel=CALLER),
        ev(1, el.CHANNEL_HOLD, channel=CALLER),
        ev(3, el.CHANNEL_UNHOLD, channel=CALLER),
        *answered_by_ana()[1:],
        *end_at(15, ANA),
    ]
    (rec,) = fold_calls(events)
    assert rec.hold_s == 0 and rec.talk_s == pytest.approx(10)


def blind_transfer_to_ben(*, offered_ben: bool) -> list[CallEvent]:
    transferred = {"kind": "blind", "result": "Success", "from": ANA, "to": "1002"}
    events = [
        *answered_by_ana(),
        CallEvent("x-1", T + 30, "c1", el.CALL_TRANSFERRED, transferred),
        ev(30, el.CHANNEL_UNBRIDGED, channel=CALLER, bridge="b"),
        ev(30, el.CHANNEL_UNBRIDGED, channel=ANA, bridge="b"),
        ev(30, el.CHANNEL_HUNGUP, channel=ANA, cause=16),
        ev(31, el.ACD_AGENT_STATE, "", agent="ana", state="wrap_up"),
        ev(30.1, el.DIAL_BEGIN, channel=CALLER, dest=BEN),
        ev(33, el.DIAL_END, channel=CALLER, dest=BEN, status="ANSWER"),
        ev(35, el.ACD_AGENT_STATE, "", agent="ana", state="available"),
        *end_at(63, BEN),
    ]
    if offered_ben:  # another call the ACD gave ben: his endpoint is known
        events += [
            ev(100, el.CALL_STARTED, "c2", caller="5559", channel="PJSIP/trunk-9"),
            ev(101, el.ACD_OFFER, "c2", agent="ben", endpoint="1002"),
            ev(104, el.DIAL_END, "c2", channel="PJSIP/trunk-9", dest="PJSIP/1002-8",
               status="ANSWER"),
            ev(104, el.ACD_CONNECTED, "c2", agent="ben"),
        ]  # fmt: skip
    return events


def test_a_blind_transfer_is_one_record_of_the_last_agent() -> None:
    records = fold_calls(blind_transfer_to_ben(offered_ben=True))
    rec = next(r for r in records if r.call_id == "c1")
    assert rec.disposition == "answered" and rec.transfers == 1
    assert rec.agent == "ben" and rec.agents == ["ana", "ben"]
    assert rec.answered_at == T + 5 and rec.wait_s == pytest.approx(4)
    # ana's part (5-30) and ben's (33-63); the 3 s ringing ben is not talk
    assert rec.transfer_gap_s == pytest.approx(3)
    assert rec.talk_s == pytest.approx(25 + 30)
    assert rec.wrap_s == pytest.approx(4)  # ana's wrap-up after her part
    assert rec.handle_s == pytest.approx(55 + 4)


def test_an_agent_never_routed_by_the_acd_keeps_the_endpoint_name() -> None:
    (rec,) = fold_calls(blind_transfer_to_ben(offered_ben=False))
    assert rec.agent == "1002" and rec.agents == ["ana", "1002"]


def test_an_attended_transfer_keeps_the_caller_talking() -> None:
    target = "PJSIP/1002-5"
    transferred = {"kind": "attended", "result": "Success", "from": ANA, "to": target}
    events = [
        *answered_by_ana(),
        ev(20, el.CHANNEL_HOLD, channel=ANA),  # the consult call
        CallEvent("x-1", T + 30, "c1", el.CALL_TRANSFERRED, transferred),
        ev(30, el.CHANNEL_UNBRIDGED, channel=ANA, bridge="b"),  # swapped out
        ev(30, el.CHANNEL_HUNGUP, channel=ANA, cause=16),
        ev(50, el.CHANNEL_UNBRIDGED, channel=CALLER, bridge="b"),
        ev(50, el.CHANNEL_HUNGUP, channel=CALLER, cause=16),
        ev(50, el.CALL_ENDED, caller="5551234"),
    ]
    (rec,) = fold_calls(events)
    assert rec.transfers == 1 and rec.agent == "1002" and rec.agents == ["ana", "1002"]
    assert rec.hold_s == pytest.approx(10)  # ended by the transfer
    assert rec.talk_s == pytest.approx(45 - 10) and rec.transfer_gap_s == 0


def test_a_failed_transfer_changes_nothing() -> None:
    failed = {"kind": "blind", "result": "Fail", "from": ANA, "to": "1002"}
    events = [
        *answered_by_ana(),
        CallEvent("x-1", T + 30, "c1", el.CALL_TRANSFERRED, failed),
        *end_at(40, ANA),
    ]
    (rec,) = fold_calls(events)
    assert rec.transfers == 0 and rec.agent == "ana" and rec.talk_s == pytest.approx(35)


def test_the_live_fold_gives_the_batch_folds_hold_and_talk() -> None:
    events = [
        *answered_by_ana(),
        ev(20, el.CHANNEL_HOLD, channel=ANA),
        ev(26, el.CHANNEL_UNHOLD, channel=ANA),
        *end_at(40, ANA),
    ]
    fold = CallFold()
    ended = [s for e in events for s in fold.feed(e) if s.kind == "ended"]
    (batch,) = fold_calls(events)
    assert ended[0].record.hold_s == batch.hold_s == pytest.approx(6)
    assert ended[0].record.talk_s == batch.talk_s
