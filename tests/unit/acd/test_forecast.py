"""The monthly weighted forecast, anomaly cleaning, the weekly profile, per-interval forecasts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from acd.forecast import (
    clean_days,
    interval_forecast,
    monthly_forecast,
    split_month,
    staffing_plan,
    weekday_profile,
)

HISTORY = {(2025, 12): 30000, (2026, 9): 28000, (2026, 10): 31000, (2026, 11): 33000}


def test_monthly_weights_of_the_field() -> None:
    # 0.055·30000 + 0.185·28000 + 0.315·31000 + 0.445·33000
    assert monthly_forecast(HISTORY, 2026, 12) == pytest.approx(31280)


def test_missing_months_are_named() -> None:
    with pytest.raises(ValueError, match=r"2027-01 needs months \['2026-01', '2026-12'\]"):
        monthly_forecast(HISTORY, 2027, 1)


def test_anomalous_day_is_replaced_by_its_weekday_median() -> None:
    mondays = [date(2026, 10, 5) + timedelta(weeks=w) for w in range(5)]
    days = dict.fromkeys(mondays, 1000.0)
    days[mondays[2]] = 5000.0  # an outage day
    days[mondays[3]] = 1040.0
    cleaned = clean_days(days)
    assert cleaned[mondays[2]] == 1000.0 and cleaned[mondays[3]] == 1040.0


def test_weekday_profile_spreads_a_month() -> None:
    start = date(2026, 10, 5)  # a Monday
    days = {start + timedelta(days=i): (2000.0 if i % 7 < 5 else 500.0) for i in range(28)}
    profile = weekday_profile(days)
    assert sum(profile) == pytest.approx(7)
    assert profile[0] / profile[6] == pytest.approx(4)
    split = split_month(31280, 2026, 12, profile)
    assert len(split) == 31 and sum(split.values()) == pytest.approx(31280)
    assert split[date(2026, 12, 7)] == pytest.approx(4 * split[date(2026, 12, 6)])


def test_interval_forecast_weighs_recent_weeks_more() -> None:
    day = 1_800_000_000.0 - 1_800_000_000.0 % 86400  # a UTC midnight
    slot = day + 9 * 3600
    week = 7 * 86400
    history = [(slot - week, 40.0), (slot - 2 * week, 30.0), (slot - 3 * week, 20.0),
               (slot - 4 * week, 10.0)]  # fmt: skip
    forecast = dict(interval_forecast(history, day, 1800, weeks=4))
    assert len(forecast) == 48
    assert forecast[slot] == pytest.approx((4 * 40 + 3 * 30 + 2 * 20 + 1 * 10) / 10)
    assert forecast[slot + 1800] == 0


def test_staffing_plan_staffs_each_interval() -> None:
    plan = staffing_plan([(0.0, 100.0), (1800.0, 0.0)], 1800, 180, 0.8, 20, 0.3)
    assert (plan[0].agents, plan[0].scheduled) == (14, 20)
    assert plan[1].agents == 0
