"""/api/tickets, /api/outages, /api/surveys: the self-service records for supervisors.

Closing a ticket starts its repair-confirmation callback; resolving an outage
calls back every caller who asked to be told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.records import SelfServiceRecords

from .callbacks import FollowUpDesk
from .config import format_errors

RECORDS_KEY = web.AppKey("records", SelfServiceRecords)
DESK_KEY = web.AppKey("desk", FollowUpDesk)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CloseTicketBody(_Body):
    resolution: str = Field(min_length=1, max_length=2000)


class OutageBody(_Body):
    """A known outage: the regions (account regions) and/or caller number prefixes it covers."""

    regions: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=list)
    number_prefixes: list[Annotated[str, Field(pattern=r"^[0-9]{1,15}$")]] = Field(
        default_factory=list
    )
    message: str = Field(min_length=1, max_length=200)
    prompt: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_/.-]+$")
    expected_fix_at: datetime | None = None


async def _body(request: web.Request, model: type[_Body]) -> Any:
    """The validated body, or a 400 response naming each bad field."""
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        return web.json_response({"error": format_errors(exc, "; ")}, status=400)


def _id(request: web.Request, name: str) -> int:
    text = request.match_info[name]
    if not text.isdigit():
        raise web.HTTPNotFound()
    return int(text)


def _not_found(what: str) -> web.Response:
    return web.json_response({"error": what}, status=404)


async def list_tickets(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status not in (None, "open", "closed"):
        return web.json_response({"error": "status must be open or closed"}, status=400)
    tickets = await request.app[RECORDS_KEY].tickets(status)
    return web.json_response({"tickets": [t.as_dict() for t in tickets]})


async def get_ticket(request: web.Request) -> web.Response:
    ticket = await request.app[RECORDS_KEY].ticket(_id(request, "ticket_id"))
    return web.json_response(ticket.as_dict()) if ticket else _not_found("no such ticket")


async def close_ticket(request: web.Request) -> web.Response:
    body = await _body(request, CloseTicketBody)
    if isinstance(body, web.Response):
        return body
    ticket = await request.app[DESK_KEY].close_ticket(_id(request, "ticket_id"), body.resolution)
    if ticket is None:
        return _not_found("no open ticket with this id")
    return web.json_response(ticket.as_dict())


async def list_outages(request: web.Request) -> web.Response:
    active = request.query.get("active") in ("1", "true", "yes")
    outages = await request.app[RECORDS_KEY].outages(active_only=active)
    counts = await request.app[RECORDS_KEY].deflections_by_outage()
    return web.json_response(
        {"outages": [o.as_dict() | {"deflected": counts.get(o.id, 0)} for o in outages]}
    )


async def declare_outage(request: web.Request) -> web.Response:
    body = await _body(request, OutageBody)
    if isinstance(body, web.Response):
        return body
    if not body.regions and not body.number_prefixes:
        return web.json_response(
            {"error": "an outage needs regions or number_prefixes"}, status=400
        )
    desk = request.app[DESK_KEY]
    outage = await request.app[RECORDS_KEY].declare_outage(
        regions=body.regions,
        number_prefixes=body.number_prefixes,
        message=body.message,
        prompt=body.prompt,
        expected_fix_at=body.expected_fix_at.timestamp() if body.expected_fix_at else None,
        now=desk.clock(),
    )
    return web.json_response(outage.as_dict(), status=201)


async def resolve_outage(request: web.Request) -> web.Response:
    outage = await request.app[DESK_KEY].resolve_outage(_id(request, "outage_id"))
    return web.json_response(outage.as_dict()) if outage else _not_found("no active outage")


async def list_surveys(request: web.Request) -> web.Response:
    rows = await request.app[RECORDS_KEY].surveys(request.query.get("call_id"))
    return web.json_response({"surveys": rows})


def add_selfservice_routes(
    app: web.Application, records: SelfServiceRecords, desk: FollowUpDesk
) -> None:
    """Register the self-service routes on the API application."""
    app[RECORDS_KEY] = records
    app[DESK_KEY] = desk
    app.router.add_get("/api/tickets", list_tickets)
    app.router.add_get("/api/tickets/{ticket_id}", get_ticket)
    app.router.add_post("/api/tickets/{ticket_id}/close", close_ticket)
    app.router.add_get("/api/outages", list_outages)
    app.router.add_post("/api/outages", declare_outage)
    app.router.add_post("/api/outages/{outage_id}/resolve", resolve_outage)
    app.router.add_get("/api/surveys", list_surveys)
