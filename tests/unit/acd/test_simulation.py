"""The simulation against queueing theory, and its KPIs."""

from __future__ import annotations

from acd.erlang import asa, service_level
from acd.model import Agent, QueueConfig
from acd.simulation import QueueTraffic, SimulationSpec, simulate


def test_measured_service_level_matches_erlang_c() -> None:
    """One queue, cross-skilled agents, Poisson arrivals, exponential handling, no abandons."""
    agents, aht, erlangs = 14, 180.0, 10.0
    calls_per_hour = erlangs / aht * 3600
    spec = SimulationSpec(
        queues=(QueueConfig("q", (("s", 1),), wrap_up_s=0, sl_threshold_s=20),),
        agents=tuple(Agent(f"a{i}", "", f"1{i:02d}", {"s": 5}) for i in range(agents)),
        traffic=(QueueTraffic("q", calls_per_hour, aht),),
        hours=40_000 / calls_per_hour,
        seed=7,
        tick_s=60,
    )
    (report,) = simulate(spec)
    predicted = service_level(agents, erlangs, aht, 20)
    assert report.offered >= 39_000 and report.answered == report.offered
    assert abs(report.service_level - predicted) <= 0.03, (
        f"simulated {report.service_level:.3f} vs Erlang C {predicted:.3f}"
    )
    assert abs(report.asa_s - asa(agents, erlangs, aht)) < 4.0
    assert abs(report.occupancy - erlangs / agents) < 0.02


def test_abandons_and_service_level_variants() -> None:
    spec = SimulationSpec(
        queues=(QueueConfig("q", (("s", 1),), wrap_up_s=10, sl_threshold_s=20),),
        agents=(Agent("a", "", "100", {"s": 5}), Agent("b", "", "101", {"s": 5})),
        traffic=(QueueTraffic("q", 60, 150, patience_s=40),),
        hours=5,
        seed=3,
        sl_variant="abandons_against",
    )
    (report,) = simulate(spec)
    assert report.abandoned > 0 and report.answered > 0
    assert report.offered >= report.answered + report.abandoned
    assert 0 <= report.service_level <= 1 and report.sl_variant == "abandons_against"
    assert report.answer_rate == round(report.answered / report.offered, 4)
