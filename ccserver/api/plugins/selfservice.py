"""/api/tickets, /api/outages, /api/surveys: the self-service records for supervisors.

Closing a ticket starts its repair-confirmation callback; resolving an outage
calls back every caller who asked to be told.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ivr.menu import SoundName
from ivr.records import Ticket

from ...callbacks import FollowUpDesk
from ...selfservice.pins_sql import DbPinAttempts
from ...selfservice.records_sql import SelfServiceRecords
from ..deps import Deps
from ..errors import Conflict, NotFound
from ..fields import Ident, Instant, Text
from ..routes import Route, add_route, respond

RECORDS_KEY = web.AppKey("records", SelfServiceRecords)
PINS_KEY = web.AppKey("pins", DbPinAttempts)
DESK_KEY = web.AppKey("desk", FollowUpDesk)

# a row id: the stores keep 32-bit integers (PostgreSQL ``integer``)
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------
class TicketPath(BaseModel):
    ticket_id: RowId = Field(description="the ticket's number as read to the caller, or its id")


class OutagePath(BaseModel):
    outage_id: RowId


class AccountPath(BaseModel):
    account: str = Field(pattern=r"^[0-9]{4,16}$", description="the account number")


class TicketQuery(_Strict):
    status: Literal["open", "closed"] | None = Field(default=None, description="default: both")


class OutageQuery(_Strict):
    active: bool = Field(default=False, description="only the unresolved outages")


class SurveyQuery(_Strict):
    call_id: Ident | None = Field(default=None, description="one call's surveys")


class CloseTicketBody(_Strict):
    resolution: Text = Field(min_length=1, max_length=2000, description="what was repaired")


class OutageBody(_Strict):
    """A known outage: the regions (account regions) and/or caller number prefixes it covers."""

    regions: list[Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,32}$")]] = Field(
        default_factory=list, max_length=100
    )
    number_prefixes: list[Annotated[str, Field(pattern=r"^[0-9]{1,15}$")]] = Field(
        default_factory=list, max_length=100
    )
    message: Text = Field(min_length=1, max_length=200, description="for the supervisors")
    prompt: SoundName | None = Field(
        default=None,
        description="a recorded notice to play: a plain sound name (no folder, no ..)",
    )
    expected_fix_at: Instant | None = Field(
        default=None, description="ISO time between 1970 and 2100; without a zone, UTC"
    )

    @model_validator(mode="after")
    def _covers_someone(self) -> Self:
        if not self.regions and not self.number_prefixes:
            raise ValueError("an outage needs regions or number_prefixes")
        return self


# --- responses ----------------------------------------------------------------
class TicketOut(BaseModel):
    """A repair ticket; times are epoch seconds."""

    id: int
    number: str = Field(description="the number read back to the caller")
    call_id: str
    account: str | None
    caller: str
    callback_number: str
    category: str
    status: Literal["open", "closed"]
    created_at: float
    due_at: float
    closed_at: float | None
    resolution: str | None
    callback_status: str | None = Field(
        description="pending, calling, confirmed, not_fixed, unreached"
    )
    callback_attempts: int
    rating: int | None = Field(description="the customer's rating of the repair, 1-5")


class OutageOut(BaseModel):
    id: int
    regions: list[str]
    number_prefixes: list[str]
    message: str
    prompt: str | None
    declared_at: float
    expected_fix_at: float | None
    resolved_at: float | None


class OutageListed(OutageOut):
    deflected: int = Field(ge=0, description="callers who took a callback instead of waiting")


class SurveyOut(BaseModel):
    call_id: str
    kind: str
    agent_id: str | None
    queue: str | None
    ticket_id: int | None
    score: int
    at: float


class LockedAccount(BaseModel):
    account: str
    failures: int = Field(description="wrong PINs within the lockout window")


class LockedAccounts(BaseModel):
    accounts: list[LockedAccount]


class Unlocked(BaseModel):
    account: str
    unlocked: bool = Field(description="false when the account had no recent failures")


class TicketList(BaseModel):
    tickets: list[TicketOut]


class OutageList(BaseModel):
    outages: list[OutageListed]


class SurveyList(BaseModel):
    surveys: list[SurveyOut]


# --- handlers -----------------------------------------------------------------
async def list_tickets(request: web.Request, query: TicketQuery) -> web.Response:
    """The newest tickets first."""
    tickets = await request.app[RECORDS_KEY].tickets(query.status)
    return respond(TicketList(tickets=[TicketOut.model_validate(t.as_dict()) for t in tickets]))


async def _find_ticket(request: web.Request, path: TicketPath) -> Ticket:
    """The ticket a caller quotes by its number (100001), else the one with that id."""
    records = request.app[RECORDS_KEY]
    ticket = await records.ticket_by_number(str(path.ticket_id))
    ticket = ticket or await records.ticket(path.ticket_id)
    if ticket is None:
        raise NotFound("no such ticket")
    return ticket


async def get_ticket(request: web.Request, path: TicketPath) -> web.Response:
    """One ticket (by the number the caller heard, or by id) and its callback's progress."""
    return respond(TicketOut.model_validate((await _find_ticket(request, path)).as_dict()))


