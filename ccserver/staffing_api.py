"""/api/staffing (Erlang C or A for given traffic) and /api/staffing/plan (a day, from history)."""

from __future__ import annotations

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
        return web.json_response(staffing(q))
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
    app: web.Application, engine: AsyncEngine, threshold_s: Callable[[str], float]
) -> None:
    """Register the staffing API."""
    app[ENGINE_KEY] = engine
    app[THRESHOLD_KEY] = threshold_s
    app.router.add_get("/api/staffing", get_staffing)
    app.router.add_get("/api/staffing/plan", get_plan)
