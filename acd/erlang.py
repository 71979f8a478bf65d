"""Erlang C (M/M/c): service level, speed of answer and staffing.

Computed from the Erlang B recursion, which stays stable for hundreds of
agents where the textbook factorials overflow (see shared kpis.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Beyond any single queue; also bounds the O(N) work of a staffing search.
MAX_ERLANGS = 100_000


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of ``n`` servers offered ``a`` Erlangs."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    """Probability that a call waits (``n`` agents, ``a`` Erlangs, n > a)."""
    if n <= a:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


def service_level(n: int, a: float, aht_s: float, threshold_s: float) -> float:
    """Share of calls answered within ``threshold_s``."""
    if n <= a:
        return 0.0
    return 1 - erlang_c(n, a) * math.exp(-(n - a) * threshold_s / aht_s)


def asa(n: int, a: float, aht_s: float) -> float:
    """Average speed of answer in seconds."""
    return math.inf if n <= a else erlang_c(n, a) * aht_s / (n - a)


def occupancy(n: int, a: float) -> float:
    """Share of agent time busy with calls."""
    return min(1.0, a / n)


@dataclass(frozen=True)
class Staffing:
    """Agents needed for a target, and what that staffing achieves."""

    agents: int
    scheduled: int  # with shrinkage
    traffic_erlangs: float
    service_level: float
    asa_s: float
    occupancy: float


def agents_needed(
    calls: float,
    interval_s: float,
    aht_s: float,
    target: float,
    threshold_s: float,
    shrinkage: float = 0.0,
) -> Staffing:
    """The smallest number of agents whose service level meets the target.

    ``target`` and ``shrinkage`` are shares (0-1); scheduled agents are
    ``ceil(agents / (1 - shrinkage))``.
    """
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    if not 0 <= target < 1:
        raise ValueError("target must be in [0, 1)")  # 100% is never reached
    for name, value in (("interval", interval_s), ("AHT", aht_s)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, not {value!r}")
    if not (math.isfinite(calls) and calls >= 0):
        raise ValueError(f"calls must be a finite number ≥ 0, not {calls!r}")
    a = calls * aht_s / interval_s
    if a > MAX_ERLANGS:
        raise ValueError(f"traffic above {MAX_ERLANGS:,} Erlangs is beyond one queue")
    n = max(1, math.floor(a) + 1)
    # Erlang B carried forward one agent at a time (B(n) from B(n-1)), so the
    # search costs O(answer) rather than a fresh O(n) recursion per candidate.
    b = erlang_b(n, a)
    while _sl_from_b(n, a, b, aht_s, threshold_s) < target:
        n += 1
        b = a * b / (n + a * b)
    return Staffing(
        agents=n,
        scheduled=math.ceil(n / (1 - shrinkage)),
        traffic_erlangs=a,
        service_level=service_level(n, a, aht_s, threshold_s),
        asa_s=asa(n, a, aht_s),
        occupancy=occupancy(n, a),
    )


def _sl_from_b(n: int, a: float, b: float, aht_s: float, threshold_s: float) -> float:
    """``service_level`` given Erlang B(n, a) already computed (n > a)."""
    c = n * b / (n - a * (1 - b))
    return 1 - c * math.exp(-(n - a) * threshold_s / aht_s)
