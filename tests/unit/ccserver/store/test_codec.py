"""The event log's line codec: COPY text lines, exact times, escapes, older spools."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from ccserver.store.codec import at_text, copy_line, decode, encode, records_of, seq_of
from contracts.sink import CallEvent


def test_times_are_the_text_of_the_instant_datetime_gives() -> None:
    # the key is (id, at): a replay must name the very same microsecond as before
    rng = random.Random(7)
    values = [rng.uniform(-62_135_596_800.0, 253_402_300_799.0) for _ in range(20_000)]
    values += [rng.uniform(1.7e9, 1.8e9) for _ in range(20_000)]
    values += [0.0, 1.5, -0.5, -1e-7, 0.9999999, 1.0000005, 2.9999995, -62_135_596_800.0]
    for at in values:
        assert at_text(at) == datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")


def test_a_line_carries_any_text_and_decodes_to_the_same_record() -> None:
    event = CallEvent("id\t1\\x", 1.25, "call\n2", "kind\r", {"s": "tab\there \\ \u00e9"})
    record, line = encode(9, event)
    assert line.count("\t") == 5 and line.count("\n") == 1  # one COPY line, six fields
    assert record == (9, "id\t1\\x", 1.25, "call\n2", "kind\r", '{"s":"tab\\there \\\\ \\u00e9"}')
    blob = line.encode() * 2
    assert seq_of(line.encode()) == 9
    assert records_of(blob, "kind\r") == [record, record] and records_of(blob, "other") == []


@pytest.mark.parametrize(
    "bad",
    [
        CallEvent("x" * 65, 1.0, "c", "k"),
        CallEvent("a\0b", 1.0, "c", "k"),
        CallEvent("a", float("nan"), "c", "k"),
        CallEvent("a", 1e300, "c", "k"),
        CallEvent("a", 1.0, "c", "k", {"x": float("inf")}),
    ],
)
def test_what_the_database_cannot_store_is_refused_at_encoding(bad: CallEvent) -> None:
    with pytest.raises(ValueError):
        encode(1, bad)


def test_an_older_spools_json_line_becomes_the_same_copy_line() -> None:
    event = CallEvent("ev-1", 1.5, "call-1", "call.started", {"caller": "555\\1"})
    old = (
        b'{"seq":3,"id":"ev-1","at":1.5,"call_id":"call-1","kind":"call.started",'
        b'"data":{"caller":"555\\\\1"}}\n'
    )
    assert decode(old) == encode(3, event)[0]
    assert copy_line(old) == encode(3, event)[1].encode()
    with pytest.raises(ValueError):
        copy_line(b"not\ta line\n")
