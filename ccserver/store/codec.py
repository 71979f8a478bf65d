"""The event log's row codec: an event encoded once, for the spool and for COPY.

An event is checked and encoded once, at intake, into one line of
PostgreSQL's ``COPY`` text format (the columns of ``COPY_COLUMNS``, tab
separated, backslash escaped). The same bytes are the spool's line, the
in-memory hand-off and what the committer streams to ``COPY``: no event is
decoded or encoded again on the way to PostgreSQL, and a backlog read back
from the spool goes to the database as the bytes it is. A line decodes to a
:data:`Record` (the row, ``data`` as JSON text) where the rows are needed as
values: SQLite, agent states, the id look-ups. A line of an older spool (one
JSON object) decodes too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from contracts.sink import CallEvent

# (seq, id, at, call_id, kind, data as JSON text): one event's row as values
Record = tuple[int, str, float, str, str, str]
COPY_COLUMNS = ("id", "at", "call_id", "kind", "data", "seq")

# compact JSON; anything JSON does not know (a Decimal, an enum) is stored as its str();
# NaN is refused (PostgreSQL's json type would reject the whole batch)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False)
to_json = _ENCODER.encode


def _c_encoder() -> Callable[[Any, int], Any] | None:
    """``to_json``'s own C encoder, made once (``encode`` makes a new one per call)."""
    if c_make_encoder is None:
        return None
    e = _ENCODER
    return c_make_encoder(  # type: ignore[no-any-return]
        {}, e.default, encode_basestring_ascii, None, e.key_separator, e.item_separator,
        e.sort_keys, e.skipkeys, e.allow_nan,
    )  # fmt: skip


_c_encode = _c_encoder()


def _data_json(data: Any) -> str:
    """``to_json(data)``, a third faster: the hot part of an event's encoding."""
    global _c_encode
    if _c_encode is None:
        return to_json(data)
    try:
        return "".join(_c_encode(data, 0))
    except BaseException:
        # a failed encoding can leave its circular-reference markers behind
        _c_encode = _c_encoder()
        raise


# what call_events can store: String(64) columns, a timestamp in years 1..9999
_MAX_TEXT = 64
_MIN_AT, _MAX_AT = -62_135_596_800.0, 253_402_300_799.0
# COPY text format: these characters of a value are written as escapes
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}
_ESCAPED = re.compile(r"\\[\\tnr]")
# the text of recent whole seconds, for ``at_text``
_SECONDS: dict[int, str] = {}
_SECONDS_KEPT = 4096
# an older spool's line (JSON), when its strings need no unescaping
_JSON_LINE = re.compile(
    rb'\{"seq":(\d+),"id":"([^"\\]*)","at":([^,]+),"call_id":"([^"\\]*)",'
    rb'"kind":"([^"\\]*)","data":(.*)\}\n\Z',
    re.DOTALL,
)


def _escape(text: str) -> str:
    if _SPECIAL.search(text) is None:
        return text
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], text)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPED.sub(lambda m: _UNESCAPES[m.group()], text)


def at_text(at: float) -> str:
    """The timestamp of epoch seconds ``at`` as COPY takes it: always the same text.

    The microseconds are rounded exactly as ``datetime.fromtimestamp`` rounds
    them (half to even, on the fraction), so the text names the instant the
    writer stored before; the date and time of the whole second are cached,
    since a second holds many events (this is a third of an event's encoding).
    """
    fraction, whole = math.modf(at)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    second = int(whole)
    prefix = _SECONDS.get(second)
    if prefix is None:
        if len(_SECONDS) >= _SECONDS_KEPT:
            _SECONDS.clear()
        # isoformat, not strftime: strftime's %Y has no leading zeros before 1000
        prefix = _SECONDS[second] = datetime.fromtimestamp(second, UTC).isoformat()[:19]
    return f"{prefix}.{micros:06d}+00:00"


