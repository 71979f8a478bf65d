"""Erlang A (M/M/N+M): staffing when callers abandon.

Calls arrive at rate λ, are handled in exponential time (mean AHT, rate μ) by
N agents, and a waiting caller hangs up after an exponential patience (mean
P, rate θ). The number of calls in the system is a birth-death process: birth
λ, death kμ for k ≤ N and Nμ + (k−N)θ above. Its stationary distribution π is
computed in log space (no factorials, stable for thousands of agents) and
truncated where the tail is below 1e-15. With abandonment the system is
stable for any N, so N ≤ A is allowed.

By PASTA an arrival sees π. One who finds k ≥ N calls joins the queue at
position i = k − N + 1; from position m the next event comes at rate
r_m = Nμ + mθ (a service, an abandonment ahead, or its own abandonment at θ),
so it is served with probability Nμ / (Nμ + iθ) (the product telescopes), and
its wait until service is a sum of exponentials. The probability of being
served within T from each position is computed by uniformization of that
small death chain, exactly up to 1e-12.

Service level — both are given:

- ``service_level``: answered within T / offered (abandoned calls count
  against it, whenever they hung up), the strict reading;
- ``service_level_answered``: answered within T / answered.

ASA is the mean wait of answered calls; ``avg_wait_s`` that of every call
(Lq / λ, by Little's law); occupancy is the carried load λ(1 − P(abandon)) / Nμ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TAIL = 1e-15


@dataclass(frozen=True)
class ErlangA:
    """What N agents achieve for a given traffic and patience."""

    agents: int
    traffic_erlangs: float
    p_wait: float
    p_abandon: float
    service_level: float  # answered within T / offered
    service_level_answered: float  # answered within T / answered
    asa_s: float  # answered calls
    avg_wait_s: float  # every call, until answered or abandoned
    occupancy: float


def _stationary(n: int, lam: float, mu: float, theta: float) -> list[float]:
    """π_0..π_K of calls in the system, truncated where the tail is negligible."""
    logs = [0.0]
    k = 0
    while True:
        k += 1
        death = k * mu if k <= n else n * mu + (k - n) * theta
        logs.append(logs[-1] + math.log(lam) - math.log(death))
        top = max(logs)
        # past the mode and negligible: the rest of the tail is smaller still
        if k > n and logs[-1] < logs[-2] and logs[-1] - top < math.log(TAIL):
            break
        if k > n + 1_000_000:
            raise ValueError("the queue does not settle: more agents or some patience needed")
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _served_within(n: int, mu: float, theta: float, positions: int, t: float) -> list[float]:
    """P(served within t | joins at position i), i = 0..positions (0: an agent is free).

    Uniformization of the tagged caller's chain: position m moves to m − 1 at
    rate Nμ + (m−1)θ and to "abandoned" at rate θ.
    """
    if positions == 0 or t <= 0:
        return [1.0] + [0.0] * positions  # only a caller who finds a free agent
    rate = n * mu + positions * theta
    x = rate * t
    out = [0.0] * (positions + 1)
    v = [1.0] + [0.0] * positions  # P(served within j uniformized steps | m)
    j = 0
    log_x = math.log(x)
    mean_reached = False
    while True:
        weight = math.exp(-x + j * log_x - math.lgamma(j + 1))
        for m in range(positions + 1):
            out[m] += weight * v[m]
        if j >= x:
            mean_reached = True
        if mean_reached and weight < 1e-17:
            break
        nxt = [1.0] + [0.0] * positions
        for m in range(1, positions + 1):
            advance = (n * mu + (m - 1) * theta) / rate
            stay = 1.0 - advance - theta / rate
            nxt[m] = advance * v[m - 1] + stay * v[m]
        v = nxt
        j += 1
    out[0] = 1.0
    return out


def erlang_a(
    agents: int,
    calls: float,
    interval_s: float,
    aht_s: float,
    patience_s: float,
    threshold_s: float,
) -> ErlangA:
    """Erlang A figures for ``agents`` handling ``calls`` per interval."""
    if agents < 1 or calls <= 0 or interval_s <= 0 or aht_s <= 0 or patience_s <= 0:
        raise ValueError("agents, calls, interval, AHT and patience must be positive")
    lam, mu, theta = calls / interval_s, 1 / aht_s, 1 / patience_s
    n = agents
    pi = _stationary(n, lam, mu, theta)
    positions = max(0, len(pi) - n)
    within = _served_within(n, mu, theta, positions, threshold_s)
    p_wait = math.fsum(pi[n:])
    served = served_within_t = waited = queue_len = 0.0
    g = 0.0  # E[wait; served] from the current position
    for k, p in enumerate(pi):
        if k < n:
            served += p
            served_within_t += p
            continue
        i = k - n + 1
        r_i = n * mu + i * theta
        s_prev = n * mu / (n * mu + (i - 1) * theta)
        advance = (n * mu + (i - 1) * theta) / r_i
        g = advance * (s_prev / r_i + g)
        s_i = n * mu / r_i
        served += p * s_i
        served_within_t += p * within[i]
        waited += p * g
        queue_len += (k - n) * p
    p_abandon = max(0.0, 1.0 - served)
    return ErlangA(
        agents=n,
        traffic_erlangs=lam / mu,
        p_wait=p_wait,
        p_abandon=p_abandon,
        service_level=served_within_t,
        service_level_answered=served_within_t / served if served else 0.0,
        asa_s=waited / served if served else math.inf,
        avg_wait_s=queue_len / lam,
        occupancy=min(1.0, lam * (1 - p_abandon) / (n * mu)),
    )


def agents_needed_a(
    calls: float,
    interval_s: float,
    aht_s: float,
    patience_s: float,
    target: float,
    threshold_s: float,
    max_abandon: float | None = None,
) -> ErlangA:
    """The fewest agents meeting the service-level target (and the abandon cap, if given)."""
    if not 0 < target < 1:
        raise ValueError("target must be in (0, 1)")
    n = 1
    while True:
        result = erlang_a(n, calls, interval_s, aht_s, patience_s, threshold_s)
        if result.service_level >= target and (
            max_abandon is None or result.p_abandon <= max_abandon
        ):
            return result
        n += 1
        if n > 100_000:
            raise ValueError("no staffing up to 100,000 agents meets the target")
