"""Reconnect backoff: capped, exponential, jittered."""

from __future__ import annotations

import random

from cti.connection import backoff_delay


def test_backoff_grows_then_caps_with_jitter() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, 0.5, 30.0, rng) for n in range(12)]
    for n, delay in enumerate(delays):
        cap = min(30.0, 0.5 * 2**n)
        assert cap / 2 <= delay <= cap
    assert max(delays) <= 30.0 and delays[-1] >= 15.0
    assert len(set(delays)) == len(delays)  # jittered, never in lockstep
