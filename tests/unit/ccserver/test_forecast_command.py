"""``ccserver forecast monthly`` from a CSV of monthly or daily volumes; clear refusals."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from ccserver.cli import main

MONTHS = "month,calls\n2025-12,30000\n2026-09,28000\n2026-10,31000\n2026-11,33000\n"


def forecast(tmp_path: Path, content: str | bytes, *extra: str) -> int:
    csv = tmp_path / "months.csv"
    if isinstance(content, bytes):
        csv.write_bytes(content)
    else:
        csv.write_text(content)
    return main(["forecast", "monthly", "--csv", str(csv), *extra])


def test_monthly_forecast_from_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert forecast(tmp_path, MONTHS, "--month", "2026-12", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    # 0.055·30000 + 0.185·28000 + 0.315·31000 + 0.445·33000 = 31280
    assert out["month"] == "2026-12" and out["calls"] == 31280.0
    assert out["inputs"] == {"2025-12": 30000, "2026-09": 28000, "2026-10": 31000,
                             "2026-11": 33000}  # fmt: skip
    assert list(out["weights"].values()) == [0.055, 0.185, 0.315, 0.445]


def test_human_output_shows_the_sum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a spreadsheet's byte-order mark in front of the header is fine
    assert forecast(tmp_path, b"\xef\xbb\xbf" + MONTHS.encode(), "--month", "2026-12") == 0
    assert capsys.readouterr().out == (
        "2026-12: 31,280 calls = 0.055 × 30,000 (2025-12) + 0.185 × 28,000 (2026-09)"
        " + 0.315 × 31,000 (2026-10) + 0.445 × 33,000 (2026-11)\n"
    )


def test_daily_rows_are_cleaned_summed_and_spread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2025-12 to 2026-11: 1,000 calls a weekday and 400 a weekend day, one outage day
    rows = ["date,calls"]
    day = date(2025, 12, 1)
    while day <= date(2026, 11, 30):
        calls = 1000 if day.weekday() < 5 else 400
        rows.append(f"{day},{9000 if day == date(2026, 11, 11) else calls}")
        day += timedelta(days=1)
    assert forecast(tmp_path, "\n".join(rows) + "\n", "--month", "2026-12", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    # 2025-12: 23 weekdays + 8 weekend days = 26,200; 2026-09: 22 + 8 = 25,200;
    # 2026-10: 22 + 9 = 25,600; 2026-11: 21 + 9 = 24,600 (the outage replaced by 1,000)
    assert out["inputs"] == {"2025-12": 26200, "2026-09": 25200, "2026-10": 25600,
                             "2026-11": 24600}  # fmt: skip
    # 0.055·26200 + 0.185·25200 + 0.315·25600 + 0.445·24600
    # = 1441 + 4662 + 8064 + 10947 = 25,114
    assert out["calls"] == 25114.0
    # weekday profile 7·1000/5800 and 7·400/5800; December 2026 has 23 weekdays and
    # 8 weekend days: a weekday gets 25114 · 1000 / (23·1000 + 8·400) = 958.5
    assert out["weekday_profile"] == [1.2069] * 5 + [0.4828] * 2
    assert len(out["days"]) == 31
    assert out["days"]["2026-12-01"] == 958.5
    assert out["days"]["2026-12-05"] == 383.4  # a Saturday


def test_a_partly_covered_month_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = "date,calls\n" + "".join(f"2026-11-{d:02d},100\n" for d in range(1, 21))
    assert forecast(tmp_path, content, "--month", "2026-12") == 2
    assert "needs months ['2025-12', '2026-09', '2026-10', '2026-11']" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "month", "message"),
    [
        ("2026-11,33000\n", "2026-12", "needs months ['2025-12', '2026-09', '2026-10']"),
        ("2026-13,1\n", "2026-12", "months.csv:1: '2026-13' is not a month"),
        ("2026-11\n", "2026-12", "months.csv:1: expected month,calls"),
        ("2026-11,lots\n", "2026-12", "months.csv:1: 'lots' is not a number of calls"),
        ("2026-11,nan\n", "2026-12", "months.csv:1: 'nan' is not a number of calls"),
        ("2026-11,-5\n", "2026-12", "months.csv:1: '-5' is not a number of calls"),
        ("2026-11,1\n2026-11,2\n", "2026-12", "months.csv:2: 2026-11 appears twice"),
        ("2026-11,1\n2026-11-02,2\n", "2026-12", "months.csv:2: mixes months and days"),
        ("2026-02-30,1\n", "2026-12", "months.csv:1: '2026-02-30' is not a date"),
        (b"\xff\xfe1\n", "2026-12", "months.csv: not UTF-8 text"),
        ("", "December", "'December' is not a month"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    month: str,
    message: str,
) -> None:
    assert forecast(tmp_path, content, "--month", month) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["forecast", "monthly", "--csv", str(missing), "--month", "2026-12"]) == 2
    assert capsys.readouterr().err == (
        f"forecast: cannot read {missing}: No such file or directory\n"
    )


def test_plan_on_an_unreadable_event_log_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ccserver.yaml"
    (tmp_path / "events.db").mkdir()  # a directory where the database file should be
    url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    config.write_text(json.dumps({"store": {"url": url}}))
    assert main(["forecast", "plan", "--config", str(config), "--date", "2026-12-01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"forecast: store: cannot migrate {url}: ")
    assert err.endswith("(check store.url)\n") and err.count("\n") == 1
