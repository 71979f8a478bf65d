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
