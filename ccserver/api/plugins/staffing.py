"""/api/staffing (Erlang C or A for given traffic) and /api/staffing/plan (a day, from history)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Collection
from datetime import UTC, date, tzinfo
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from ...staffing import PlanQuery, StaffingQuery, staffing, staffing_plan_from_log
from ..deps import Deps
from ..errors import BadRequest, NotFound
from ..fields import MAX_YEAR, MIN_YEAR
from ..routes import Route, add_route, respond

ZONE_KEY: web.AppKey[tzinfo] = web.AppKey("staffing_zone")
ENGINE_KEY = web.AppKey("staffing_engine", AsyncEngine)
THRESHOLD_KEY: web.AppKey[Callable[[str], float]] = web.AppKey("staffing_threshold")
QUEUES_KEY: web.AppKey[Collection[str]] = web.AppKey("staffing_queues")


class PlanParams(PlanQuery):
    """The plan's query, with the queue's name bounded."""

    queue: str = Field(
        default="*",
        pattern=r"^(\*|[A-Za-z0-9_.-]{1,64})$",
        description="a queue (an ACD queue, or one in the history), or * for all",
    )

    @field_validator("date")
    @classmethod
    def _a_day(cls, value: str) -> str:
        try:
            year = date.fromisoformat(value).year
        except ValueError:
            raise ValueError("not a day (YYYY-MM-DD)") from None
        if not MIN_YEAR <= year < MAX_YEAR:
            raise ValueError(f"must lie between {MIN_YEAR} and {MAX_YEAR}")
        return value


class Staffing(BaseModel):
    """The agents needed (or the figures of ``agents``); rates are 0-1, None if undefined."""

    agents: int
    scheduled_agents: int = Field(description="agents / (1 - shrinkage), rounded up")
    traffic_erlangs: float
    meets_target: bool
    model: Literal["erlang_c", "erlang_a"]
    service_level: float | None = Field(description="share of calls answered within `within`")
    asa_s: float | None = Field(description="average speed of answer")
    occupancy: float | None
    service_level_answered: float | None = Field(
        default=None, description="Erlang A only: of the answered calls"
    )
    avg_wait_s: float | None = Field(default=None, description="Erlang A only")
    abandon_rate: float | None = Field(default=None, description="Erlang A only")


class PlanInterval(BaseModel):
    start: float = Field(description="epoch seconds")
    start_local: str = Field(description="the start in the center's time zone, with its offset")
    calls: float = Field(description="forecast calls offered")
    agents: int
    scheduled_agents: int
    service_level: float


class Plan(BaseModel):
    date: str
    timezone: str = Field(description="reports.timezone: the day and intervals are its")
    queue: str
    interval_s: int
    weeks: int
    aht_s: float = Field(description="the AHT used: given, or the history's")
    history_intervals: int
    intervals: list[PlanInterval]


async def get_staffing(request: web.Request, query: StaffingQuery) -> web.Response:
    """Agents needed for a traffic (Erlang C; Erlang A when callers' patience is given)."""
    # a vanishing interval makes the traffic infinite: no JSON number can carry it
    if not math.isfinite(query.calls * query.aht / (query.interval_minutes * 60)):
        raise BadRequest("calls × aht / interval is too large a traffic to compute")
    try:
        # off the event loop: a large Erlang A search takes a noticeable moment
        figures = await asyncio.to_thread(staffing, query)
    except (ValueError, OverflowError) as exc:  # inputs the models cannot take (or compute)
        raise BadRequest(str(exc)) from exc
    # the Erlang A figures only when Erlang A answered
    return respond(Staffing.model_validate(figures), exclude_unset=True)


async def get_plan(request: web.Request, query: PlanParams) -> web.Response:
    """A day's staffing plan, each interval forecast from the same slot of past weeks."""
    try:
        plan = await staffing_plan_from_log(
            request.app[ENGINE_KEY], query, request.app[THRESHOLD_KEY], request.app[ZONE_KEY]
        )
    except (ValueError, OverflowError) as exc:  # a date Python cannot place
        raise BadRequest(str(exc)) from exc
    known = query.queue == "*" or query.queue in request.app[QUEUES_KEY]
    if not known and not plan["history_intervals"]:
        raise NotFound(f"no queue {query.queue!r}: not an ACD queue and not in the history")
    return respond(Plan.model_validate(plan))


def setup(app: web.Application, deps: Deps) -> None:
    add_route(
        app,
        Route(
            method="GET",
            path="/api/staffing",
            handler=get_staffing,
            summary="Staffing for a given traffic",
            tag="staffing",
            query=StaffingQuery,
            response=Staffing,
            errors=(400,),
        ),
    )
    if deps.db is None or deps.threshold_s is None:
        return  # no event log: no history to plan from
    app[ENGINE_KEY] = deps.db
    app[THRESHOLD_KEY] = deps.threshold_s
    app[ZONE_KEY] = deps.reports.zone() if deps.reports is not None else UTC
    orchestrator = deps.orchestrator
    app[QUEUES_KEY] = frozenset(orchestrator.engine.queues) if orchestrator else frozenset()
    add_route(
        app,
        Route(
            method="GET",
            path="/api/staffing/plan",
            handler=get_plan,
            summary="A day's staffing plan from the call history",
            tag="staffing",
            query=PlanParams,
            response=Plan,
            errors=(400, 404),
        ),
    )
