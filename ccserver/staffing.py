"""The staffing calculator shared by ``ccserver staffing`` and ``GET /api/staffing``.

Erlang C by default; Erlang A when a mean caller patience is given (abandoned
calls count against its service level: see ``acd/erlang_a.py``). Without
``agents`` it finds the fewest agents meeting the target; with ``agents`` it
tells what that many achieve.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.erlang import agents_needed, asa, occupancy, service_level
from acd.erlang_a import agents_needed_a, erlang_a
from acd.forecast import interval_forecast, staffing_plan

from .reporting.kpis import local_time
from .reporting.source import ReportRequest, build_report


class StaffingQuery(BaseModel):
    """One staffing question; percentages are 0-100."""

    model_config = ConfigDict(extra="forbid")

    calls: float = Field(gt=0, description="calls offered in the interval")
    interval_minutes: float = Field(default=30, gt=0, le=1440)
    aht: float = Field(gt=0, le=86400, description="average handle time, seconds")
    target: float = Field(default=80, gt=0, lt=100, description="service level, percent")
    within: float = Field(default=20, gt=0, le=3600, description="answer threshold, seconds")
    shrinkage: float = Field(default=0, ge=0, lt=100, description="percent of paid time off phones")
    patience: float | None = Field(default=None, gt=0, description="mean patience: Erlang A")
    agents: int | None = Field(default=None, ge=1, le=100_000, description="evaluate this many")


def _r(value: float, digits: int = 4) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def staffing(q: StaffingQuery) -> dict[str, Any]:
    """The figures of one staffing question, as printed and served."""
    interval_s = q.interval_minutes * 60
    target, shrink = q.target / 100, q.shrinkage / 100
    if q.patience is not None:
        r = (
            erlang_a(q.agents, q.calls, interval_s, q.aht, q.patience, q.within)
            if q.agents
            else agents_needed_a(q.calls, interval_s, q.aht, q.patience, target, q.within)
        )
        n = r.agents
        figures: dict[str, Any] = {
            "model": "erlang_a",
            "service_level": _r(r.service_level),
            "service_level_answered": _r(r.service_level_answered),
            "asa_s": _r(r.asa_s, 2),
            "avg_wait_s": _r(r.avg_wait_s, 2),
            "abandon_rate": _r(r.p_abandon),
            "occupancy": _r(r.occupancy),
        }
    else:
        a = q.calls * q.aht / interval_s
        n = q.agents or agents_needed(q.calls, interval_s, q.aht, target, q.within).agents
        figures = {
            "model": "erlang_c",
            "service_level": _r(service_level(n, a, q.aht, q.within)),
            "asa_s": _r(asa(n, a, q.aht), 2),
            "occupancy": _r(occupancy(n, a)),
        }
    return {
        "agents": n,
        "scheduled_agents": math.ceil(n / (1 - shrink)),
        "traffic_erlangs": round(q.calls * q.aht / interval_s, 3),
        "meets_target": (figures["service_level"] or 0) >= target,
        **figures,
    }


class PlanQuery(BaseModel):
    """A day's staffing plan from the call history of the event log."""

    model_config = ConfigDict(extra="forbid")

    date: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="the day to plan, in the center's time zone (reports.timezone)",
    )
    queue: str = Field(default="*", description="a queue, or * for all")
    interval_minutes: int = Field(default=30, description="15, 30 or 60")
    weeks: int = Field(default=4, ge=1, le=12, description="weeks of history")
    aht: float | None = Field(default=None, gt=0, description="default: the history's AHT")
    target: float = Field(default=80, gt=0, lt=100)
    within: float = Field(default=20, gt=0, le=3600)
    shrinkage: float = Field(default=0, ge=0, lt=100)


async def staffing_plan_from_log(
    engine: AsyncEngine, q: PlanQuery, threshold_s: Callable[[str], float], tz: tzinfo = UTC
) -> dict[str, Any]:
    """Forecast each interval of the day from the same slots of past weeks, then staff it.

    The day and its intervals are the center's (``tz``, reports.timezone): a plan for
    Beijing starts at Beijing's midnight.
    """
    if q.interval_minutes not in (15, 30, 60):
        raise ValueError("interval_minutes must be 15, 30 or 60")
    interval_s = q.interval_minutes * 60
    day = datetime.fromisoformat(q.date).replace(tzinfo=tz).timestamp()
    req = ReportRequest("queues", day - q.weeks * 7 * 86400, day, interval_s, tz=tz)
    rows = [r for r in await build_report(engine, req, threshold_s) if r["queue"] == q.queue]
    history = [(r["interval_start"], float(r["offered"])) for r in rows]
    handled = [(r["aht_s"], r["answered"]) for r in rows if r["aht_s"] is not None]
    answered = sum(n for _, n in handled)
    aht = q.aht or (sum(a * n for a, n in handled) / answered if answered else 180.0)
    forecast = interval_forecast(history, day, interval_s, q.weeks)
    plan = staffing_plan(forecast, interval_s, aht, q.target / 100, q.within, q.shrinkage / 100)
    return {
        "date": q.date,
        "timezone": str(tz),
        "queue": q.queue,
        "interval_s": interval_s,
        "weeks": q.weeks,
        "aht_s": round(aht, 1),
        "history_intervals": len(history),
        "intervals": [
            {
                "start": p.start,
                "start_local": local_time(p.start, tz),
                "calls": round(p.calls, 2),
                "agents": p.agents,
                "scheduled_agents": p.scheduled,
                "service_level": round(p.service_level, 4),
            }
            for p in plan
        ],
    }
