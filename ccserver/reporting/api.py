"""/api/reports/{queues,agents,calls}: KPIs for any range and interval, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ..config import ReportsSection
from .source import build_report, report_request, to_csv

ENGINE_KEY = web.AppKey("reports_engine", AsyncEngine)
SETTINGS_KEY = web.AppKey("reports_settings", ReportsSection)
THRESHOLD_KEY: web.AppKey[Callable[[str], float]] = web.AppKey("reports_threshold")


async def report(request: web.Request) -> web.Response:
    """``?from=&to=&interval=15|30|60|day&variant=&format=json|csv``."""
    params = dict(request.query)
    fmt = params.pop("format", "json")
    if fmt not in ("json", "csv"):
        return web.json_response({"error": "format must be json or csv"}, status=400)
    try:
        req = report_request(request.match_info["kind"], params, request.app[SETTINGS_KEY])
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    rows = await build_report(request.app[ENGINE_KEY], req, request.app[THRESHOLD_KEY])
    if fmt == "csv":
        return web.Response(text=to_csv(rows), content_type="text/csv")
    return web.json_response(
        {
            "report": req.kind,
            "from": req.start,
            "to": req.end,
            "interval_s": req.interval_s,
            "service_level_variant": req.variant,
            "short_abandon_s": req.short_abandon_s,
            "rows": rows,
        }
    )


def add_report_routes(
    app: web.Application,
    engine: AsyncEngine,
    settings: ReportsSection,
    threshold_s: Callable[[str], float],
) -> None:
    """Register the reports API."""
    app[ENGINE_KEY] = engine
    app[SETTINGS_KEY] = settings
    app[THRESHOLD_KEY] = threshold_s
    app.router.add_get("/api/reports/{kind}", report)
