"""Times and id chunks as the store's columns take them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ccserver.store.values import aware, chunks, epoch, epoch_or_none, utc


def test_utc_is_an_aware_utc_datetime() -> None:
    assert utc(1_700_000_000.25) == datetime(2023, 11, 14, 22, 13, 20, 250_000, tzinfo=UTC)
    assert utc(0).tzinfo is UTC


def test_naive_times_are_utc_and_aware_ones_keep_their_zone() -> None:
    naive = datetime(2023, 11, 14, 22, 13, 20, 250_000)  # as SQLite gives it back
    assert aware(naive) == utc(1_700_000_000.25)
    assert epoch(naive) == 1_700_000_000.25
    plus8 = datetime(2023, 11, 15, 6, 13, 20, tzinfo=timezone(timedelta(hours=8)))
    assert aware(plus8) is plus8
    assert epoch(plus8) == 1_700_000_000.0
    assert epoch(utc(1_700_000_000.5)) == 1_700_000_000.5
    assert epoch_or_none(None) is None
    assert epoch_or_none(naive) == 1_700_000_000.25


def test_chunks_cover_the_items_in_order() -> None:
    ids = [str(n) for n in range(12_001)]
    parts = list(chunks(ids))
    assert [len(p) for p in parts] == [5_000, 5_000, 2_001]
    assert [i for p in parts for i in p] == ids
    assert [list(p) for p in chunks("abcde", 2)] == [["a", "b"], ["c", "d"], ["e"]]
    assert list(chunks([], 3)) == []
