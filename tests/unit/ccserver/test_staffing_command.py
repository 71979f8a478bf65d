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
    assert "--calls: Input should be greater than 0" in capsys.readouterr().err
    assert main(["staffing", "--calls", "5", "--aht", "180", "--target", "100"]) == 2
    assert "--target: Input should be less than 100" in capsys.readouterr().err


def run_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["staffing", "--calls", "100", "--aht", "180", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_given_agents_are_evaluated(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--agents", "13")
    assert out["agents"] == 13 and out["service_level"] == pytest.approx(0.796, abs=0.001)
    assert out["meets_target"] is False and out["model"] == "erlang_c"
    assert run_json(capsys, "--agents", "9")["asa_s"] is None  # fewer agents than Erlangs


def test_patience_switches_to_erlang_a(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--patience", "120")
    assert out["model"] == "erlang_a" and out["agents"] == 12
    assert 0 < out["abandon_rate"] < 0.1 and out["service_level"] >= 0.8
