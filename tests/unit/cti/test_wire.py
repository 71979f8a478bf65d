"""The AMI framer: real captures, bad input, and random splits."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.wire import AmiFramer, AmiMessage, FrameError, encode_message

CAPTURE_FILES = ["login.txt", "errors.txt", "holding_redirect.txt", "coreshowchannels.txt"]


def messages(items: list[AmiMessage | FrameError]) -> list[AmiMessage]:
    return [m for m in items if isinstance(m, AmiMessage)]


def test_login_capture_frames_exactly(captures: Path) -> None:
    framer = AmiFramer()
    out = framer.feed((captures / "login.txt").read_bytes())
    assert framer.banner == "Asterisk Call Manager/11.0.0"
    first = out[0]
    assert isinstance(first, AmiMessage)
    assert first.headers == (
        ("Response", "Success"),
        ("ActionID", "ami1-1"),
        ("Message", "Authentication accepted"),
    )
    assert [m.event for m in messages(out)[1:3]] == ["FullyBooted", "SuccessfulAuth"]


def test_every_capture_message_round_trips(captures: Path) -> None:
    for name in CAPTURE_FILES:
        raw = (captures / name).read_bytes()
        banner_len = raw.index(b"\r\n") + 2
        # the first connection only: later banners start new connections
        body = raw[banner_len:].split(b"Asterisk Call Manager/")[0]
        out = messages(AmiFramer(expect_banner=False).feed(body))
        assert out, name
        assert b"".join(m.encode() for m in out) == body, name


def test_header_without_colon_is_ignored_like_asterisk() -> None:
    out = AmiFramer(expect_banner=False).feed(
        b"Action: Ping\r\nActionID: garbage-line\r\nThis line has no colon\r\n\r\n"
    )
    assert out == [AmiMessage((("Action", "Ping"), ("ActionID", "garbage-line")))]


def test_bare_lf_and_crlf_frames_alike() -> None:
    crlf = AmiFramer(expect_banner=False).feed(b"Event: A\r\nX: 1\r\n\r\n")
    lf = AmiFramer(expect_banner=False).feed(b"Event: A\nX: 1\n\n")
    assert crlf == lf


def test_values_keep_colons_and_lookups_ignore_case() -> None:
    (msg,) = AmiFramer(expect_banner=False).feed(b"Event: X\r\nAppData: a:b: c\r\nEmpty: \r\n\r\n")
    assert isinstance(msg, AmiMessage)
    assert msg.get("appdata") == "a:b: c"
    assert msg["Empty"] == ""
    assert msg.get("missing") is None


def test_non_utf8_bytes_are_replaced_and_flagged() -> None:
    (msg,) = AmiFramer(expect_banner=False).feed(
        b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\r\n"
    )
    assert isinstance(msg, AmiMessage)
    assert msg.lossy
    assert msg["CallerIDName"] == "Jos\ufffd"


def test_one_megabyte_line_is_dropped_and_memory_stays_bounded() -> None:
    framer = AmiFramer(expect_banner=False, max_message_bytes=64 * 1024)
    out: list[AmiMessage | FrameError] = []
    chunk = b"X" * 65536
    out += framer.feed(b"Event: Huge\r\nData: ")
    for _ in range(16):
        out += framer.feed(chunk)
        assert framer.buffered <= 64 * 1024
    out += framer.feed(b"\r\n\r\nEvent: After\r\n\r\n")
    assert isinstance(out[0], FrameError) and out[0].reason == "message too large"
    assert out[0].size > 1_000_000
    assert [m.event for m in messages(out)] == ["After"]


def test_ten_thousand_headers_are_refused() -> None:
    big = b"Event: Many\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(10_000)) + b"\r\n"
    framer = AmiFramer(expect_banner=False, max_message_bytes=1 << 20, max_headers=4096)
    out = framer.feed(big + b"Event: Next\r\n\r\n")
    assert isinstance(out[0], FrameError) and out[0].reason == "too many header lines"
    assert [m.event for m in messages(out)] == ["Next"]


def test_encode_is_crlf_framed() -> None:
    assert encode_message([("Action", "Ping"), ("ActionID", "1")]) == (
        b"Action: Ping\r\nActionID: 1\r\n\r\n"
    )


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=110_000), max_size=40))
def test_random_splits_give_the_same_messages(captures: Path, cuts: list[int]) -> None:
    data = (captures / "coreshowchannels.txt").read_bytes()
    whole = AmiFramer().feed(data)
    framer = AmiFramer()
    pieces: list[AmiMessage | FrameError] = []
    last = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        pieces += framer.feed(data[last:cut])
        last = cut
    assert pieces == whole


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=20))
def test_arbitrary_bytes_never_raise_and_stay_bounded(chunks: list[bytes]) -> None:
    framer = AmiFramer(max_message_bytes=4096, max_headers=64)
    for chunk in chunks:
        for item in framer.feed(chunk):
            assert isinstance(item, AmiMessage | FrameError)
        assert framer.buffered <= 4096 + len(chunk)
