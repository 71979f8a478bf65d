"""Erlang A (M/M/N+M): published Erlang C limit, independent exact values, identities,
monotonicity, the staffing search, and a seeded Monte Carlo."""

from __future__ import annotations

import heapq
import itertools
import random
import time

import pytest

from acd.erlang import agents_needed, asa, erlang_c, service_level
from acd.erlang_a import QueueTooLong, agents_needed_a, erlang_a

CALLS, INTERVAL, AHT = 100, 1800, 180  # 10 Erlangs, kpis.md's reference case


def test_endless_patience_gives_the_published_erlang_c_figures() -> None:
    # CRAN package ErlangC 0.1.0, README example (stat.ethz.ch/CRAN/web/packages/ErlangC):
    # 100 calls / 30 min, AHT 180 s, 20 s, 14 agents -> wait probability 0.1741319,
    # service level 0.88835, ASA 7.83593701177724 s, occupancy 0.7142857.
    r = erlang_a(14, CALLS, INTERVAL, AHT, 1e12, 20)  # mean patience: 30,000 years
    assert r.p_wait == pytest.approx(0.1741319, abs=1e-7)
    assert r.service_level == pytest.approx(0.88835, abs=1e-5)
    assert r.asa_s == pytest.approx(7.83593701177724, abs=1e-5)
    assert r.occupancy == pytest.approx(0.7142857, abs=1e-7)
    assert r.p_abandon < 1e-6
    # and our own Erlang C, to 1e-6
    assert r.service_level == pytest.approx(service_level(14, 10, AHT, 20), abs=1e-6)
    assert r.asa_s == pytest.approx(asa(14, 10, AHT), abs=1e-6)
    assert r.p_wait == pytest.approx(erlang_c(14, 10), abs=1e-6)


def test_converges_to_erlang_c_as_patience_grows() -> None:
    # the gap shrinks like 1/patience: a hundredfold per step
    gaps = []
    for patience in (1e5, 1e7, 1e9):
        r = erlang_a(12, CALLS, INTERVAL, AHT, patience, 20)
        gaps.append(abs(r.service_level - service_level(12, 10, AHT, 20)))
    for more, less in itertools.pairwise(gaps):
        assert less == pytest.approx(more / 100, rel=0.1)
    assert gaps[-1] < 1e-6


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        # 10 Erlangs, patience 120 s, T = 20 s. P(wait), P(abandon) and E[wait] from the
        # closed forms of Mandelbaum & Zeltyn, "The Palm/Erlang-A Queue, with Applications
        # to Call Centers" (2005), sections 4.4-4.6 (incomplete gamma, mpmath at 50
        # digits); the service levels and ASA from a matrix exponential (scipy expm) of
        # the tagged caller's absorbing chain, and quadrature of its survival function.
        # None of these methods is the one acd/erlang_a.py uses.
        (11, (0.382816491480, 0.094155034237, 11.298604108495, 0.742208984389,
              0.819355422221, 0.790534451477, 9.7825175187)),
        (8, (0.722626463339, 0.257982381288, 30.957885754531, 0.403213027380,
             0.543400880534, 0.504168998136, 29.2679871648)),
    ],
)  # fmt: skip
def test_exact_values_from_independent_methods(agents: int, expected: tuple[float, ...]) -> None:
    r = erlang_a(agents, CALLS, INTERVAL, AHT, 120, 20)
    got = (r.p_wait, r.p_abandon, r.avg_wait_s, r.service_level, r.service_level_answered,
           r.service_level_abandons_met, r.asa_s)  # fmt: skip
    assert got == pytest.approx(expected, abs=1e-9)


def test_little_law_and_carried_load() -> None:
    for agents in (6, 10, 14):
        r = erlang_a(agents, CALLS, INTERVAL, AHT, 120, 20)
        # abandon flow θ·Lq equals λ·P(abandon): P(abandon) = avg wait / patience
        assert r.p_abandon == pytest.approx(r.avg_wait_s / 120, rel=1e-9)
        # what is not abandoned is handled: occupancy = A(1 - P(abandon)) / N < A / N
        assert r.occupancy == pytest.approx(10 * (1 - r.p_abandon) / agents, rel=1e-9)
        assert r.service_level <= r.service_level_answered
        assert r.service_level <= r.service_level_abandons_met <= 1


def test_more_agents_fewer_abandons_better_service() -> None:
    results = [erlang_a(n, CALLS, INTERVAL, AHT, 90, 20) for n in range(3, 18)]
    for fewer, more in itertools.pairwise(results):
        assert more.p_abandon < fewer.p_abandon
        assert more.service_level > fewer.service_level
        assert more.asa_s < fewer.asa_s


def test_fewer_agents_than_erlangs_is_stable_when_callers_give_up() -> None:
    r = erlang_a(8, CALLS, INTERVAL, AHT, 120, 20)  # 8 agents for 10 Erlangs
    assert 0 < r.p_abandon < 1 and r.occupancy < 1 and r.p_wait < 1


