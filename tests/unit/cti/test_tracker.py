"""The call tracker, driven by real capture traffic and an injected clock."""

from __future__ import annotations

from pathlib import Path

from contracts.sink import ListSink
from cti import events as ev
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
    # gone somewhere between the last event heard (100) and the resync (200)
    assert ended is not None and ended.ended_at == 150.0
    assert [e.data.get("reason") for e in sink.events if e.kind == "call.ended"] == ["vanished"]
    gone = next(e for e in sink.events if e.kind == "channel.vanished")
    assert gone.data["gone_between"] == (100.0, 200.0)
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


def _new(uid: str, name: str, *, linked: str | None = None, state: int = 4, num: str = "5550100"):
    return ev.Newchannel(
        Channel=name, Uniqueid=uid, Linkedid=linked or uid, ChannelState=state,
        ChannelStateDesc={4: "Ring", 5: "Ringing", 6: "Up"}[state], CallerIDNum=num,
        CallerIDName="Caller", Context="cc-hotline", Exten="100",
    )  # fmt: skip


def _block(cls: type[ev.ChannelEvent], uid: str, name: str, linked: str, **extra: object):
    return cls.model_validate({"Channel": name, "Uniqueid": uid, "Linkedid": linked, **extra})


def test_call_state_ringing_up_bridged_ended_with_timestamps() -> None:
    sink = ListSink()
    t = CallTracker(sink, ids=counter_ids())
    t.apply(_new("1.1", "PJSIP/trunk-1"), 10.0)
    call = t.call("1.1")
    assert call is not None and call.state == "ringing" and call.started_at == 10.0
    t.apply(_block(ev.Newstate, "1.1", "PJSIP/trunk-1", "1.1", ChannelState=6), 11.0)
    assert call.state == "up" and call.answered_at == 11.0
    t.apply(_new("1.2", "PJSIP/1001-1", linked="1.1", state=5, num="1001"), 12.0)
    t.apply(_block(ev.Newstate, "1.2", "PJSIP/1001-1", "1.1", ChannelState=6), 13.0)
    for uid, name in (("1.1", "PJSIP/trunk-1"), ("1.2", "PJSIP/1001-1")):
        t.apply(_block(ev.BridgeEnter, uid, name, "1.1", BridgeUniqueid="b-1"), 14.0)
    assert call.state == "bridged" and call.bridged_at == 14.0
    assert {c.name for c in t.bridge_members("b-1")} == {"PJSIP/trunk-1", "PJSIP/1001-1"}
    bridged = [e for e in sink.events if e.kind == "channel.bridged"]
    assert bridged[-1].data["peers"] == ["PJSIP/trunk-1"]
    assert t.channel("1.2") is t.channel_by_name("PJSIP/1001-1") is not None
    t.apply(_block(ev.DTMFEnd, "1.1", "PJSIP/trunk-1", "1.1", Digit="7"), 15.0)
    t.apply(_block(ev.VarSet, "1.1", "PJSIP/trunk-1", "1.1", Variable="CC_QUEUE", Value="vip"), 15)
    t.apply(_block(ev.VarSet, "1.1", "PJSIP/trunk-1", "1.1", Variable="OTHER", Value="x"), 15.0)
    t.apply(_block(ev.BridgeLeave, "1.2", "PJSIP/1001-1", "1.1", BridgeUniqueid="b-1"), 19.0)
    t.apply(_block(ev.Hangup, "1.2", "PJSIP/1001-1", "1.1", Cause=16), 19.0)
    assert call.state == "up" and t.bridge_members("b-1")[0].name == "PJSIP/trunk-1"
    t.apply(_block(ev.Hangup, "1.1", "PJSIP/trunk-1", "1.1", Cause=16), 20.0)
    assert call.state == "ended" and call.ended_at == 20.0 and call.hangup_cause == 16
    assert t.channel("1.1") is None and t.bridge_members("b-1") == []
    assert call.dtmf == "7" and call.variables == {"CC_QUEUE": "vip"}
    ended = sink.events[-1]
    assert ended.kind == "call.ended" and ended.call_id == "1.1"
    assert ended.data["duration_s"] == 10.0 and ended.data["answered"] and ended.data["bridged"]
    assert ended.data["variables"] == {"CC_QUEUE": "vip"} and ended.data["dtmf"] == "7"
    kinds = [e.kind for e in sink.events]
    assert kinds == [
        "call.started", "channel.created", "channel.answered", "channel.created",
        "channel.answered", "channel.bridged", "channel.bridged", "dtmf", "channel.var",
        "channel.unbridged", "channel.hungup", "channel.hungup", "call.ended",
    ]  # fmt: skip
    assert len({e.id for e in sink.events}) == len(sink.events)


