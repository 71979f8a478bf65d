"""PIN hashing: salted, verifiable, never the PIN itself."""

from __future__ import annotations

from ivr.accounts import check_pin, hash_pin


def test_pin_hash_verifies_only_the_right_pin() -> None:
    stored = hash_pin("1234")
    assert "1234" not in stored
    assert check_pin("1234", stored)
    assert not check_pin("1235", stored)
    assert not check_pin("", stored)


def test_same_pin_hashes_differently_each_time() -> None:
    assert hash_pin("1234") != hash_pin("1234")


def test_malformed_stored_hash_never_matches() -> None:
    assert not check_pin("1234", "1234")
    assert not check_pin("1234", "md5$1$00$00")