def test_a_thousand_agents_is_quick_and_stable() -> None:
    # 20,000 calls / 30 min at AHT 90 s = 1,000 Erlangs: no factorial overflow
    start = time.perf_counter()
    r = erlang_a(1000, 20000, 1800, 90, 60, 20)
    assert 0.98 < r.service_level < 1 and 0 < r.p_abandon < 0.02
    assert r.p_abandon == pytest.approx(r.avg_wait_s / 60, rel=1e-9)
    assert time.perf_counter() - start < 2


def test_a_queue_that_never_settles_is_refused_quickly() -> None:
    # 900 agents for 1,000 Erlangs, callers who practically never hang up
    with pytest.raises(QueueTooLong, match="add agents"):
        erlang_a(900, 20000, 1800, 90, 1e9, 20)


def simulate(
    agents: int, calls: int, patience: float, t: float, seed: int = 3
) -> tuple[float, float, float, float]:
    """FCFS M/M/N+M: (answered within t / offered, abandon rate, ASA of answered,
    (answered + abandoned within t) / offered)."""
    rng = random.Random(seed)
    lam = CALLS / INTERVAL
    free = [0.0] * agents  # when each agent next frees up, as a heap
    answered = within = abandoned = abandoned_within = 0
    waits = clock = 0.0
    for _ in range(calls):
        clock += rng.expovariate(lam)
        start = max(clock, free[0])  # FCFS: earlier callers already took their agents
        give_up = rng.expovariate(1 / patience)
        if start - clock > give_up:
            abandoned += 1
            abandoned_within += give_up <= t
            continue
        heapq.heapreplace(free, start + rng.expovariate(1 / AHT))
        answered += 1
        within += start - clock <= t
        waits += start - clock
    return within / calls, abandoned / calls, waits / answered, (within + abandoned_within) / calls


@pytest.mark.parametrize(("agents", "patience"), [(9, 60), (11, 120), (13, 300)])
def test_matches_a_seeded_monte_carlo(agents: int, patience: float) -> None:
    sl, abandon, mean_wait, sl2 = simulate(agents, 200_000, patience, 20)
    r = erlang_a(agents, CALLS, INTERVAL, AHT, patience, 20)
    # 200,000 calls; successive waits are correlated, so allow ~5 standard errors
    assert r.service_level == pytest.approx(sl, abs=0.01)
    assert r.service_level_abandons_met == pytest.approx(sl2, abs=0.01)
    assert r.p_abandon == pytest.approx(abandon, abs=0.005)
    assert r.asa_s == pytest.approx(mean_wait, rel=0.05, abs=0.3)


def test_agents_needed_meets_the_target_and_one_fewer_does_not() -> None:
    r = agents_needed_a(CALLS, INTERVAL, AHT, 120, 0.8, 20)
    # 12 agents: 82.6% (11 give 74.2%, above); abandons make Erlang C's 14 too many
    assert r.agents == 12 and r.service_level == pytest.approx(0.8256, abs=1e-4)
    assert erlang_a(11, CALLS, INTERVAL, AHT, 120, 20).service_level < 0.8
    capped = agents_needed_a(CALLS, INTERVAL, AHT, 120, 0.8, 20, max_abandon=0.01)
    assert capped.p_abandon <= 0.01 and capped.agents > r.agents
    assert erlang_a(capped.agents - 1, CALLS, INTERVAL, AHT, 120, 20).p_abandon > 0.01


def test_agents_needed_with_endless_patience_is_erlang_c() -> None:
    for calls, aht in ((100, 180), (20000, 90)):
        want = agents_needed(calls, INTERVAL, aht, 0.8, 20).agents
        start = time.perf_counter()
        assert agents_needed_a(calls, INTERVAL, aht, 1e9, 0.8, 20).agents == want
        assert time.perf_counter() - start < 5


def test_agents_needed_is_the_smallest_over_many_cases() -> None:
    for calls, patience, target in itertools.product((5, 40, 300), (10, 60, 600), (0.5, 0.9)):
        r = agents_needed_a(calls, INTERVAL, AHT, patience, target, 20)
        assert r.service_level >= target
        if r.agents > 1:
            assert erlang_a(r.agents - 1, calls, INTERVAL, AHT, patience, 20).service_level < target


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_a(0, CALLS, INTERVAL, AHT, 60, 20),
        lambda: erlang_a(10, CALLS, INTERVAL, AHT, float("inf"), 20),
        lambda: erlang_a(10, 0, INTERVAL, AHT, 60, 20),
        lambda: erlang_a(10, CALLS, INTERVAL, AHT, 60, -1),
        lambda: agents_needed_a(CALLS, INTERVAL, AHT, 60, 1.2, 20),
        lambda: agents_needed_a(CALLS, INTERVAL, AHT, 60, 0.8, 20, max_abandon=0),
        lambda: agents_needed_a(1e12, INTERVAL, AHT, 60, 0.8, 20),
    ],
)
def test_bad_input_is_refused(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_an_uncertifiable_answer_is_refused_not_guessed() -> None:
    # 999.9 Erlangs (29,997 calls / 30 min at AHT 60 s) of callers who never hang up:
    # 1,000 agents would need some 345,000 queue states (34.5·N/(N − A)) to
    # evaluate, so the search cannot show that 1,001 is the fewest
    with pytest.raises(ValueError, match="at 1000 agents: leave the patience out"):
        agents_needed_a(29_997, INTERVAL, 60, 1e9, 0.8, 3600)
