"""/api/staffing (Erlang C or A for given traffic) and /api/staffing/plan (a day, from history)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from .config import format_errors
from .staffing import PlanQuery, StaffingQuery, staffing, staffing_plan_from_log

ENGINE_KEY = web.AppKey("staffing_engine", AsyncEngine)
THRESHOLD_KEY: web.AppKey[Callable[[str], float]] = web.AppKey("staffing_threshold")


Q = TypeVar("Q", bound=BaseModel)


def _query(request: web.Request, model: type[Q]) -> Q | web.Response:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        return web.json_response({"error": format_errors(exc, "; ")}, status=400)


async def get_staffing(request: web.Request) -> web.Response:
    """``?calls=&interval_minutes=&aht=&target=&within=&shrinkage=&patience=&agents=``."""
    q = _query(request, StaffingQuery)
    if isinstance(q, web.Response):
        return q
    try:
        # off the event loop: a large Erlang A search takes a noticeable moment
        return web.json_response(await asyncio.to_thread(staffing, q))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)


async def get_plan(request: web.Request) -> web.Response:
    """``?date=YYYY-MM-DD&queue=&interval_minutes=&weeks=&aht=&target=&within=&shrinkage=``."""
    q = _query(request, PlanQuery)
    if isinstance(q, web.Response):
        return q
    try:
        plan = await staffing_plan_from_log(
            request.app[ENGINE_KEY],
            q,
            request.app[THRESHOLD_KEY],
        )
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(plan)


def add_staffing_routes(
    app: web.Application,
    engine: AsyncEngine | None = None,
    threshold_s: Callable[[str], float] | None = None,
) -> None:
    """Register ``GET /api/staffing``; and ``GET /api/staffing/plan`` when the event
    log's ``engine`` and the queues' service-level ``threshold_s`` are given."""
    app.router.add_get("/api/staffing", get_staffing)
    if engine is not None and threshold_s is not None:
        app[ENGINE_KEY] = engine
        app[THRESHOLD_KEY] = threshold_s
        app.router.add_get("/api/staffing/plan", get_plan)
