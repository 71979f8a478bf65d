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


def test_human_lines(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["staffing", "--calls", "100", "--aht", "180", "--shrinkage", "30"]
    assert main(base) == 0
    assert capsys.readouterr().out == (
        "10.00 Erlangs (erlang c): 14 agents on the phones (20 scheduled with 30% shrinkage)"
        " give 88.8% in 20 s, ASA 7.8 s, occupancy 71.4%\n"
    )
    assert main([*base, "--patience", "120"]) == 0
    assert capsys.readouterr().out == (
        "10.00 Erlangs (erlang a): 12 agents on the phones (18 scheduled with 30% shrinkage)"
        " give 82.6% in 20 s, ASA 6.3 s, occupancy 78.2%, 6.2% abandon"
        " (service level of offered calls; 88.0% of answered ones)\n"
    )


def test_erlang_a_for_given_agents(capsys: pytest.CaptureFixture[str]) -> None:
    # 8 agents for 10 Erlangs: impossible under Erlang C, stable once callers give up.
    # Figures checked against independent methods in tests/unit/acd/test_erlang_a.py.
    out = run_json(capsys, "--patience", "120", "--agents", "8")
    assert out == {
        "agents": 8,
        "scheduled_agents": 8,
        "traffic_erlangs": 10.0,
        "meets_target": False,
        "model": "erlang_a",
        "service_level": 0.4032,
        "service_level_answered": 0.5434,
        "asa_s": 29.27,
        "avg_wait_s": 30.96,
        "abandon_rate": 0.258,
        "occupancy": 0.9275,
    }


def test_endless_patience_staffs_like_erlang_c(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--patience", "1e12")
    assert out["model"] == "erlang_a" and out["agents"] == 14
    assert out["service_level"] == pytest.approx(0.8884, abs=1e-4)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--patience", "0"], "staffing: --patience: Input should be greater than 0\n"),
        (["--patience", "inf"], "staffing: patience must be a positive finite number, not inf\n"),
        (["--agents", "0"], "staffing: --agents: Input should be greater than or equal to 1\n"),
        (["--calls", "1e12"], "staffing: traffic above 100,000 Erlangs is beyond one queue\n"),
        (
            ["--patience", "1e12", "--agents", "5"],
            "staffing: with 5 agents the queue would run past 250,000 waiting calls:"
            " add agents or give a shorter patience\n",
        ),
    ],
)
def test_impossible_questions_are_one_line(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["staffing", "--calls", "100", "--aht", "180", *extra]) == 2
    assert capsys.readouterr().err == message
