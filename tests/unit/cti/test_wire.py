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


def test_one_bad_byte_flags_only_its_own_message() -> None:
    data = (
        b"Event: A\r\nX: 1\r\n\r\n"
        b"Event: B\r\nCallerIDName: Jos\xe9\r\n\r\n"
        b"Event: C\r\nX: \xc3\xa9\r\n\r\n"
    )
    out = messages(AmiFramer(expect_banner=False).feed(data))
    assert [(m.event, m.lossy) for m in out] == [("A", False), ("B", True), ("C", False)]
    assert out[2]["X"] == "é"


def test_stray_blank_lines_between_messages_are_skipped() -> None:
    out = AmiFramer(expect_banner=False).feed(
        b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\nEvent: C\r\n\r\n"
    )
    assert [m.event for m in messages(out)] == ["A", "B", "C"]
    assert not [m for m in out if isinstance(m, FrameError)]


def test_repeated_header_first_wins_and_all_are_kept() -> None:
    (msg,) = AmiFramer(expect_banner=False).feed(
        b"Event: Status\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    )
    assert isinstance(msg, AmiMessage)
    assert msg["Variable"] == "A=1" and msg.get_all("Variable") == ["A=1", "B=2"]


def test_a_message_larger_than_the_bound_in_one_chunk_is_refused() -> None:
    framer = AmiFramer(expect_banner=False, max_message_bytes=1024)
    out = framer.feed(b"Event: Big\r\nData: " + b"x" * 5000 + b"\r\n\r\nEvent: Ok\r\n\r\n")
    assert isinstance(out[0], FrameError) and out[0].reason == "message too large"
    assert [m.event for m in messages(out)] == ["Ok"]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(
        [
            "login.txt",
            "errors.txt",
            "holding_bridge.txt",
            "dtmf_fastagi.txt",
            "holding_redirect.txt",
        ]
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30),
)
def test_random_splits_of_every_capture_give_the_same_messages(
    captures: Path, name: str, cuts: list[int]
) -> None:
    data = (captures / name).read_bytes()
    whole = AmiFramer().feed(data)
    framer = AmiFramer()
    pieces: list[AmiMessage | FrameError] = []
    last = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        pieces += framer.feed(data[last:cut])
        last = cut
    assert pieces == whole and len(whole) > 5


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(min_value=0, max_value=1 << 20), lf=st.booleans())
def test_bare_lf_stream_splits_like_crlf(captures: Path, cut: int, lf: bool) -> None:
    data = (captures / "holding_bridge.txt").read_bytes()
    if lf:
        data = data.replace(b"\r\n", b"\n")
    cut %= len(data) + 1
    framer = AmiFramer()
    out = messages(framer.feed(data[:cut]) + framer.feed(data[cut:]))
    assert out == messages(AmiFramer().feed((captures / "holding_bridge.txt").read_bytes()))
