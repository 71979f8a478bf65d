"""Event ids that are unique across processes, restarts and clock steps.

An event id is the idempotency key of the event log (``ON CONFLICT (id) DO
NOTHING``): two events that share one are silently reduced to one. So an id
must never come from the clock alone: two processes on one database, a restart
within the same second, or a clock stepped back would repeat it.

``unique_ids(tag)`` gives a factory of ids ``<tag>-<time><random>-<n>``: a
per-factory prefix of 26 Crockford base32 characters (48 bits of milliseconds,
so ids of one run sort together and show roughly when it started, then 80 bits
from ``os.urandom``, which alone make the prefix unique), and a counter. Per
event it costs one counter step and one f-string, no randomness.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# the event log's id column is String(64): tag, dashes, 26 characters, a counter
MAX_TAG = 24


def _base32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        out.append(_CROCKFORD[digit])
    return "".join(reversed(out))


def unique_prefix(tag: str = "") -> str:
    """``<tag>-`` and a fresh time+random part (ULID-like); never the same twice.

    ``tag`` is only for people reading the ids (``ivr``, ``acd``, or the
    former ``ivr-<start second>``); uniqueness comes from the random part.
    """
    if len(tag) > MAX_TAG:
        raise ValueError(f"id tag {tag[:30]!r} longer than {MAX_TAG} characters")
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    randomness = int.from_bytes(os.urandom(10), "big")
    part = _base32(millis, 10) + _base32(randomness, 16)
    return f"{tag}-{part}" if tag else part


def unique_ids(tag: str = "") -> Callable[[], str]:
    """The id factory of one producer: ``unique_prefix(tag)`` plus a counter from 1."""
    prefix = unique_prefix(tag)
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"