async def close_ticket(
    request: web.Request, path: TicketPath, body: CloseTicketBody
) -> web.Response:
    """Close an open ticket: the customer is then called back to confirm the repair."""
    found = await _find_ticket(request, path)
    ticket = await request.app[DESK_KEY].close_ticket(found.id, body.resolution)
    if ticket is None:
        raise Conflict("the ticket is not open")
    return respond(TicketOut.model_validate(ticket.as_dict()))


async def list_outages(request: web.Request, query: OutageQuery) -> web.Response:
    """The outages, newest first, with the callers each one deflected."""
    records = request.app[RECORDS_KEY]
    outages = await records.outages(active_only=query.active)
    counts = await records.deflections_by_outage()
    listed = [
        OutageListed.model_validate(o.as_dict() | {"deflected": counts.get(o.id, 0)})
        for o in outages
    ]
    return respond(OutageList(outages=listed))


async def declare_outage(request: web.Request, body: OutageBody) -> web.Response:
    """Declare an outage: callers it covers hear the message and may ask for a callback."""
    desk = request.app[DESK_KEY]
    outage = await request.app[RECORDS_KEY].declare_outage(
        regions=body.regions,
        number_prefixes=body.number_prefixes,
        message=body.message,
        prompt=body.prompt,
        expected_fix_at=body.expected_fix_at.timestamp() if body.expected_fix_at else None,
        now=desk.clock(),
    )
    return respond(OutageOut.model_validate(outage.as_dict()), status=201)


async def resolve_outage(request: web.Request, path: OutagePath) -> web.Response:
    """Resolve an outage: every caller who asked is called back."""
    outage = await request.app[DESK_KEY].resolve_outage(path.outage_id)
    if outage is None:
        if await request.app[RECORDS_KEY].outage(path.outage_id) is None:
            raise NotFound("no such outage")
        raise Conflict("the outage is already resolved")
    return respond(OutageOut.model_validate(outage.as_dict()))


async def list_surveys(request: web.Request, query: SurveyQuery) -> web.Response:
    """Survey scores, oldest first."""
    rows = await request.app[RECORDS_KEY].surveys(query.call_id)
    return respond(SurveyList(surveys=[SurveyOut.model_validate(r) for r in rows]))


async def locked_accounts(request: web.Request) -> web.Response:
    """Accounts locked after repeated wrong PINs in the IVR (their callers go to agents)."""
    pins = request.app[PINS_KEY]
    rows = await pins.locked_accounts(request.app[DESK_KEY].clock())
    return respond(LockedAccounts(accounts=[LockedAccount(account=a, failures=n) for a, n in rows]))


async def unlock_account(request: web.Request, path: AccountPath) -> web.Response:
    """Lift an account's PIN lockout (forget its wrong PINs)."""
    done = await request.app[PINS_KEY].unlock(path.account)
    return respond(Unlocked(account=path.account, unlocked=done))


def setup(app: web.Application, deps: Deps) -> None:
    if deps.records is None or deps.desk is None:
        return
    if deps.pins is not None:
        app[PINS_KEY] = deps.pins
        add_route(
            app,
            Route(
                method="GET",
                path="/api/accounts/locked",
                handler=locked_accounts,
                summary="Accounts locked after wrong PINs",
                tag="self-service",
                response=LockedAccounts,
            ),
        )
        add_route(
            app,
            Route(
                method="POST",
                path="/api/accounts/{account}/unlock",
                handler=unlock_account,
                summary="Lift an account's PIN lockout",
                tag="self-service",
                path_params=AccountPath,
                response=Unlocked,
                errors=(404,),
            ),
        )
    app[RECORDS_KEY] = deps.records
    app[DESK_KEY] = deps.desk
    for route in (
        Route(
            method="GET",
            path="/api/tickets",
            handler=list_tickets,
            summary="List tickets",
            tag="self-service",
            query=TicketQuery,
            response=TicketList,
            errors=(400,),
        ),
        Route(
            method="GET",
            path="/api/tickets/{ticket_id}",
            handler=get_ticket,
            summary="Get a ticket",
            tag="self-service",
            path_params=TicketPath,
            response=TicketOut,
            errors=(404,),
        ),
        Route(
            method="POST",
            path="/api/tickets/{ticket_id}/close",
            handler=close_ticket,
            summary="Close a ticket and call the customer back",
            tag="self-service",
            path_params=TicketPath,
            body=CloseTicketBody,
            response=TicketOut,
            errors=(400, 404, 409),
        ),
        Route(
            method="GET",
            path="/api/outages",
            handler=list_outages,
            summary="List outages",
            tag="self-service",
            query=OutageQuery,
            response=OutageList,
            errors=(400,),
        ),
        Route(
            method="POST",
            path="/api/outages",
            handler=declare_outage,
            summary="Declare an outage",
            tag="self-service",
            body=OutageBody,
            response=OutageOut,
            status=201,
            errors=(400,),
        ),
        Route(
            method="POST",
            path="/api/outages/{outage_id}/resolve",
            handler=resolve_outage,
            summary="Resolve an outage and call back who asked",
            tag="self-service",
            path_params=OutagePath,
            response=OutageOut,
            errors=(404, 409),
        ),
        Route(
            method="GET",
            path="/api/surveys",
            handler=list_surveys,
            summary="List survey scores",
            tag="self-service",
            query=SurveyQuery,
            response=SurveyList,
            errors=(400,),
        ),
    ):
        add_route(app, route)
