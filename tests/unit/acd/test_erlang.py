"""Erlang C against the reference figures of kpis.md."""

from __future__ import annotations

import pytest

from acd.erlang import agents_needed, asa, erlang_c, occupancy, service_level


def test_reference_100_calls_in_30_minutes() -> None:
    a = 100 * 180 / 1800
    assert a == 10
    assert service_level(13, a, 180, 20) == pytest.approx(0.796, abs=0.001)
    assert service_level(14, a, 180, 20) == pytest.approx(0.888, abs=0.001)
    assert asa(14, a, 180) == pytest.approx(7.8, abs=0.05)
    assert occupancy(14, a) == pytest.approx(0.714, abs=0.001)
    staffing = agents_needed(100, 1800, 180, 0.80, 20)
    assert staffing.agents == 14 and staffing.scheduled == 14


def test_shrinkage_and_edge_cases() -> None:
    assert agents_needed(100, 1800, 180, 0.80, 20, shrinkage=0.30).scheduled == 20
    assert erlang_c(10, 10) == 1.0 and service_level(9, 10, 180, 20) == 0.0
    assert 0 < erlang_c(500, 450) < 1  # stable where factorials would overflow
    with pytest.raises(ValueError):
        agents_needed(1, 1, 1, 0.8, 20, shrinkage=1)