def test_queue_call_capture_groups_caller_and_both_agents(captures: Path) -> None:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    replay(tracker, captures / "originate_local_queue.txt")
    assert tracker.summary().active_calls == 0
    (call,) = tracker.recent.values()
    assert call.caller_num == "5555000" and call.bridged_at is not None
    # caller Local pair and both ringall agent pairs (the loser hung up)
    assert len(call.channels) == 6
    causes = {ch.name.split("@")[0]: ch.hangup_cause for ch in call.channels.values()}
    assert 26 in causes.values()  # "Answered elsewhere" for the agent who lost the race
    dials = [e for e in sink.events if e.kind == "dial.end"]
    assert {e.data["status"] for e in dials} >= {"ANSWER"}


def test_reconcile_after_restart_says_so_and_adopts_bridged_channels() -> None:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    tracker.apply(_new("1.1", "PJSIP/trunk-1"), 100.0)
    tracker.reconcile(
        [
            _channel("7.1", "PJSIP/trunk-7", bridge="b-7"),
            _channel("7.2", "PJSIP/1001-7", bridge="b-7"),
        ],
        300.0,
        detail="asterisk_restart",
    )
    vanished = [e for e in sink.events if e.kind == "channel.vanished"]
    assert vanished[0].data["reason"] == "vanished_asterisk_restart"
    assert vanished[0].data["cause_txt"] == "Asterisk restarted"
    ended = next(e for e in sink.events if e.kind == "call.ended")
    assert ended.data["reason"] == "vanished" and ended.data["detail"] == "asterisk_restart"
    started = [e for e in sink.events if e.kind == "call.started" and e.data["adopted"]]
    assert [e.at for e in started] == [300.0, 300.0]
    assert all(e.data["started_at"] == 295.0 for e in started)
    assert {c.name for c in tracker.bridge_members("b-7")} == {"PJSIP/trunk-7", "PJSIP/1001-7"}
    assert tracker.call("7.1").state == "bridged"  # type: ignore[union-attr]


def test_reconcile_updates_known_channels_and_restores_variables() -> None:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    tracker.apply(_new("1.2", "PJSIP/trunk-2"), 100.0)
    assert tracker.reconcile([_channel("1.2", "PJSIP/trunk-2", bridge="b-1")], 120.0) == (0, 0)
    ch = tracker.channel("1.2")
    # answered unseen: no earlier than the channel's creation
    assert ch is not None and ch.state == 6 and ch.answered_at == 100.0 and ch.bridge_id == "b-1"
    tracker.restore_variables("1.2", {"CC_QUEUE": "billing", "HOLD_SECS": "3"}, 121.0)
    assert tracker.call("1.2").variables == {"CC_QUEUE": "billing"}  # type: ignore[union-attr]
    tracker.restore_variables("gone", {"CC_QUEUE": "x"}, 121.0)  # unknown: ignored


def test_raw_and_unknown_events_change_nothing() -> None:
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    tracker.apply(ev.RawEvent(AmiMessage.of(("Event", "LocalBridge"))), 1.0)
    tracker.apply(_block(ev.Newstate, "4.4", "PJSIP/x", "4.4", ChannelState=6), 1.0)
    tracker.apply(_block(ev.BridgeEnter, "4.4", "PJSIP/x", "4.4", BridgeUniqueid="b"), 1.0)
    assert not sink.events and tracker.summary().unknown_channel_events == 2


def test_recent_calls_are_kept_least_recently_used() -> None:
    tracker = CallTracker(ListSink(), ids=counter_ids(), recent=3)
    for i in range(3):
        uid = f"6.{i}"
        tracker.apply(ev.Newchannel(Channel=f"PJSIP/t-{i}", Uniqueid=uid, Linkedid=uid), float(i))
        tracker.apply(ev.Hangup(Channel=f"PJSIP/t-{i}", Uniqueid=uid, Linkedid=uid), float(i))
    assert tracker.call("6.0") is not None  # looked up: now the most recent
    tracker.apply(ev.Newchannel(Channel="PJSIP/t-9", Uniqueid="6.9", Linkedid="6.9"), 9.0)
    tracker.apply(ev.Hangup(Channel="PJSIP/t-9", Uniqueid="6.9", Linkedid="6.9"), 9.0)
    assert list(tracker.recent) == ["6.2", "6.0", "6.9"]
