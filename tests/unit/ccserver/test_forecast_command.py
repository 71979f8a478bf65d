"""``ccserver forecast monthly`` from a CSV of monthly volumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccserver.cli import main


def test_monthly_forecast_from_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "months.csv"
    csv.write_text("month,calls\n2025-12,30000\n2026-09,28000\n2026-10,31000\n2026-11,33000\n")
    assert main(["forecast", "monthly", "--csv", str(csv), "--month", "2026-12", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["calls"] == 31280.0


@pytest.mark.parametrize(
    ("content", "month", "message"),
    [
        ("2026-11,33000\n", "2026-12", "needs months"),
        ("2026-13,1\n", "2026-12", "months.csv:1: '2026-13' is not a month"),
        ("2026-11\n", "2026-12", "expected month,calls"),
        ("2026-11,lots\n", "2026-12", "months.csv:1"),
        ("", "December", "'December' is not a month"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, month: str, message: str
) -> None:
    csv = tmp_path / "months.csv"
    csv.write_text(content)
    assert main(["forecast", "monthly", "--csv", str(csv), "--month", month]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
