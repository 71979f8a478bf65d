"""/api/reports/{queues,agents,calls}: KPIs for any range and interval, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.service_level import SlVariant

from ...config import ReportsSection
from ...reporting.source import (
    build_report,
    parse_time,
    report_body,
    report_request,
    to_csv,
)
from ..deps import Deps
from ..errors import BadRequest
from ..fields import MAX_YEAR, MIN_YEAR, epoch_in_range
from ..routes import Route, add_route, respond

ENGINE_KEY = web.AppKey("reports_engine", AsyncEngine)
SETTINGS_KEY = web.AppKey("reports_settings", ReportsSection)
THRESHOLD_KEY: web.AppKey[Callable[[str], float]] = web.AppKey("reports_threshold")


class ReportPath(BaseModel):
    kind: Literal["queues", "agents", "calls"] = Field(
        description="queues: KPIs per queue and interval; agents: per agent; calls: one row a call"
    )


class ReportQuery(BaseModel):
    """The range and how the figures are computed; the range is at most reports.max_range_days."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(
        alias="from",
        max_length=40,
        description="start: ISO 8601 (UTC unless it says) or epoch seconds, 1970-2100",
    )
    to: str = Field(
        max_length=40, description="end (exclusive), after from: ISO 8601 or epoch seconds"
    )
    interval: Literal["15", "30", "60", "day"] = Field(
        default="30", description="minutes a row covers, or a day (queues report)"
    )
    variant: SlVariant | None = Field(
        default=None, description="service-level formula; default: reports.service_level_variant"
    )
    format: Literal["json", "csv"] = "json"

    @field_validator("from_", "to")
    @classmethod
    def _a_time(cls, value: str) -> str:
        try:
            epoch_in_range(parse_time(value))
        except (ValueError, OverflowError, OSError):
            # nan, inf, year 1 or 9999 included: one message says what is taken
            raise ValueError(
                f"use ISO 8601 (2026-11-22T08:00) or epoch seconds, "
                f"between {MIN_YEAR} and {MAX_YEAR}"
            ) from None
        return value


class Report(BaseModel):
    report: Literal["queues", "agents", "calls"]
    from_: float = Field(alias="from", description="epoch seconds")
    to: float
    from_local: str = Field(description="the start in the center's time zone, with its offset")
    to_local: str
    timezone: str = Field(description="reports.timezone: the IANA zone intervals align to")
    interval_s: int
    service_level_variant: SlVariant
    short_abandon_s: float = Field(description="abandons shorter than this are not counted")
    rows: list[dict[str, Any]] = Field(description="one row per queue and interval, agent or call")


async def report(request: web.Request, path: ReportPath, query: ReportQuery) -> web.Response:
    """A report over the event log; ``format=csv`` gives the rows as CSV."""
    params: dict[str, str | None] = {
        "from": query.from_,
        "to": query.to,
        "interval": query.interval,
        "variant": query.variant,
    }
    try:
        req = report_request(path.kind, params, request.app[SETTINGS_KEY])
    except ValueError as exc:  # the range: backwards or too long
        raise BadRequest(str(exc)) from exc
    rows = await build_report(request.app[ENGINE_KEY], req, request.app[THRESHOLD_KEY])
    if query.format == "csv":
        return web.Response(text=to_csv(rows), content_type="text/csv")
    return respond(Report.model_validate(report_body(req, rows)))


def setup(app: web.Application, deps: Deps) -> None:
    if deps.db is None or deps.reports is None or deps.threshold_s is None:
        return
    app[ENGINE_KEY] = deps.db
    app[SETTINGS_KEY] = deps.reports
    app[THRESHOLD_KEY] = deps.threshold_s
    add_route(
        app,
        Route(
            method="GET",
            path="/api/reports/{kind}",
            handler=report,
            summary="A KPI report over a time range",
            tag="reports",
            path_params=ReportPath,
            query=ReportQuery,
            response=Report,
            alt_media=("text/csv",),
            errors=(400, 404),
        ),
    )
