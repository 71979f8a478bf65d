"""``ccserver staffing`` prints the Erlang C staffing of kpis.md's reference case."""

from __future__ import annotations

import json

import pytest

from ccserver.cli import main


def test_reference_case_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "staffing",
        "--calls",
        "100",
        "--interval-minutes",
        "30",
        "--aht",
        "180",
        "--target",
        "80",
        "--within",
        "20",
        "--shrinkage",
        "30",
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] == 14 and out["scheduled_agents"] == 20
    assert out["service_level"] == pytest.approx(0.888, abs=0.001)
    assert out["asa_s"] == pytest.approx(7.8, abs=0.05) and out["occupancy"] == 0.7143


def test_bad_input_is_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staffing", "--calls", "-5", "--aht", "180"]) == 2
    assert "--calls must be positive" in capsys.readouterr().err
    assert main(["staffing", "--calls", "5", "--aht", "180", "--target", "100"]) == 2
