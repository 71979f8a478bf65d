"""The monthly weighted forecast, anomaly cleaning, the weekly profile, per-interval forecasts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from acd.erlang_a import erlang_a
from acd.forecast import (
    clean_days,
    interval_forecast,
    monthly_forecast,
    monthly_totals,
    split_month,
    staffing_plan,
    weekday_profile,
)

HISTORY = {(2025, 12): 30000, (2026, 9): 28000, (2026, 10): 31000, (2026, 11): 33000}
WEEK = 7 * 86400
DAY = 1_800_000_000.0 - 1_800_000_000.0 % 86400  # a UTC midnight


def test_monthly_weights_of_the_field() -> None:
    # 0.055·30000 + 0.185·28000 + 0.315·31000 + 0.445·33000
    # = 1650 + 5180 + 9765 + 14685 = 31280
    assert monthly_forecast(HISTORY, 2026, 12) == pytest.approx(31280)


def test_the_weights_span_a_year_boundary() -> None:
    # February 2027: last year 2026-02, then 2026-11, 2026-12, 2027-01
    history = {(2026, 2): 1000, (2026, 11): 2000, (2026, 12): 3000, (2027, 1): 4000}
    # 55 + 370 + 945 + 1780
    assert monthly_forecast(history, 2027, 2) == pytest.approx(3150)


def test_missing_months_are_named() -> None:
    with pytest.raises(ValueError, match=r"2027-01 needs months \['2026-01', '2026-12'\]"):
        monthly_forecast(HISTORY, 2027, 1)


def test_anomalous_day_is_replaced_by_its_weekday_median() -> None:
    mondays = [date(2026, 10, 5) + timedelta(weeks=w) for w in range(5)]
    days = dict.fromkeys(mondays, 1000.0)
    days[mondays[2]] = 5000.0  # an outage day
    days[mondays[3]] = 1040.0  # within 3 × 5% of the median (MAD is 0 here)
    cleaned = clean_days(days)
    assert cleaned[mondays[2]] == 1000.0 and cleaned[mondays[3]] == 1040.0


def test_robust_spread_decides_what_is_anomalous() -> None:
    mondays = [date(2026, 10, 5) + timedelta(weeks=w) for w in range(5)]
    # median 1000, deviations 100, 50, 0, 50, 600 -> MAD 50, robust SD 74.13
    values = [900.0, 950.0, 1000.0, 1050.0, 1600.0]
    cleaned = clean_days(dict(zip(mondays, values, strict=True)), k=3)
    # 3 × 74.13 = 222.4: only the 600 deviation goes
    assert list(cleaned.values()) == [900.0, 950.0, 1000.0, 1050.0, 1000.0]


def test_monthly_totals_clean_each_month_before_summing() -> None:
    days = {date(2026, 10, 1) + timedelta(days=i): 100.0 for i in range(31)}
    days[date(2026, 10, 14)] = 900.0  # a Wednesday outage: replaced by 100
    days |= {date(2026, 11, 1) + timedelta(days=i): 200.0 for i in range(30)}
    assert monthly_totals(days) == {(2026, 10): 3100.0, (2026, 11): 6000.0}


def test_weekday_profile_spreads_a_month() -> None:
    start = date(2026, 10, 5)  # a Monday
    days = {start + timedelta(days=i): (2000.0 if i % 7 < 5 else 500.0) for i in range(28)}
    profile = weekday_profile(days)
    # weekday means 2000 ×5, 500 ×2 (total 11000): 7·2000/11000, 7·500/11000
    assert profile == pytest.approx([14 / 11] * 5 + [3.5 / 11] * 2)
    split = split_month(31280, 2026, 12, profile)
    assert len(split) == 31 and sum(split.values()) == pytest.approx(31280)
    # December 2026: 23 weekdays and 8 weekend days: 23·4x + 8·x = 31280 -> x = 312.8
    assert split[date(2026, 12, 6)] == pytest.approx(312.8)  # a Sunday
    assert split[date(2026, 12, 7)] == pytest.approx(1251.2)  # a Monday


def test_interval_forecast_weighs_recent_weeks_more() -> None:
    slot = DAY + 9 * 3600
    history = [(slot - WEEK, 40.0), (slot - 2 * WEEK, 30.0), (slot - 3 * WEEK, 20.0),
               (slot - 4 * WEEK, 10.0)]  # fmt: skip
    forecast = dict(interval_forecast(history, DAY, 1800, weeks=4))
    assert len(forecast) == 48 and min(forecast) == DAY
    # (4·40 + 3·30 + 2·20 + 1·10) / (4+3+2+1) = 300 / 10
    assert forecast[slot] == pytest.approx(30)
    assert forecast[slot + 1800] == 0


def test_interval_forecast_counts_silent_slots_of_covered_days_as_zero() -> None:
    slot = DAY + 9 * 3600
    # a call three weeks ago only; weeks 1 and 2 have traffic elsewhere that day,
    # week 4 has no record at all
    history = [(slot - 3 * WEEK, 10.0), (DAY - WEEK + 3600, 5.0), (DAY - 2 * WEEK + 7200, 5.0)]
    forecast = dict(interval_forecast(history, DAY, 1800, weeks=4))
    # weights 4 (week 1), 3 (week 2), 2 (week 3); week 4 left out: 2·10 / 9
    assert forecast[slot] == pytest.approx(20 / 9)
    assert forecast[DAY + 3600] == pytest.approx(4 * 5 / 9)


def test_interval_forecast_without_history_is_zero() -> None:
    assert {c for _, c in interval_forecast([], DAY, 3600)} == {0.0}
    with pytest.raises(ValueError):
        interval_forecast([], DAY, 1800, weeks=0)


def test_staffing_plan_staffs_each_interval() -> None:
    # kpis.md: 100 calls in 30 min at AHT 180 s -> 14 agents; 30% shrinkage -> 20
    plan = staffing_plan([(0.0, 100.0), (1800.0, 0.0)], 1800, 180, 0.8, 20, 0.3)
    assert (plan[0].agents, plan[0].scheduled) == (14, 20)
    assert plan[0].service_level == pytest.approx(0.8884, abs=1e-4)
    assert (plan[1].agents, plan[1].scheduled) == (0, 0)


def test_staffing_plan_with_patience_uses_erlang_a() -> None:
    plan = staffing_plan([(0.0, 100.0)], 1800, 180, 0.8, 20, 0.3, patience_s=120)
    # Erlang A: 12 agents give 82.6% (11 give 74.2%); ceil(12 / 0.7) = 18
    assert (plan[0].agents, plan[0].scheduled) == (12, 18)
    assert plan[0].service_level == erlang_a(12, 100, 1800, 180, 120, 20).service_level
