"""The call tracker, driven by real capture traffic and an injected clock."""

from __future__ import annotations

from pathlib import Path

from cti import events as ev
from cti.sink import ListSink
from cti.tracker import CallTracker, counter_ids
from cti.wire import AmiFramer, AmiMessage


def replay(tracker: CallTracker, path: Path, *, start: float = 1000.0) -> float:
    now = start
    for msg in AmiFramer().feed(path.read_bytes()):
        if isinstance(msg, AmiMessage) and msg.event:
            now += 0.01
            tracker.apply(ev.type_event(msg), now)
    return now


def test_holding_redirect_call_is_grouped_bridged_and_ended(captures: Path) -> None:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    replay(tracker, captures / "holding_redirect.txt")
    assert tracker.summary().active_calls == 0 and tracker.summary().active_channels == 0
    (call,) = tracker.recent.values()
    # four channels (two Local pairs) share the Linkedid of the first
    assert len(call.channels) == 4
    assert call.caller_num == "5551234"
    assert call.bridged_at is not None and call.ended_at is not None
    assert call.hangup_cause == 16
    kinds = [e.kind for e in sink.events]
    assert kinds[0] == "call.started" and kinds[-1] == "call.ended"
    assert kinds.count("channel.hungup") == 4
    assert "dial.begin" in kinds and "channel.bridged" in kinds
    assert all(e.call_id == call.call_id for e in sink.events)


def test_same_events_same_records(captures: Path) -> None:
    runs = []
    for _ in range(2):
        sink = ListSink()
        replay(CallTracker(sink, ids=counter_ids()), captures / "holding_bridge.txt")
        runs.append(sink.events)
    assert runs[0] == runs[1] and runs[0]


def test_dtmf_is_recorded_on_the_call(captures: Path) -> None:
    tracker = CallTracker(ListSink(), ids=counter_ids())
    replay(tracker, captures / "dtmf_fastagi.txt")
    (call,) = tracker.recent.values()
    # PlayDTMF 5,1,2,# on ;1 and 3 received on ;2 (see the capture's README)
    assert sorted(call.dtmf) == sorted("512#3")


def test_unknown_channel_events_are_counted_not_fatal() -> None:
    tracker = CallTracker(ListSink(), ids=counter_ids())
    tracker.apply(ev.Hangup(Channel="PJSIP/x-1", Uniqueid="9.9", Linkedid="9.9", Cause=16), 1.0)
    assert tracker.summary().unknown_channel_events == 1


def _channel(
    uid: str, name: str, *, duration: str = "00:00:05", bridge: str = ""
) -> ev.CoreShowChannel:
    return ev.CoreShowChannel(
        Channel=name, Uniqueid=uid, Linkedid=uid, ChannelState=6, ChannelStateDesc="Up",
        CallerIDNum="5550001", Context="cc-hold", Exten="s", Duration=duration, BridgeId=bridge,
    )  # fmt: skip


def test_reconcile_closes_vanished_and_adopts_unknown() -> None:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    tracker.apply(ev.Newchannel(Channel="PJSIP/trunk-1", Uniqueid="1.1", Linkedid="1.1"), 100.0)
    tracker.apply(ev.Newchannel(Channel="PJSIP/trunk-2", Uniqueid="1.2", Linkedid="1.2"), 100.0)
    tracker.apply(ev.Newchannel(Channel="PJSIP/trunk-4", Uniqueid="1.4", Linkedid="1.4"), 100.0)
    vanished, adopted = tracker.reconcile(
        [_channel("1.2", "PJSIP/trunk-2"), _channel("1.3", "PJSIP/trunk-3", duration="00:01:00")],
        200.0,
        hung_up_meanwhile=frozenset({"1.4"}),
    )
    assert (vanished, adopted) == (1, 1)
    ended = tracker.call("1.1")
    assert ended is not None and ended.ended_at == 200.0
    assert [e.data.get("reason") for e in sink.events if e.kind == "call.ended"] == ["vanished"]
    adopted_call = tracker.call("1.3")
    assert adopted_call is not None and adopted_call.started_at == 140.0  # back-dated by Duration
    assert tracker.channel_by_name("PJSIP/trunk-2") is not None
    assert tracker.channel_by_name("PJSIP/trunk-4") is not None  # its Hangup is still coming


def test_recent_calls_are_bounded() -> None:
    tracker = CallTracker(ListSink(), ids=counter_ids(), recent=10)
    for i in range(50):
        uid = f"5.{i}"
        tracker.apply(ev.Newchannel(Channel=f"PJSIP/t-{i}", Uniqueid=uid, Linkedid=uid), float(i))
        tracker.apply(ev.Hangup(Channel=f"PJSIP/t-{i}", Uniqueid=uid, Linkedid=uid), float(i))
    assert len(tracker.recent) == 10 and tracker.calls_ended == 50 and not tracker.calls
