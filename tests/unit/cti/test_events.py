"""Typing AMI events: what the product reads is typed, everything else kept raw."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cti import events as ev
from cti.wire import AmiFramer, AmiMessage


def capture_events(path: Path) -> list[AmiMessage]:
    return [m for m in AmiFramer().feed(path.read_bytes()) if isinstance(m, AmiMessage) and m.event]


def test_capture_events_type_with_asterisk_header_names(captures: Path) -> None:
    typed = [ev.type_event(m) for m in capture_events(captures / "holding_redirect.txt")]
    dial_end = next(e for e in typed if isinstance(e, ev.DialEnd) and e.channel)
    assert dial_end.dial_status == "ANSWER"
    assert dial_end.dest_channel.startswith("Local/1001@agents-")
    hangup = next(e for e in typed if isinstance(e, ev.Hangup))
    assert (hangup.cause, hangup.cause_txt) == (16, "Normal Clearing")
    enter = next(e for e in typed if isinstance(e, ev.BridgeEnter))
    assert enter.bridge_uniqueid and enter.uniqueid and enter.linkedid
    # nothing the product reads is left raw
    raw = {e.name for e in typed if isinstance(e, ev.RawEvent)}
    assert raw.isdisjoint(ev.EVENT_TYPES)


def test_dtmf_and_coreshowchannel_from_captures(captures: Path) -> None:
    typed = [ev.type_event(m) for m in capture_events(captures / "dtmf_fastagi.txt")]
    digits = [e.digit for e in typed if isinstance(e, ev.DTMFEnd)]
    assert digits[:1] == ["5"]
    listing = [ev.type_event(m) for m in capture_events(captures / "coreshowchannels.txt")]
    item = next(e for e in listing if isinstance(e, ev.CoreShowChannel))
    assert item.duration_s >= 0 and item.application


def test_unknown_event_is_kept_raw() -> None:
    msg = AmiMessage.of(("Event", "QueueMemberStatus"), ("Queue", "support"))
    out = ev.type_event(msg)
    assert isinstance(out, ev.RawEvent) and out.message is msg and out.error is None


def test_invalid_event_is_kept_raw_and_logged_masked(caplog: pytest.LogCaptureFixture) -> None:
    msg = AmiMessage.of(
        ("Event", "Hangup"), ("Channel", "PJSIP/trunk-1"), ("CallerIDNum", "5551234567"),
        ("Uniqueid", "1.1"), ("Linkedid", "1.1"), ("Cause", "not-a-number"),
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        out = ev.type_event(msg)
    assert isinstance(out, ev.RawEvent) and out.error and "Cause" in out.error
    assert "5551234567" not in caplog.text and "*******567" in caplog.text


CAPTURES = [
    "login.txt", "errors.txt", "holding_bridge.txt", "holding_redirect.txt",
    "originate_local_queue.txt", "coreshowchannels.txt", "dtmf_fastagi.txt",
]  # fmt: skip


@pytest.mark.parametrize("name", CAPTURES)
def test_every_product_event_of_every_capture_types(captures: Path, name: str) -> None:
    for msg in capture_events(captures / name):
        typed = ev.type_event(msg)
        if msg.event in ev.EVENT_TYPES:
            assert not isinstance(typed, ev.RawEvent), (msg, typed.error)
            assert typed.name == msg.event
        else:
            assert isinstance(typed, ev.RawEvent) and typed.message is msg


def test_status_list_and_request_events_from_captures(captures: Path) -> None:
    typed = [ev.type_event(m) for m in capture_events(captures / "coreshowchannels.txt")]
    status = [e for e in typed if isinstance(e, ev.Status)]
    assert status and all(s.uniqueid and s.linkedid for s in status)
    assert any(s.application == "Wait" and s.seconds >= 0 for s in status)
    complete = [e for e in typed if isinstance(e, ev.StatusComplete)]
    assert [c.list_items for c in complete] == [8, 1]
    listing = [e for e in typed if isinstance(e, ev.CoreShowChannelsComplete)]
    assert listing and listing[0].list_items == len(
        [
            e
            for e in typed
            if isinstance(e, ev.CoreShowChannel) and e.action_id == listing[0].action_id
        ]
    )
    redirect = [ev.type_event(m) for m in capture_events(captures / "holding_redirect.txt")]
    assert any(isinstance(e, ev.SoftHangupRequest) for e in redirect)
    assert any(isinstance(e, ev.HangupRequest) for e in redirect)
    assert any(isinstance(e, ev.NewConnectedLine) and e.connected_line_num for e in redirect)
    booted = [ev.type_event(m) for m in capture_events(captures / "login.txt")]
    assert [e.uptime for e in booted if isinstance(e, ev.FullyBooted)] == [172]


def test_peer_and_contact_status() -> None:
    peer = ev.type_event(
        AmiMessage.of(
            ("Event", "PeerStatus"),
            ("ChannelType", "PJSIP"),
            ("Peer", "PJSIP/1001"),
            ("PeerStatus", "Reachable"),
        )
    )
    assert isinstance(peer, ev.PeerStatus) and peer.peer_status == "Reachable"
    contact = ev.type_event(
        AmiMessage.of(
            ("Event", "ContactStatus"),
            ("URI", "sip:1001@10.0.0.5:5060"),
            ("ContactStatus", "Removed"),
            ("AOR", "1001"),
            ("EndpointName", "1001"),
        )
    )
    assert isinstance(contact, ev.ContactStatus) and contact.contact_status == "Removed"


# values a broken or hostile peer may put in any header
HOSTILE = [
    "", " ", "²", "٣", "-1", "-0", "+3", "1e99", "1.5", "nan", "inf", "-inf", "0x10", "1_000",
    "9" * 50, "-" + "9" * 50, "9" * 5000, "\x00", "\ufffd\ufffd", "é" * 2000, "a:b:c",
    "99999999999:00:00", "-1:-1:-1", "00:00:99999999999", "²:²:²", "None", "null", "{}",
]  # fmt: skip


def _plausible(annotation: object) -> str:
    return "1" if "int" in str(annotation) else "x"


def _base(cls: type[ev.AmiEvent]) -> list[tuple[str, str]]:
    """A message that types as ``cls``: every field's header with a plausible value."""
    headers = [("Event", cls.name)]
    for name, info in cls.model_fields.items():
        headers.append((info.alias or name, _plausible(info.annotation)))
    return headers


