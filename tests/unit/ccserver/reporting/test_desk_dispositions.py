"""The agent desktop in the calls report: the disposition code and notes, and an attended
transfer whose consult call the atxfer feature dials from a Local channel."""

from __future__ import annotations

import pytest

from ccserver.reporting.calls import fold_calls
from contracts import eventlog as el
from contracts.sink import CallEvent

T = 1_800_000_000.0
CALLER, ANA, BEN = "PJSIP/trunk-1", "PJSIP/1001-2", "PJSIP/1002-4"
LOCAL = "Local/1002@cc-transfer-00000003;2"


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


def test_the_disposition_and_notes_filed_after_the_call_reach_its_record() -> None:
    events = [
        *answered_by_ana(),
        ev(10, el.CALL_NOTE, agent="ana", text="asked about the bill"),
        ev(20, el.CHANNEL_UNBRIDGED, channel=ANA, bridge="b"),
        ev(20, el.CHANNEL_HUNGUP, channel=CALLER, cause=16),
        ev(20, el.CALL_ENDED, caller="5551234"),
        ev(20, el.ACD_AGENT_STATE, "", agent="ana", state="wrap_up"),
        ev(24, el.CALL_DISPOSITION, agent="ana", code="follow-up", text="call back"),
        ev(25, el.CALL_DISPOSITION, agent="ana", code="resolved", text=None),
        ev(25, el.ACD_AGENT_STATE, "", agent="ana", state="available"),
    ]
    (rec,) = fold_calls(events)
    assert rec.disposition == "answered" and rec.disposition_code == "resolved"
    assert rec.notes == ["asked about the bill"] and rec.wrap_s == pytest.approx(5)
    (plain,) = fold_calls(events[:6])
    assert plain.disposition_code is None and plain.notes == []


def test_the_consult_of_a_desk_attended_transfer_is_not_ring_time() -> None:
    events = [
        *answered_by_ana(),
        ev(10, el.CHANNEL_HOLD, channel=ANA),
        ev(10, el.DIAL_BEGIN, channel=LOCAL, dest=BEN),
        ev(14, el.DIAL_END, channel=LOCAL, dest=BEN, status="ANSWER"),
        CallEvent(
            "xfer",
            T + 20,
            "c1",
            el.CALL_TRANSFERRED,
            {"kind": "attended", "result": "Success", "from": ANA, "to": BEN},
        ),
        ev(20, el.ACD_TRANSFERRED, agent="ben", from_agent="ana"),
        ev(30, el.CHANNEL_UNBRIDGED, channel=BEN, bridge="b"),
        ev(30, el.CHANNEL_HUNGUP, channel=CALLER, cause=16),
        ev(30, el.CALL_ENDED, caller="5551234"),
    ]
    (rec,) = fold_calls(events)
    assert rec.ring_s == pytest.approx(3)  # the offer's ring only
    assert rec.agent == "ben" and rec.agents == ["ana", "ben"] and rec.transfers == 1
    assert rec.hold_s == pytest.approx(10)  # the caller waited on hold during the consult
    assert rec.talk_s == pytest.approx(25 - 10)
