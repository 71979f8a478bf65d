"""The tracker's hold, transfer and ChanSpy records, from scripted typed events."""

from __future__ import annotations

from typing import Any

from contracts import eventlog as el
from contracts.sink import ListSink
from cti import events as ev
from cti.tracker import CallTracker, counter_ids

CALLER = {"Channel": "PJSIP/trunk-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
AGENT = {"Channel": "PJSIP/1001-00000002", "Uniqueid": "1.2", "Linkedid": "1.1"}
SUPERVISOR = {"Channel": "PJSIP/1009-00000003", "Uniqueid": "1.3", "Linkedid": "1.3"}


def prefixed(prefix: str, block: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}{k}": v for k, v in block.items()}


def tracker_with_a_call() -> tuple[CallTracker, ListSink]:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    tracker.apply(ev.Newchannel(**CALLER, CallerIDNum="5551234", ChannelState=6), 1.0)
    tracker.apply(ev.Newchannel(**AGENT, ChannelState=6), 2.0)
    return tracker, sink


def kinds(sink: ListSink, kind: str) -> list[tuple[float, dict[str, Any]]]:
    return [(e.at, e.data) for e in sink.events if e.kind == kind]


def test_hold_and_unhold_name_the_channel_that_held() -> None:
    tracker, sink = tracker_with_a_call()
    tracker.apply(ev.Hold(**AGENT, MusicClass="default"), 10.0)
    tracker.apply(ev.Hold(**AGENT, MusicClass="default"), 11.0)  # a repeated re-INVITE
    tracker.apply(ev.MusicOnHoldStart(**CALLER, Class="default"), 10.0)
    tracker.apply(ev.Unhold(**AGENT), 20.0)
    tracker.apply(ev.Unhold(**AGENT), 21.0)
    assert kinds(sink, el.CHANNEL_HOLD) == [
        (10.0, {"channel": AGENT["Channel"], "music_class": "default"})
    ]
    assert kinds(sink, el.CHANNEL_UNHOLD) == [(20.0, {"channel": AGENT["Channel"]})]
    assert all(e.call_id == "1.1" for e in sink.events)


def test_a_blind_transfer_is_recorded_on_the_callers_call() -> None:
    tracker, sink = tracker_with_a_call()
    tracker.apply(
        ev.BlindTransfer(
            Result="Success", **prefixed("Transferer", AGENT), **prefixed("Transferee", CALLER),
            BridgeUniqueid="b-1", IsExternal="Yes", Context="cc-deliver", Extension="1002",
        ),
        30.0,
    )  # fmt: skip
    ((at, data),) = kinds(sink, el.CALL_TRANSFERRED)
    assert at == 30.0
    assert data == {
        "kind": "blind", "result": "Success", "from": AGENT["Channel"], "to": "1002",
        "context": "cc-deliver", "transferee": CALLER["Channel"], "external": True,
    }  # fmt: skip


def test_an_attended_transfer_names_the_target_channel() -> None:
    tracker, sink = tracker_with_a_call()
    target = {"Channel": "PJSIP/1002-00000005", "Uniqueid": "2.2", "Linkedid": "2.1"}
    tracker.apply(
        ev.AttendedTransfer(
            Result="Success", **prefixed("OrigTransferer", AGENT),
            SecondTransfererChannel="PJSIP/1001-00000004", **prefixed("Transferee", CALLER),
            **prefixed("TransferTarget", target), IsExternal="Yes", DestType="Bridge",
            DestBridgeUniqueid="b-1",
        ),
        40.0,
    )  # fmt: skip
    ((_, data),) = kinds(sink, el.CALL_TRANSFERRED)
    assert data["kind"] == "attended" and data["to"] == target["Channel"]
    assert data["from"] == AGENT["Channel"]
    assert [e.call_id for e in sink.events if e.kind == el.CALL_TRANSFERRED] == ["1.1"]


def test_a_transfer_of_an_unknown_call_is_not_recorded() -> None:
    tracker, sink = tracker_with_a_call()
    tracker.apply(
        ev.BlindTransfer(Result="Success", TransfererChannel="PJSIP/9-1", TransfereeLinkedid="7.7"),
        5.0,
    )
    assert not kinds(sink, el.CALL_TRANSFERRED)


def test_chanspy_start_and_stop_are_recorded_on_the_spied_call() -> None:
    tracker, sink = tracker_with_a_call()
    tracker.apply(ev.Newchannel(**SUPERVISOR, ChannelState=6), 3.0)
    tracker.apply(ev.ChanSpyStart(**prefixed("Spyer", SUPERVISOR), **prefixed("Spyee", AGENT)), 4.0)
    # a stop without the Spyee block (the agent's channel was gone): the start said which call
    tracker.apply(ev.ChanSpyStop(**prefixed("Spyer", SUPERVISOR)), 9.0)
    spied = [(e.call_id, e.at, e.data) for e in sink.events if e.kind == el.CALL_SPIED]
    assert spied == [
        ("1.1", 4.0, {"state": "start", "spyer": SUPERVISOR["Channel"], "spyee": AGENT["Channel"]}),
        ("1.1", 9.0, {"state": "stop", "spyer": SUPERVISOR["Channel"], "spyee": ""}),
    ]