def encode_line(seq: int, event: CallEvent) -> str:
    """One event's COPY text line; ValueError/TypeError if the database cannot store it.

    Checked here, once, because a row the database refuses would fail its
    whole batch again at every retry.
    """
    at = float(event.at)
    if not _MIN_AT <= at <= _MAX_AT:  # also false for NaN
        raise ValueError(f"time {at} out of range")
    id_, call_id, kind = event.id, event.call_id, event.kind
    if len(id_) > _MAX_TEXT or len(call_id) > _MAX_TEXT or len(kind) > _MAX_TEXT:
        raise ValueError(f"{max(id_, call_id, kind, key=len)[:20]!r}... longer than {_MAX_TEXT}")
    texts = id_ + call_id + kind  # a TypeError for anything but str
    if "\0" in texts:
        raise ValueError("a NUL character, which PostgreSQL text cannot hold")
    data = _data_json(event.data)  # ASCII: JSON escapes any control character itself
    if "\\" in data:
        data = data.replace("\\", "\\\\")
    if _SPECIAL.search(texts) is None:  # nearly always: nothing to escape
        return f"{id_}\t{at_text(at)}\t{call_id}\t{kind}\t{data}\t{seq}\n"
    return _line(seq, id_, at, call_id, kind, data)


def _line(seq: int, id_: str, at: float, call_id: str, kind: str, escaped_data: str) -> str:
    return (
        f"{_escape(id_)}\t{at_text(at)}\t{_escape(call_id)}\t{_escape(kind)}\t"
        f"{escaped_data}\t{seq}\n"
    )


def encode(seq: int, event: CallEvent) -> tuple[Record, str]:
    """The record and the line of one event (tools and tests; the writer needs only the line)."""
    line = encode_line(seq, event)
    return decode(line.encode()), line


def decode(line: bytes) -> Record:
    """A line back to a record (ValueError, KeyError or TypeError if it is not one)."""
    if line.startswith(b"{"):
        return _decode_json(line)
    fields = line.decode().rstrip("\n").split("\t")
    if len(fields) != 6:
        raise ValueError(f"{len(fields)} fields, not 6")
    id_, at, call_id, kind, data, seq = fields
    return (
        int(seq),
        _unescape(id_),
        datetime.fromisoformat(at).timestamp(),
        _unescape(call_id),
        _unescape(kind),
        _unescape(data),
    )


def copy_line(line: bytes) -> bytes:
    """A spool line as COPY takes it: checked, and an older spool's JSON line converted.

    For ``Spool.read``: a line that is neither is refused (ValueError), and
    the spool skips it with a warning.
    """
    if line.startswith(b"{"):
        # ``data`` as it stands: a line damaged on disk is refused by the database
        # (then dropped and counted), not silently skipped here
        seq, id_, at, call_id, kind, data = _decode_json(line)
        return _line(seq, id_, at, call_id, kind, _escape(data)).encode()
    if line.count(b"\t") != 5 or not line.endswith(b"\n"):
        raise ValueError("not a line of the event log")
    return line


def seq_of(line: bytes) -> int:
    """The seq of a COPY line (its last field)."""
    return int(line[line.rindex(b"\t") + 1 :])


def first_at(blob: bytes) -> float:
    """The time of the first line of a block, in epoch seconds."""
    start = blob.index(b"\t") + 1
    return datetime.fromisoformat(blob[start : blob.index(b"\t", start)].decode()).timestamp()


def records_of(blob: bytes, kind: str | None = None) -> list[Record]:
    """The records of a block of lines (only those of ``kind``, if given)."""
    lines: Iterable[bytes] = blob.splitlines(keepends=True)
    if kind is not None:
        tag = f"\t{_escape(kind)}\t".encode()
        if tag not in blob:
            return []
        lines = (line for line in lines if tag in line)
    return [decode(line) for line in lines]


def _decode_json(line: bytes) -> Record:
    """A line of an older spool (a JSON object) to its record."""
    match = _JSON_LINE.match(line)
    if match is not None:
        seq, id_, at, call_id, kind, data = match.groups()
        return int(seq), id_.decode(), float(at), call_id.decode(), kind.decode(), data.decode()
    item = json.loads(line)
    return (
        int(item["seq"]),
        str(item["id"]),
        float(item["at"]),
        str(item["call_id"]),
        str(item["kind"]),
        to_json(item["data"]),
    )
