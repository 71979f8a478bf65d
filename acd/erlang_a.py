"""Erlang A (M/M/N+M, "Palm"): staffing when callers abandon.

The model
---------
Calls arrive at rate λ = calls / interval, are handled in exponential time
(mean AHT, rate μ) by N agents, first come first served, and a waiting caller
hangs up after an exponential patience (mean P, rate θ = 1/P). The number of
calls in the system is a birth-death process: births λ, deaths kμ for k ≤ N
and Nμ + (k−N)θ above. Its stationary distribution π is built from the ratios
π_k / π_{k−1} = λ / death_k in log space (no factorials: stable for thousands
of agents) and truncated past the mode where a geometric bound on the rest of
the tail falls below 1e-15 of the mode. Abandonment makes the system stable
for any N, so N ≤ A (A = λ/μ Erlangs) is allowed.

Waiting times (exact)
---------------------
By PASTA an arrival sees π. One who finds k ≥ N calls is at position
i = k − N + 1 and needs i "advances" (a service ends, or a caller ahead hangs
up); at position m they come at rate Nμ + (m−1)θ. Its time to reach an agent,
ignoring its own patience, is therefore D_i = Σ_{j=0}^{i−1} Exp(Nμ + jθ), a
hypoexponential with rates in arithmetic progression, for which
e^{−θ D_i} ~ Beta(α, i) with α = Nμ/θ (a product of independent Beta(α+j, 1)).
It is answered iff its own patience, an independent Exp(θ), outlasts D_i, so
with U ~ Beta(α, i) and x = 1 − e^{−θT}:

- P(answered | i) = E[U] = Nμ / (Nμ + iθ);
- P(answered within T | i) = E[U; D_i ≤ T] = α/(α+i) · I_x(i, α+1)
  = P(answered | i) · P(J ≥ i), J negative binomial (b = α+1, success x)
  (the regularized incomplete beta with an integer first argument is a
  negative-binomial tail), one distribution for every position, so all
  positions cost O(1) each;
- E[wait; answered | i] = P(answered | i) · Σ_{j=1}^{i} 1/(Nμ + jθ);
- P(abandoned within T | i) = 1 − P(answered within T | i)
  − e^{−θT} · P(D_i > T), with P(D_i ≤ T) = P(J' ≥ i), J' ~ NB(b = α, x).

These are exact up to floating point and the 1e-15 truncation. They were
checked against the incomplete-gamma closed forms of Mandelbaum & Zeltyn
("The Palm/Erlang-A Queue, with Applications to Call Centers", 2005) for
P(wait), P(abandon) and E[wait] (to 1e-12), and against a matrix exponential
of the tagged caller's absorbing chain for the service levels and ASA (to
1e-10); see tests/unit/acd/test_erlang_a.py.

What is reported
----------------
- ``service_level``: answered within T / offered. Abandoned calls count
  against it whenever they hung up (kpis.md's strictest variant,
  "abandons_against", with no short-abandon allowance);
- ``service_level_answered``: answered within T / answered ("answered_only");
- ``service_level_abandons_met``: (answered + abandoned within T) / offered
  (Asterisk's "SL2", "abandons_met");
- ``p_wait``: P(all agents busy on arrival); ``p_abandon``: the abandon rate,
  abandoned / offered;
- ``asa_s``: mean wait of answered calls; ``avg_wait_s``: mean wait of every
  call until answered or abandoned (Lq/λ by Little's law, so
  p_abandon = θ · avg_wait_s);
- ``occupancy``: carried load / N = λ(1 − P(abandon)) / Nμ, below A/N
  because abandoners leave without being handled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .erlang import MAX_ERLANGS

TAIL = 1e-15  # the tail left out, as a share of the mode, is below this
# Waiting calls we are prepared to enumerate (about a second of work). Only callers
# of near-endless patience with N close to A need more: Erlang C's territory.
MAX_QUEUE = 250_000


class QueueTooLong(ValueError):
    """The stationary queue runs past ``MAX_QUEUE`` waiting calls: callers so patient,
    with N so close to (or below) A, that the model is too long to enumerate."""


@dataclass(frozen=True)
class ErlangA:
    """What N agents achieve for a given traffic and patience (shares are 0-1)."""

    agents: int
    traffic_erlangs: float
    p_wait: float
    p_abandon: float
    service_level: float  # answered within T / offered
    service_level_answered: float  # answered within T / answered
    service_level_abandons_met: float  # (answered + abandoned within T) / offered
    asa_s: float  # answered calls
    avg_wait_s: float  # every call, until answered or abandoned
    occupancy: float


def _log_queue_ratio(j: int, n: int, lam: float, mu: float, theta: float) -> float:
    """log(π_{N+j} / π_N): the product of λ / (Nμ + iθ) for i = 1..j, via lgamma."""
    c = n * mu / theta
    return j * math.log(lam / theta) - (math.lgamma(c + j + 1) - math.lgamma(c + 1))


def _stationary(n: int, lam: float, mu: float, theta: float) -> list[float]:
    """π_0..π_K of calls in the system, truncated where the tail is negligible."""
    # Refuse up front rather than enumerate a quarter of a million states in vain:
    # the queue grows while λ exceeds the death rate, so its mode is j* waiting
    # calls; and π_{N+j}/π_N = (λ/θ)^j Γ(c+1)/Γ(c+j+1), c = Nμ/θ, tells whether
    # MAX_QUEUE calls past the mode the tail is still not negligible.
    jstar = max(0.0, (lam - n * mu) / theta)
    if jstar > MAX_QUEUE or (
        _log_queue_ratio(MAX_QUEUE, n, lam, mu, theta)
        - _log_queue_ratio(math.floor(jstar), n, lam, mu, theta)
        > math.log(TAIL)
    ):
        raise QueueTooLong(
            f"with {n} agents the queue would run past {MAX_QUEUE:,} waiting calls:"
            " add agents or give a shorter patience"
        )
    log_lam, log_tail = math.log(lam), math.log(TAIL)
    logs = [0.0]
    top = 0.0
    k = 0
    while True:
        k += 1
        death = k * mu if k <= n else n * mu + (k - n) * theta
        logs.append(logs[-1] + log_lam - math.log(death))
        top = max(top, logs[-1])
        # Past N the ratio r = π_k/π_{k-1} only falls, so once r < 1 the rest of the
        # tail is at most π_k · r/(1 − r): stop when that is negligible.
        step = logs[-1] - logs[-2]
        if k > n and step < 0 and logs[-1] + step - math.log(-math.expm1(step)) - top < log_tail:
            break
        if k > n + MAX_QUEUE:
            raise QueueTooLong(
                f"with {n} agents the queue runs past {MAX_QUEUE:,} waiting calls:"
                " add agents or give a shorter patience"
            )
    weights = [math.exp(x - top) for x in logs]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _nb_tails(b: float, x: float, positions: int) -> list[float]:
    """P(J ≥ i) for i = 0..positions, J negative binomial: P(J=j) = Γ(b+j)/(Γ(b) j!) x^j (1−x)^b.

    Built from the pmf in log space (its first terms underflow for large b·x);
    the tail is 1 − CDF, accurate to ~1e-16 absolute, which is what a share needs.
    """
    out = [1.0] * (positions + 1)
    log_p = b * math.log1p(-x)
    log_x = math.log(x)
    cdf = 0.0
    for i in range(1, positions + 1):
        cdf += math.exp(log_p)  # adds P(J = i−1)
        out[i] = max(0.0, 1.0 - cdf)
        log_p += math.log(b + i - 1) - math.log(i) + log_x
    return out


def _check(calls: float, interval_s: float, aht_s: float, patience_s: float) -> None:
    values = {"calls": calls, "interval": interval_s, "AHT": aht_s, "patience": patience_s}
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, not {value!r}")
    if calls * aht_s / interval_s > MAX_ERLANGS:
        raise ValueError(f"traffic above {MAX_ERLANGS:,} Erlangs is beyond one queue")


def erlang_a(
    agents: int,
    calls: float,
    interval_s: float,
    aht_s: float,
    patience_s: float,
    threshold_s: float,
) -> ErlangA:
    """Erlang A figures for ``agents`` handling ``calls`` offered per ``interval_s``.

    ``aht_s`` is the mean handle time, ``patience_s`` callers' mean patience
    (exponential), ``threshold_s`` the service-level threshold T. See the
    module docstring for the method and the exact meaning of each figure.
    Raises ValueError on non-positive input, and :class:`QueueTooLong` when
    too few agents face callers so patient that the queue will not settle.
    """
    if agents < 1:
        raise ValueError("agents must be at least 1")
    _check(calls, interval_s, aht_s, patience_s)
    if not (math.isfinite(threshold_s) and threshold_s >= 0):
        raise ValueError(f"threshold must be a finite number ≥ 0, not {threshold_s!r}")
    lam, mu, theta = calls / interval_s, 1 / aht_s, 1 / patience_s
    n = agents
    pi = _stationary(n, lam, mu, theta)
    positions = len(pi) - n  # the deepest position an arrival can be given
    alpha = n * mu / theta
    if threshold_s > 0:
        x = -math.expm1(-theta * threshold_s)  # 1 − e^{−θT}, exact for tiny θT
        reach_served = _nb_tails(alpha + 1, x, positions)  # P(J ≥ i)
        reach = _nb_tails(alpha, x, positions)  # P(D_i ≤ T)
    else:
        reach_served = reach = [1.0] + [0.0] * positions
    stay = math.exp(-theta * threshold_s)  # own patience outlasts T

    # below N: answered at once, within any T
    served = within = math.fsum(pi[:n])
    ab_within = 0.0
    waited = 0.0  # E[wait; answered]
    harmonic = 0.0  # Σ_{j≤i} 1/(Nμ + jθ)
    queue_len = 0.0
    for i in range(1, positions + 1):
        p = pi[n + i - 1]
        s_i = n * mu / (n * mu + i * theta)
        harmonic += 1 / (n * mu + i * theta)
        w_i = s_i * reach_served[i]
        served += p * s_i
        within += p * w_i
        ab_within += p * max(0.0, 1.0 - w_i - stay * (1.0 - reach[i]))
        waited += p * s_i * harmonic
        queue_len += p * (i - 1)
    p_abandon = max(0.0, 1.0 - served)
    return ErlangA(
        agents=n,
        traffic_erlangs=lam / mu,
        p_wait=math.fsum(pi[n:]),
        p_abandon=p_abandon,
        service_level=within,
        service_level_answered=min(1.0, within / served) if served else 0.0,
        service_level_abandons_met=min(1.0, within + ab_within),
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
    """The fewest agents whose ``service_level`` (answered within T / offered)
    meets ``target`` (0-1), and whose abandon rate is at most ``max_abandon`` if given.

    Both figures improve monotonically with N, so the answer is found by a
    galloping then binary search from a lower bound: answered calls are at
    most the carried load, N/A of those offered, so no N below target·A (nor
    below (1 − max_abandon)·A) can meet them. Raises ValueError when the
    answer cannot be certified because N − 1 is too long a queue to evaluate
    (:class:`QueueTooLong`; near-endless patience: use Erlang C).
    """
    if not 0 < target < 1:
        raise ValueError("target must be in (0, 1)")
    if max_abandon is not None and not 0 < max_abandon < 1:
        raise ValueError("max_abandon must be in (0, 1)")
    _check(calls, interval_s, aht_s, patience_s)
    a = calls * aht_s / interval_s

    unknown: set[int] = set()

    def meets(n: int) -> ErlangA | None:
        try:
            r = erlang_a(n, calls, interval_s, aht_s, patience_s, threshold_s)
        except QueueTooLong:
            unknown.add(n)  # searched past as if short of the target; checked below
            return None
        ok = r.service_level >= target and (max_abandon is None or r.p_abandon <= max_abandon)
        return r if ok else None

    floor_share = max(target, 1 - max_abandon if max_abandon is not None else 0.0)
    lo = max(0, math.ceil(floor_share * a) - 1)  # known to fall short (or 0)
    # first probe where Erlang C would start; galloping up from there
    hi, step = max(lo + 1, math.floor(a) + 1), 1
    best = meets(hi)
    while best is None:
        lo, hi, step = hi, hi + step, step * 2
        if hi > 2 * MAX_ERLANGS:
            raise ValueError("no staffing meets the target")
        best = meets(hi)
    while hi - lo > 1:  # invariant: lo falls short, hi meets (best)
        mid = (lo + hi) // 2
        r = meets(mid)
        if r is None:
            lo = mid
        else:
            hi, best = mid, r
    if lo in unknown:
        # monotonicity certifies hi only if hi − 1 was seen to fall short
        raise ValueError(
            f"callers with {patience_s:g} s patience make the queue too long to model"
            f" at {lo} agents: leave the patience out (Erlang C)"
        )
    return best