@pytest.mark.parametrize("name", sorted(ev.EVENT_TYPES))
def test_hostile_values_in_every_field_type_or_stay_raw_never_raise(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    from ccserver.store.writer import _encode
    from contracts.sink import ListSink
    from cti.tracker import CallTracker, counter_ids

    cls = ev.EVENT_TYPES[name]
    base = _base(cls)
    assert isinstance(ev.type_event(AmiMessage(tuple(base))), cls)
    sink = ListSink()
    tracker = CallTracker(sink, ids=counter_ids())
    # a channel the events can refer to, so that the tracker's handlers really run
    tracker.apply(ev.type_event(AmiMessage(tuple(_base(ev.Newchannel)))), 1.7e9)
    raw = typed = 0
    with caplog.at_level(logging.ERROR):
        for i, (key, _) in enumerate(base[1:], start=1):
            for value in HOSTILE:
                headers = list(base)
                headers[i] = (key, value)
                out = ev.type_event(AmiMessage(tuple(headers)))
                assert isinstance(out, cls | ev.RawEvent)
                if isinstance(out, ev.RawEvent):
                    raw += 1
                    assert out.error
                else:
                    typed += 1
                    for number in (v for v in out.model_dump().values() if isinstance(v, int)):
                        assert abs(number) < 2**40  # no unbounded integer gets through
                tracker.apply(out, 1.7e9 + i)  # the consumer never raises on it either
                if isinstance(out, ev.CoreShowChannel):
                    assert 0 <= out.duration_s <= ev.MAX_CHANNEL_AGE_S
                    tracker.reconcile([out], 1.7e9 + i)
    # whatever the tracker recorded can be stored (``_encode`` raises if not)
    for n, call_event in enumerate(sink.events, start=1):
        _encode(n, call_event)
    assert typed > 0
    assert raw > 0 or all(_plausible(f.annotation) == "x" for f in cls.model_fields.values())
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("value", ["²", "-1", "1e99", "9" * 50, "", "1.5"])
def test_a_bad_uptime_is_no_uptime(value: str) -> None:
    from cti.connection import parse_uptime

    assert parse_uptime(value) is None
    assert isinstance(ev.type_event(AmiMessage.of(("Event", "FullyBooted"), ("Uptime", value))),
                      ev.RawEvent)  # fmt: skip
    assert parse_uptime("172") == 172
