"""``ccserver forecast``: the field's monthly forecast, and a day's staffing plan from history."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import create_async_engine

from acd.config import AcdConfigError
from acd.forecast import MONTHLY_WEIGHTS, monthly_forecast
from ccserver.config import format_errors
from ccserver.staffing import PlanQuery, staffing_plan_from_log

from .common import sl_thresholds
from .run import load_or_explain

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True, metavar="monthly|plan")
    monthly = sub.add_parser("monthly", help="V(n) = 0.055 V(last year) + 0.185 V(n-3) + ...")
    monthly.add_argument("--csv", required=True, help="CSV of month (YYYY-MM), calls")
    monthly.add_argument("--month", required=True, help="the month to forecast, YYYY-MM")
    monthly.add_argument("--json", action="store_true")
    plan = sub.add_parser("plan", help="agents per interval for a day, from the event log")
    plan.add_argument("--config", help="YAML configuration file (store, ACD)")
    plan.add_argument("--date", required=True, help="the day to plan, YYYY-MM-DD (UTC)")
    plan.add_argument("--queue", default="*")
    plan.add_argument("--interval-minutes", type=int, default=30)
    plan.add_argument("--weeks", type=int, default=4)
    plan.add_argument("--aht", type=float)
    plan.add_argument("--target", type=float, default=80)
    plan.add_argument("--within", type=float, default=20)
    plan.add_argument("--shrinkage", type=float, default=0)
    plan.add_argument("--json", action="store_true")


def _month(text: str) -> tuple[int, int]:
    m = MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"{text!r} is not a month (YYYY-MM)")
    return int(m.group(1)), int(m.group(2))


def read_monthly_csv(path: str) -> dict[tuple[int, int], float]:
    """Monthly volumes from ``month,calls`` rows (a header row is allowed)."""
    history: dict[tuple[int, int], float] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or (n == 1 and row[0].strip().lower() == "month"):
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{n}: expected month,calls")
            try:
                history[_month(row[0])] = float(row[1])
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from None
    return history


def run(args: argparse.Namespace) -> int:
    return _monthly(args) if args.what == "monthly" else _plan(args)


def _monthly(args: argparse.Namespace) -> int:
    try:
        year, month = _month(args.month)
        calls = monthly_forecast(read_monthly_csv(args.csv), year, month)
    except (OSError, ValueError) as exc:
        print(f"forecast: {exc}", file=sys.stderr)
        return 2
    result = {"month": f"{year:04d}-{month:02d}", "calls": round(calls, 1),
              "weights": dict(zip(("last_year", "n-3", "n-2", "n-1"), MONTHLY_WEIGHTS,
                                  strict=True))}  # fmt: skip
    print(json.dumps(result) if args.json else f"{result['month']}: {calls:,.0f} calls")
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

    async def produce() -> dict[str, Any]:
        engine = create_async_engine(settings.store.url)
        try:
            return await staffing_plan_from_log(engine, query, threshold_s)
        finally:
            await engine.dispose()

    try:
        plan = asyncio.run(produce())
    except ValueError as exc:
        print(f"forecast: {exc}", file=sys.stderr)
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
