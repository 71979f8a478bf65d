"""Call-volume forecasts: the field's monthly weighted average, and per interval.

Monthly (``shared/reference/field-requirements.md``):

    V(n) = 0.055·V(same month last year) + 0.185·V(n−3) + 0.315·V(n−2) + 0.445·V(n−1)

computed on months whose anomalous days were replaced first
(:func:`clean_days`: a day further than ``k`` robust deviations from the
median of its weekday is replaced by that median; :func:`monthly_totals` sums
the cleaned days), and spread over the days of the month by a weekday profile
(:func:`weekday_profile`, :func:`split_month`: the weekly correction).

Per interval (:func:`interval_forecast`): the calls of each interval of a day
are forecast from the same weekday and time of day in the last ``weeks``
weeks, weighted towards the most recent: weights ``weeks, weeks−1, …, 1``
(for 4 weeks 0.4, 0.3, 0.2, 0.1 of the total). :func:`staffing_plan` turns
that forecast into agents per interval with Erlang C (or Erlang A when a
patience is given).
"""

from __future__ import annotations

import calendar
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .erlang import agents_needed
from .erlang_a import agents_needed_a

MONTHLY_WEIGHTS = (0.055, 0.185, 0.315, 0.445)  # last year, n−3, n−2, n−1
WEEK_S = 7 * 86400


def shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    """(year, month) ``by`` months later (earlier when negative)."""
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def monthly_forecast(history: Mapping[tuple[int, int], float], year: int, month: int) -> float:
    """Calls expected in (year, month) from the history of monthly volumes.

    Raises ValueError naming the months of the formula that ``history`` lacks.
    """
    # the order of MONTHLY_WEIGHTS: same month last year, then n−3, n−2, n−1
    needed = [shift_month(year, month, by) for by in (-12, -3, -2, -1)]
    missing = [f"{y:04d}-{m:02d}" for y, m in needed if (y, m) not in history]
    if missing:
        raise ValueError(f"the forecast of {year:04d}-{month:02d} needs months {missing}")
    return math.fsum(w * history[ym] for w, ym in zip(MONTHLY_WEIGHTS, needed, strict=True))


def clean_days(days: Mapping[date, float], k: float = 3.0) -> dict[date, float]:
    """Days with anomalies replaced by the median of their weekday.

    An anomaly is further than ``k`` median absolute deviations (scaled to a
    standard deviation; 5% of the median when most days are alike) from its
    weekday's median; weekdays with fewer than three days are left as they are.
    """
    by_weekday: dict[int, list[float]] = defaultdict(list)
    for day, calls in days.items():
        by_weekday[day.weekday()].append(calls)
    out = dict(days)
    for day, calls in days.items():
        values = by_weekday[day.weekday()]
        if len(values) < 3:
            continue
        median = statistics.median(values)
        spread = statistics.median(abs(v - median) for v in values) * 1.4826
        # most days alike (MAD 0): measure against 5% of the median instead
        spread = spread or 0.05 * median
        if abs(calls - median) > k * spread:
            out[day] = median
    return out


def monthly_totals(days: Mapping[date, float], k: float = 3.0) -> dict[tuple[int, int], float]:
    """Calls per (year, month) from daily counts: the history :func:`monthly_forecast` wants.

    Anomalous days are replaced first (:func:`clean_days`), each month against
    its own weekday medians, so a seasonal trend across months is not taken
    for an anomaly.
    """
    months: dict[tuple[int, int], dict[date, float]] = defaultdict(dict)
    for day, calls in days.items():
        months[day.year, day.month][day] = calls
    return {ym: math.fsum(clean_days(month, k).values()) for ym, month in sorted(months.items())}


def weekday_profile(days: Mapping[date, float]) -> list[float]:
    """Mean calls per weekday (Monday first), as shares summing to 7."""
    sums: dict[int, list[float]] = defaultdict(list)
    for day, calls in days.items():
        sums[day.weekday()].append(calls)
    means = [statistics.fmean(sums[d]) if sums[d] else 0.0 for d in range(7)]
    total = sum(means)
    if total == 0:
        return [1.0] * 7
    return [7 * m / total for m in means]


def split_month(total: float, year: int, month: int, profile: Sequence[float]) -> dict[date, float]:
    """A month's forecast spread over its days by the weekday profile."""
    n = calendar.monthrange(year, month)[1]
    days = [date(year, month, 1) + timedelta(days=i) for i in range(n)]
    weights = [profile[d.weekday()] for d in days]
    scale = total / sum(weights) if sum(weights) else 0.0
    return {d: w * scale for d, w in zip(days, weights, strict=True)}


def interval_forecast(
    history: Sequence[tuple[float, float]],
    day_start: float,
    interval_s: int,
    weeks: int = 4,
) -> list[tuple[float, float]]:
    """(interval start, calls) for each interval of the day starting at ``day_start``.

    ``history`` holds (interval start, calls offered), typically only the
    intervals that had calls. Each interval of the day is forecast from the
    same time one, two, … ``weeks`` weeks earlier, weighted ``weeks, weeks−1,
    …, 1`` (the most recent heaviest) and normalized by the weights used. A
    past day with no history at all is left out (the record does not cover
    it); on a past day with some, an interval without a row had no calls and
    counts as zero, so a quiet slot is not forecast from its one busy week.
    """
    if weeks < 1 or interval_s <= 0:
        raise ValueError("weeks and interval_s must be positive")
    offered = dict(history)
    first = int(day_start)
    covered = {
        w
        for w in range(1, weeks + 1)
        if any(first - w * WEEK_S <= t < first - w * WEEK_S + 86400 for t in offered)
    }
    out = []
    for start in range(first, first + 86400, interval_s):
        total = weight = 0.0
        for w in covered:
            past = start - w * WEEK_S
            total += (weeks + 1 - w) * offered.get(past, 0.0)
            weight += weeks + 1 - w
        out.append((float(start), total / weight if weight else 0.0))
    return out


@dataclass(frozen=True)
class IntervalStaffing:
    """One interval of a staffing plan."""

    start: float
    calls: float
    agents: int
    scheduled: int
    service_level: float


def staffing_plan(
    forecast: Sequence[tuple[float, float]],
    interval_s: int,
    aht_s: float,
    target: float,
    threshold_s: float,
    shrinkage: float = 0.0,
    patience_s: float | None = None,
) -> list[IntervalStaffing]:
    """Agents needed in each forecast interval: Erlang C, or Erlang A when callers'
    mean ``patience_s`` is given; none when no calls are due. Shares are 0-1."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    plan = []
    for start, calls in forecast:
        if calls <= 0:
            plan.append(IntervalStaffing(start, 0.0, 0, 0, 1.0))
            continue
        if patience_s is None:
            s = agents_needed(calls, interval_s, aht_s, target, threshold_s, shrinkage)
            n, sl = s.agents, s.service_level
        else:
            r = agents_needed_a(calls, interval_s, aht_s, patience_s, target, threshold_s)
            n, sl = r.agents, r.service_level
        plan.append(IntervalStaffing(start, calls, n, math.ceil(n / (1 - shrinkage)), sl))
    return plan
