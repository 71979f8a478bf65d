"""Erlang A (M/M/N+M) against Erlang C, its own identities, and a seeded Monte Carlo."""

from __future__ import annotations

import heapq
import itertools
import random

import pytest

from acd.erlang import asa, erlang_c, service_level
from acd.erlang_a import agents_needed_a, erlang_a

CALLS, INTERVAL, AHT = 100, 1800, 180  # 10 Erlangs, kpis.md's reference case


def test_endless_patience_is_erlang_c() -> None:
    r = erlang_a(14, CALLS, INTERVAL, AHT, 1e9, 20)
    assert r.service_level == pytest.approx(service_level(14, 10, AHT, 20), abs=1e-6)
    assert r.asa_s == pytest.approx(asa(14, 10, AHT), rel=1e-5)
    assert r.p_wait == pytest.approx(erlang_c(14, 10), abs=1e-6)
    assert r.p_abandon < 1e-6


def test_abandon_probability_is_theta_times_queue_length_over_lambda() -> None:
    # the abandonment flow θ·Lq equals λ·P(abandon): P(abandon) = avg wait / patience
    for agents in (6, 10, 14):
        r = erlang_a(agents, CALLS, INTERVAL, AHT, 120, 20)
        assert r.p_abandon == pytest.approx(r.avg_wait_s / 120, rel=1e-9)


def test_more_agents_fewer_abandons_better_service() -> None:
    results = [erlang_a(n, CALLS, INTERVAL, AHT, 90, 20) for n in range(5, 18)]
    for fewer, more in itertools.pairwise(results):
        assert more.p_abandon < fewer.p_abandon
        assert more.service_level > fewer.service_level
        assert more.asa_s < fewer.asa_s


def test_fewer_agents_than_erlangs_is_stable_when_callers_give_up() -> None:
    r = erlang_a(8, CALLS, INTERVAL, AHT, 120, 20)  # 8 agents for 10 Erlangs
    assert 0 < r.p_abandon < 1 and r.occupancy < 1
    # carried load: what is not abandoned is handled by 8 agents
    assert r.occupancy == pytest.approx(10 * (1 - r.p_abandon) / 8, rel=1e-9)


def simulate(agents: int, calls: int, aht: float, patience: float, t: float, seed: int = 3):
    """FCFS M/M/N+M: (answered within t / offered, abandon rate, ASA of answered)."""
    rng = random.Random(seed)
    lam = CALLS / INTERVAL
    free = [0.0] * agents
    answered = within = abandoned = 0
    waits = 0.0
    clock = 0.0
    for _ in range(calls):
        clock += rng.expovariate(lam)
        start = max(clock, free[0])
        if start - clock > rng.expovariate(1 / patience):
            abandoned += 1
            continue
        heapq.heapreplace(free, start + rng.expovariate(1 / aht))
        answered += 1
        within += start - clock <= t
        waits += start - clock
    return within / calls, abandoned / calls, waits / answered


@pytest.mark.parametrize(("agents", "patience"), [(9, 60), (11, 120), (13, 300)])
def test_matches_a_seeded_monte_carlo(agents: int, patience: float) -> None:
    sl, abandon, mean_wait = simulate(agents, 200_000, AHT, patience, 20)
    r = erlang_a(agents, CALLS, INTERVAL, AHT, patience, 20)
    # 200,000 calls: sampling error well under one point
    assert r.service_level == pytest.approx(sl, abs=0.01)
    assert r.p_abandon == pytest.approx(abandon, abs=0.005)
    assert r.asa_s == pytest.approx(mean_wait, rel=0.05, abs=0.3)


def test_agents_needed_meets_the_target_and_one_fewer_does_not() -> None:
    r = agents_needed_a(CALLS, INTERVAL, AHT, 120, 0.8, 20)
    assert r.service_level >= 0.8
    assert erlang_a(r.agents - 1, CALLS, INTERVAL, AHT, 120, 20).service_level < 0.8
    capped = agents_needed_a(CALLS, INTERVAL, AHT, 120, 0.8, 20, max_abandon=0.01)
    assert capped.p_abandon <= 0.01 and capped.agents >= r.agents


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        erlang_a(0, CALLS, INTERVAL, AHT, 60, 20)
    with pytest.raises(ValueError):
        agents_needed_a(CALLS, INTERVAL, AHT, 60, 1.2, 20)
