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
