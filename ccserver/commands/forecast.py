"""``ccserver forecast``: the field's monthly forecast, and a day's staffing plan from history."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import re
import sys
from calendar import monthrange
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from acd.config import AcdConfigError
from acd.forecast import (
    MONTHLY_WEIGHTS,
    clean_days,
    monthly_forecast,
    monthly_totals,
    shift_month,
    split_month,
    weekday_profile,
)
from ccserver.config import format_errors
from ccserver.staffing import PlanQuery, staffing_plan_from_log
from ccserver.store.reach import cause

from .common import prepare_store, sl_thresholds, with_store
from .run import load_or_explain

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PROFILE_DAYS = 56  # the weekday profile comes from the last eight weeks of days


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True, metavar="monthly|plan")
    monthly = sub.add_parser(
        "monthly",
        help="V(n) = 0.055 V(last year) + 0.185 V(n-3) + 0.315 V(n-2) + 0.445 V(n-1)",
        description="The field's monthly forecast. The CSV holds month,calls rows "
        "(YYYY-MM), or date,calls rows (YYYY-MM-DD): then anomalous days are replaced "
        "by their weekday's median before months are summed, and the forecast is "
        "spread over the days of the month by the weekday profile of the last 8 weeks.",
    )
    monthly.add_argument("--csv", required=True, help="CSV of month,calls or date,calls")
    monthly.add_argument("--month", required=True, help="the month to forecast, YYYY-MM")
    monthly.add_argument("--json", action="store_true", help="print JSON instead of text")
    plan = sub.add_parser("plan", help="agents per interval for a day, from the event log")
    plan.add_argument(
        "--config", help="YAML configuration file (store, ACD); else the default store"
    )
    plan.add_argument("--date", required=True, help="the day to plan, YYYY-MM-DD (UTC)")
    plan.add_argument("--queue", default="*", help="an ACD queue, or * for all (default)")
    plan.add_argument("--interval-minutes", type=int, default=30, help="15, 30 or 60 (default 30)")
    plan.add_argument(
        "--weeks", type=int, default=4, help="weeks of history, most recent weighted most"
    )
    plan.add_argument("--aht", type=float, help="handle time in s (default: from the log)")
    plan.add_argument("--target", type=float, default=80, help="service level target, %%")
    plan.add_argument("--within", type=float, default=20, help="answered within S seconds")
    plan.add_argument("--shrinkage", type=float, default=0, help="shrinkage, %% (default 0)")
    plan.add_argument("--json", action="store_true", help="print JSON instead of text")


def _month(text: str) -> tuple[int, int]:
    m = MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month (YYYY-MM)")
    return int(m.group(1)), int(m.group(2))


def _calls(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number of calls") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{text.strip()!r} is not a number of calls")
    return value


def read_volume_csv(path: str) -> dict[tuple[int, int], float] | dict[date, float]:
    """Volumes from ``month,calls`` (YYYY-MM) or ``date,calls`` (YYYY-MM-DD) rows.

    A header row is allowed; one kind of row per file; a month or day may
    appear once. Raises ValueError naming the file and line.
    """
    months: dict[tuple[int, int], float] = {}
    days: dict[date, float] = {}
    # utf-8-sig: spreadsheets often start their CSV exports with a byte-order mark
    with open(path, newline="", encoding="utf-8-sig") as f:
        try:
            rows = list(csv.reader(f))
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise ValueError(f"{path}: {exc}") from None
        for n, row in enumerate(rows, 1):
            if not row or not "".join(row).strip():
                continue
            if n == 1 and row[0].strip().lower() in ("month", "date", "day"):
                continue
            try:
                if len(row) < 2:
                    raise ValueError("expected month,calls or date,calls")
                key, calls = row[0].strip(), _calls(row[1])
                if DAY.match(key):
                    try:
                        day = date.fromisoformat(key)
                    except ValueError:
                        raise ValueError(f"{key!r} is not a date (YYYY-MM-DD)") from None
                    if day in days:
                        raise ValueError(f"{key} appears twice")
                    days[day] = calls
                else:
                    ym = _month(key)
                    if ym in months:
                        raise ValueError(f"{key} appears twice")
                    months[ym] = calls
                if months and days:
                    raise ValueError("mixes months and days; use one kind of row")
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
    return days or months


def monthly_from_csv(path: str, year: int, month: int) -> dict[str, Any]:
    """The monthly forecast as printed and served by ``ccserver forecast monthly --json``."""
    volumes = read_volume_csv(path)
    days = {k: v for k, v in volumes.items() if isinstance(k, date)}
    if days:
        totals = monthly_totals(days)
        # a month the file covers only in part would drag the forecast down
        history = {
            ym: calls
            for ym, calls in totals.items()
            if sum(1 for d in days if (d.year, d.month) == ym) == monthrange(*ym)[1]
        }
    else:
        history = {k: v for k, v in volumes.items() if isinstance(k, tuple)}
    calls = monthly_forecast(history, year, month)
    inputs = [shift_month(year, month, by) for by in (-12, -3, -2, -1)]
    result: dict[str, Any] = {
        "month": f"{year:04d}-{month:02d}",
        "calls": round(calls, 1),
        "weights": dict(zip(("last_year", "n-3", "n-2", "n-1"), MONTHLY_WEIGHTS, strict=True)),
        "inputs": {f"{y:04d}-{m:02d}": round(history[y, m], 1) for y, m in inputs},
    }
    if days:
        last = max(days)
        recent = {d: v for d, v in clean_days(days).items() if (last - d).days < PROFILE_DAYS}
        profile = weekday_profile(recent)
        result["weekday_profile"] = [round(p, 4) for p in profile]
        result["days"] = {
            d.isoformat(): round(v, 1) for d, v in split_month(calls, year, month, profile).items()
        }
    return result


def run(args: argparse.Namespace) -> int:
    return _monthly(args) if args.what == "monthly" else _plan(args)


def _monthly(args: argparse.Namespace) -> int:
    try:
        year, month = _month(args.month)
        result = monthly_from_csv(args.csv, year, month)
    except OSError as exc:
        print(f"forecast: cannot read {args.csv}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"forecast: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    terms = " + ".join(
        f"{w} × {v:,.0f} ({ym})"
        for w, (ym, v) in zip(MONTHLY_WEIGHTS, result["inputs"].items(), strict=True)
    )
    print(f"{result['month']}: {result['calls']:,.0f} calls = {terms}")
    for day, calls in result.get("days", {}).items():
        print(f"  {day} {WEEKDAYS[date.fromisoformat(day).weekday()]}  {calls:9,.1f}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    settings = load_or_explain(args.config)
    if settings is None:
        return 2
    fields = ("date", "queue", "interval_minutes", "weeks", "aht", "target", "within",
              "shrinkage")  # fmt: skip
    try:
        query = PlanQuery(**{f: getattr(args, f) for f in fields})
        threshold_s = sl_thresholds(settings)
    except ValidationError as exc:
        print(f"forecast: {format_errors(exc, '; ')}", file=sys.stderr)
        return 2
    except AcdConfigError as exc:
        print(f"forecast: {exc}", file=sys.stderr)
        return 2

    if not prepare_store("forecast", settings.store.url):
        return 1

    async def produce() -> dict[str, Any]:
        zone = settings.reports.zone()
        return await with_store(
            settings.store.url,
            lambda engine: staffing_plan_from_log(engine, query, threshold_s, zone),
        )

    try:
        plan = asyncio.run(produce())
    except ValueError as exc:
        print(f"forecast: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        # the first line names the cause (no such file, no such table, refused ...)
        print(f"forecast: cannot read the event log ({settings.store.url}): {cause(exc)}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.json:
        print(json.dumps(plan))
        return 0
    print(f"{plan['date']} queue {plan['queue']}: AHT {plan['aht_s']} s, "
          f"{plan['history_intervals']} intervals of history")  # fmt: skip
    for row in plan["intervals"]:
        if row["calls"]:
            print(f"  {row['start']:.0f}  {row['calls']:7.1f} calls  {row['agents']:3d} agents "
                  f"({row['scheduled_agents']} scheduled)")  # fmt: skip
    return 0
