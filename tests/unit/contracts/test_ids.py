"""Event ids: unique across factories (processes, restarts), readable, short enough to store."""

from __future__ import annotations

import re

import pytest

from contracts.ids import MAX_TAG, unique_ids, unique_prefix
from ivr.caller import EventIds


def test_factories_made_in_the_same_instant_never_share_an_id() -> None:
    factories = [unique_ids("acd") for _ in range(2000)]  # as many restarts in one second
    prefixes = {f().rsplit("-", 1)[0] for f in factories}
    assert len(prefixes) == 2000


def test_ids_carry_the_tag_a_sortable_prefix_and_a_counter() -> None:
    ids = unique_ids("ivr-1700000000")
    first, second = ids(), ids()
    assert re.fullmatch(r"ivr-1700000000-[0-9A-HJKMNP-TV-Z]{26}-1", first)
    assert second == first[:-1] + "2"
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}-1", unique_ids()())
    assert unique_prefix("x")[:12] <= unique_prefix("x")[:12]  # time first: runs sort by start


def test_the_longest_tag_still_fits_the_event_log_id_column() -> None:
    ids = unique_ids("t" * MAX_TAG)
    for _ in range(10**6 - 1):
        ids()
    assert len(ids()) <= 64  # a millionth id, and room for far more
    with pytest.raises(ValueError, match="longer than"):
        unique_ids("t" * (MAX_TAG + 1))


def test_ivr_event_ids_keep_their_call_signature_and_are_unique_per_run() -> None:
    runs = [EventIds("ivr-1700000000"), EventIds("ivr-1700000000"), EventIds()]
    ids = [run() for run in runs for _ in range(3)]
    assert len(set(ids)) == 9
    assert ids[0].startswith("ivr-1700000000-") and ids[6].startswith("ivr-")
