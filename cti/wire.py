"""AMI wire format: framing and encoding of manager messages.

Theory of operation
-------------------
Asterisk's manager protocol is line based: after a single banner line
(``Asterisk Call Manager/11.0.0``) every message is a block of ``Key: Value``
lines ended by CRLF and terminated by an empty line. Asterisk itself accepts a
bare LF as line end on input, so the framer does too.

The framer is fed raw bytes in whatever chunks the socket delivers and yields
whole messages. It is bounded: a message longer than ``max_message_bytes`` or
with more than ``max_headers`` lines is dropped and reported as a
:class:`FrameError` instead of growing memory, and the framer resynchronises at
the next blank line. Bytes that are not UTF-8 are decoded with replacement
characters and the message is flagged, never rejected. A line without a colon
is ignored, as Asterisk ignores it.

This module does no I/O; both the AMI client (``cti``) and the Asterisk
simulator (``ccserver.sim``) use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CRLF = "\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
DEFAULT_MAX_HEADERS = 4096


class AmiMessage:
    """One AMI message: ordered ``(key, value)`` headers, keys as sent.

    Lookups by the exact header name (as Asterisk spells it) are a dict hit;
    other spellings fall back to a case-insensitive scan.
    """

    __slots__ = ("_fields", "_lower", "headers", "lossy")

    def __init__(self, headers: tuple[tuple[str, str], ...], lossy: bool = False) -> None:
        self.headers = headers
        self.lossy = lossy  # some bytes were not valid UTF-8
        fields = dict(headers)
        if len(fields) != len(headers):
            # a repeated key (ChanVariable, Variable...): the first occurrence wins
            fields = dict(reversed(headers))
        self._fields = fields
        self._lower: dict[str, str] | None = None  # built on the first case-insensitive miss

    def __repr__(self) -> str:
        return f"AmiMessage(headers={self.headers!r}, lossy={self.lossy})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AmiMessage) and other.headers == self.headers

    def __hash__(self) -> int:
        return hash(self.headers)

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of a header, matched case-insensitively."""
        value = self._fields.get(key)
        if value is not None:
            return value
        if self._lower is None:
            self._lower = {k.lower(): v for k, v in reversed(self.headers)}
        return self._lower.get(key.lower(), default)

    def exact(self, key: str) -> str | None:
        """A header by Asterisk's own spelling of its name (the hot-path lookup)."""
        return self._fields.get(key)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated header (``ChanVariable``, ``Variable``...)."""
        wanted = key.lower()
        return [v for k, v in self.headers if k.lower() == wanted]

    def as_dict(self) -> dict[str, str]:
        """Headers as a dict, first occurrence wins, keys as sent (do not modify)."""
        return self._fields

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action(self) -> str | None:
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def encode(self) -> bytes:
        """The message as Asterisk writes it on the wire."""
        return encode_message(self.headers)

    @classmethod
    def of(cls, *pairs: tuple[str, str], **kwargs: str) -> AmiMessage:
        """Build a message from pairs then keyword headers (handy in tests)."""
        return cls(tuple(pairs) + tuple(kwargs.items()))


@dataclass(frozen=True, slots=True)
class FrameError:
    """A message the framer had to drop, and why (never holds the raw bytes)."""

    reason: str
    size: int


def encode_message(headers: Iterable[tuple[str, str]]) -> bytes:
    """Encode headers as one CRLF-framed AMI message, blank line included."""
    parts = [f"{k}: {v}{CRLF}" for k, v in headers]
    parts.append(CRLF)
    return "".join(parts).encode("utf-8")


def parse_block(block: bytes, max_headers: int = DEFAULT_MAX_HEADERS) -> AmiMessage | FrameError:
    """Parse one message block (without its terminating blank line)."""
    try:
        return parse_text(block.decode("utf-8"), len(block), max_headers)
    except UnicodeDecodeError:
        return parse_text(block.decode("utf-8", errors="replace"), len(block), max_headers, True)


def parse_text(
    text: str, size: int, max_headers: int = DEFAULT_MAX_HEADERS, lossy: bool = False
) -> AmiMessage | FrameError:
    """Parse one decoded message block of ``size`` bytes on the wire."""
    lines = text.split("\r\n")
    if len(lines) > max_headers:
        return FrameError("too many header lines", size)
    if text.count("\n") != len(lines) - 1:  # bare LF (or mixed) line ends
        lines = text.splitlines()
        if len(lines) > max_headers:
            return FrameError("too many header lines", size)
    headers = [(key, value) for key, sep, value in [line.partition(": ") for line in lines] if sep]
    if len(headers) != len(lines):
        # rare: "Key:value" without the space, or a line without a colon (ignored,
        # as Asterisk ignores it); redo this message line by line
        headers = []
        for line in lines:
            key, sep, value = line.partition(":")
            if sep:
                headers.append((key.strip(), value[1:] if value.startswith(" ") else value))
    if not headers:
        return FrameError("no headers", size)
    return AmiMessage(tuple(headers), lossy)


class AmiFramer:
    """Incremental, bounded splitter of an AMI byte stream into messages."""

    def __init__(
        self,
        *,
        expect_banner: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_headers: int = DEFAULT_MAX_HEADERS,
    ) -> None:
        self._buf = bytearray()
        self._awaiting_banner = expect_banner
        self._discarding = False
        self._discarded = 0
        self.banner: str | None = None
        self.max_message_bytes = max_message_bytes
        self.max_headers = max_headers

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[AmiMessage | FrameError]:
        """Feed bytes; return the messages (or drop reports) they complete."""
        out: list[AmiMessage | FrameError] = []
        buf = self._buf
        buf += data
        if self._awaiting_banner and not self._take_banner():
            return out
        if not self._discarding and b"\n\n" not in buf:
            # the usual case, Asterisk's pure CRLF framing: cut after the last
            # terminator and split what precedes it in one pass
            end = buf.rfind(b"\r\n\r\n")
            if end >= 0:
                complete = bytes(buf[:end])
                del buf[: end + 4]
                self._parse_crlf(complete, out)
        else:
            self._split_slowly(out)
        if len(buf) > self.max_message_bytes:
            # No terminator in sight: keep only a tail that might hold the
            # start of one, and remember to report the drop when it arrives.
            self._discarding = True
            self._discarded += len(buf) - 3
            del buf[:-3]
        return out

    def _take_banner(self) -> bool:
        """Consume the banner line if it is complete; False while it is not."""
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) <= self.max_message_bytes:
                return False
            self._awaiting_banner = False  # no banner: frame the rest as messages
            return True
        line = bytes(buf[:nl]).rstrip(b"\r").decode("utf-8", errors="replace")
        self._awaiting_banner = False
        if line.startswith(BANNER_PREFIX):
            self.banner = line
            del buf[: nl + 1]
        return True

    def _parse_crlf(self, complete: bytes, out: list[AmiMessage | FrameError]) -> None:
        """Parse CRLF-framed messages (their terminators removed between them)."""
        limit, max_headers = self.max_message_bytes, self.max_headers
        try:
            text = complete.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if len(text) != len(complete):
            # not plain ASCII: decode block by block so sizes stay in bytes and
            # a bad byte flags only its own message
            for raw in complete.split(b"\r\n\r\n"):
                if len(raw) > limit:
                    out.append(FrameError("message too large", len(raw)))
                elif raw.strip(b"\r\n"):
                    out.append(parse_block(raw, max_headers))
            return
        append = out.append
        for block in text.split("\r\n\r\n"):
            size = len(block)
            if size > limit:
                append(FrameError("message too large", size))
            elif block and (block[0] != "\r" or block.strip("\r\n")):
                append(parse_text(block, size, max_headers))

    def _split_slowly(self, out: list[AmiMessage | FrameError]) -> None:
        """Split a buffer with bare-LF line ends, or one being discarded."""
        buf = self._buf
        start = 0
        while True:
            end, sep_len = _find_terminator(buf, start)
            if end < 0:
                break
            size = end - start
            if self._discarding:
                self._discarding = False
                out.append(FrameError("message too large", self._discarded + size))
                self._discarded = 0
            elif size > self.max_message_bytes:
                out.append(FrameError("message too large", size))
            elif size:
                block = bytes(buf[start:end])
                if block.strip(b"\r\n"):
                    out.append(parse_block(block, self.max_headers))
            start = end + sep_len
        if start:
            del buf[:start]


def _find_terminator(buf: bytearray, start: int) -> tuple[int, int]:
    """Index and length of the first blank-line terminator at or after start."""
    crlf = buf.find(b"\r\n\r\n", start)
    # Bound the bare-LF search so a CRLF stream is never rescanned to its end.
    lf = buf.find(b"\n\n", start, crlf + 4 if crlf >= 0 else len(buf))
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0
