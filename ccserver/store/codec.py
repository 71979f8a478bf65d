"""The event log's row codec: an event encoded once, for the spool and the database.

An event is checked and encoded once, at intake, into a :data:`Record` (the
row as the database stores it, ``data`` already JSON text) and the spool line
that carries it; a spool line decodes back to the same record.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring_ascii

from contracts.sink import CallEvent

# (seq, id, at, call_id, kind, data as JSON text): one event, encoded once at intake
Record = tuple[int, str, float, str, str, str]

# compact JSON; anything JSON does not know (a Decimal, an enum) is stored as its str();
# NaN is refused (PostgreSQL's json type would reject the whole batch)
to_json = json.JSONEncoder(separators=(",", ":"), default=str, allow_nan=False).encode
# a JSON string literal; a TypeError for anything but a str
_json_str = encode_basestring_ascii
# what call_events can store: String(64) columns, a timestamp in years 1..9999
_MAX_TEXT = 64
_MIN_AT, _MAX_AT = -62_135_596_800.0, 253_402_300_799.0
# a spool line as ``encode`` writes it, when its strings need no unescaping
_LINE = re.compile(
    rb'\{"seq":(\d+),"id":"([^"\\]*)","at":([^,]+),"call_id":"([^"\\]*)",'
    rb'"kind":"([^"\\]*)","data":(.*)\}\n\Z',
    re.DOTALL,
)


def encode(seq: int, event: CallEvent) -> tuple[Record, str]:
    """The record and the spool line of one event; ValueError/TypeError if unstorable.

    Checked here, once, because a row the database refuses would fail its
    whole batch again at every retry. The line is a JSON object built around
    the already-encoded ``data`` (one JSON encoding per event, not two).
    """
    at = float(event.at)
    if not _MIN_AT <= at <= _MAX_AT:  # also false for NaN
        raise ValueError(f"time {at} out of range")
    for text in (event.id, event.call_id, event.kind):
        if len(text) > _MAX_TEXT:
            raise ValueError(f"{text[:20]!r}... longer than {_MAX_TEXT} characters")
    data = to_json(event.data)
    line = (
        f'{{"seq":{seq},"id":{_json_str(event.id)},"at":{at!r},'
        f'"call_id":{_json_str(event.call_id)},"kind":{_json_str(event.kind)},"data":{data}}}\n'
    )
    return (seq, event.id, at, event.call_id, event.kind, data), line


def decode(line: bytes) -> Record:
    """A spool line back to a record (ValueError, KeyError or TypeError if it is not one).

    Lines as ``encode`` writes them, with ids and kinds free of escapes (nearly
    all of them), are split by one regular expression, and ``data`` is kept as
    the JSON text it already is: three times faster than decoding the line and
    encoding ``data`` again, which is what any other line gets.
    """
    match = _LINE.match(line)
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
