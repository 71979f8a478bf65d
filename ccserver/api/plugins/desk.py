"""The agent desktop's call control: hold, transfers, notes, wrap-up, tickets, callbacks.

The AMI side is :mod:`ccserver.call_control` (its docstring says how hold and the
transfers reach Asterisk 22). Rights, beyond the roles of ``access.RIGHTS``: an agent
acts only on their own call, a supervisor on the agents of their teams, an admin on
anyone; an agent creates a ticket for their own call and updates the tickets of the
caller they are serving (or served last).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...call_control import CallControl, CallControlError
from ...callbacks import FollowUpDesk
from ...people import Principal
from ...selfservice.records_sql import SelfServiceRecords
from ..access import Forbidden, principal_of
from ..deps import Deps
from ..errors import BadRequest, Conflict, NotFound
from ..routes import Handler, Route, add_route, respond
from .selfservice import TicketOut, TicketPath

CONTROL_KEY = web.AppKey("call_control", CallControl)
TICKETS_KEY = web.AppKey("desk_records", SelfServiceRecords)
FOLLOW_UP_KEY = web.AppKey("desk_follow_up", FollowUpDesk)

Text = Field(min_length=1, max_length=2000)


class AgentPath(BaseModel):
    agent_id: str = Field(min_length=1, max_length=64, description="the agent's id (acd config)")


class Consult(BaseModel):
    agent: str = Field(description="the colleague consulted before an attended transfer")
    answered: bool


class Colleague(BaseModel):
    id: str
    name: str
    free: bool = Field(description="ready for a call now (a transfer needs that)")


class CallStatus(BaseModel):
    """The agent's call as Asterisk last said (held: its Hold / Unhold events)."""

    call_id: str | None
    channel: str | None = Field(description="the agent's channel in the call")
    held: bool
    held_since: float | None
    consult: Consult | None
    last_call_id: str | None = Field(description="the call notes and the disposition go to")
    disposition_required: bool = Field(description="the last call's queue wants a code")
    disposition_codes: list[str]
    colleagues: list[Colleague] = Field(description="signed-in colleagues, to transfer to")
    queues: list[str]


class HoldAnswer(BaseModel):
    call_id: str
    held: bool = Field(description="what Asterisk says now")
    confirmed: bool = Field(
        description="false: no Hold/Unhold event came; the agent uses the phone's hold key"
    )


class TransferBody(BaseModel):
    """Blind: to a colleague or a queue; attended: to a colleague (consult first)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["blind", "attended"]
    agent: str | None = Field(default=None, min_length=1, max_length=64)
    queue: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if (self.agent is None) == (self.queue is None):
            raise ValueError("name exactly one of agent or queue")
        if self.kind == "attended" and self.agent is None:
            raise ValueError("an attended transfer goes to an agent")
        return self


class TransferAnswer(BaseModel):
    call_id: str
    kind: str
    target: str
    exten: str = Field(description="where Asterisk sends the caller (or rings the colleague)")
    message: str = Field(description="Asterisk's answer")


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Text


class NoteAnswer(BaseModel):
    call_id: str


class WrapUpBody(BaseModel):
    """File the last call's disposition; ``end`` ends wrap-up now (else the timer does)."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(default=None, min_length=1, max_length=64)
    text: str | None = Field(default=None, max_length=2000)
    end: bool = True


class WrapUpAnswer(BaseModel):
    agent: str
    call_id: str | None = Field(description="the call the disposition went to")
    state: str


class CallbackItem(BaseModel):
    call_id: str
    queue: str
    number: str
    requested_at: float
    waiting_s: float
    attempts: int
    not_before: float | None
    state: str = Field(description="yours (reserved for this agent) or waiting")


class CallbackList(BaseModel):
    callbacks: list[CallbackItem]


class TicketBody(BaseModel):
    """A ticket for the caller on the line (or the call named)."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=2000)
    call_id: str | None = Field(default=None, min_length=1, max_length=64)
    account: str | None = Field(default=None, min_length=1, max_length=64)
    due_hours: float = Field(default=24, gt=0, le=720)


class TicketUpdate(BaseModel):
    """A note on an open ticket, and/or close it (its repair callback follows)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, min_length=1, max_length=2000)
    close: bool = False
    resolution: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _something(self) -> TicketUpdate:
        if self.note is None and not self.close:
            raise ValueError("give a note, or close the ticket")
        if self.close and self.resolution is None:
            raise ValueError("closing a ticket needs a resolution")
        return self


def _who(request: web.Request) -> tuple[Principal | None, str]:
    who = principal_of(request)
    return who, (who.name if who is not None else "system")


def _may_act(request: web.Request, agent_id: str) -> str:
    """404 for an unknown agent, 403 for someone else's; the name of who acts."""
    control = request.app[CONTROL_KEY]
    agent = control.orchestrator.engine.agents.get(agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id!r}")
    who, name = _who(request)
    if who is None or who.role == "admin":
        return name
    if who.role == "agent":
        if who.agent_id != agent_id:
            raise Forbidden("an agent acts only on their own call")
        return name
    if not who.supervises(control.orchestrator.engine.servable(agent_id)):
        raise Forbidden(f"agent {agent_id!r} is not in your teams")
    return name


def _api_error(exc: CallControlError) -> Exception:
    if exc.kind == "not_found":
        return NotFound(str(exc))
    if exc.kind == "bad_request":
        return BadRequest(str(exc))
    return Conflict(str(exc))  # the call's state, or Asterisk refused


async def call_status(request: web.Request, path: AgentPath) -> web.Response:
    """The agent's call: held or not (Asterisk's Hold/Unhold), the consult, wrap-up needs."""
    _may_act(request, path.agent_id)
    return respond(CallStatus.model_validate(request.app[CONTROL_KEY].status(path.agent_id)))


async def _hold(request: web.Request, agent_id: str, hold: bool) -> web.Response:
    by = _may_act(request, agent_id)
    control = request.app[CONTROL_KEY]
    try:
        call = control.current_call(agent_id)
        result = await control.hold(agent_id, by, hold=hold)
    except CallControlError as exc:
        raise _api_error(exc) from exc
    call_id = call[0] if call else ""
    return respond(HoldAnswer(call_id=call_id, held=result.held, confirmed=result.confirmed))


async def hold(request: web.Request, path: AgentPath) -> web.Response:
    """Hold the caller: the agent's phone is asked (PJSIPNotify Event=hold) and Asterisk's
    Hold event confirms it."""
    return await _hold(request, path.agent_id, True)


async def resume(request: web.Request, path: AgentPath) -> web.Response:
    """Resume the held caller (PJSIPNotify Event=talk; Asterisk's Unhold confirms it)."""
    return await _hold(request, path.agent_id, False)


def _transfer_answer(call_id: str, result: object) -> web.Response:
    return respond(TransferAnswer.model_validate({"call_id": call_id, **vars(result)}))


async def transfer(request: web.Request, path: AgentPath, body: TransferBody) -> web.Response:
    """Blind (BlindTransfer) to a colleague or a queue, or attended (Atxfer) to a colleague."""
    by = _may_act(request, path.agent_id)
    control = request.app[CONTROL_KEY]
    try:
        call = control.current_call(path.agent_id)
        if body.kind == "blind":
            result = await control.blind_transfer(
                path.agent_id, by, to_agent=body.agent, to_queue=body.queue
            )
        else:
            assert body.agent is not None  # the model says so
            result = await control.attended_transfer(path.agent_id, by, body.agent)
    except CallControlError as exc:
        raise _api_error(exc) from exc
    return _transfer_answer(call[0] if call else "", result)


async def complete_transfer(request: web.Request, path: AgentPath) -> web.Response:
    """The agent leaves the consult (Hangup of their channel): the colleague has the caller."""
    by = _may_act(request, path.agent_id)
    control = request.app[CONTROL_KEY]
    try:
        call = control.current_call(path.agent_id)
        result = await control.complete_transfer(path.agent_id, by)
    except CallControlError as exc:
        raise _api_error(exc) from exc
    return _transfer_answer(call[0] if call else "", result)


async def cancel_transfer(request: web.Request, path: AgentPath) -> web.Response:
    """End the consult call (CancelAtxfer): back to the caller."""
    by = _may_act(request, path.agent_id)
    control = request.app[CONTROL_KEY]
    try:
        call = control.current_call(path.agent_id)
        result = await control.cancel_transfer(path.agent_id, by)
    except CallControlError as exc:
        raise _api_error(exc) from exc
    return _transfer_answer(call[0] if call else "", result)


async def add_note(request: web.Request, path: AgentPath, body: NoteBody) -> web.Response:
    """A note on the agent's call (during it, or after it: the last call)."""
    by = _may_act(request, path.agent_id)
    try:
        call_id = request.app[CONTROL_KEY].note(path.agent_id, body.text, by)
    except CallControlError as exc:
        raise _api_error(exc) from exc
    return respond(NoteAnswer(call_id=call_id))


async def wrap_up(request: web.Request, path: AgentPath, body: WrapUpBody) -> web.Response:
    """File the last call's disposition code (required where the queue says so) and
    end wrap-up early; without ``end`` the wrap-up timer ends it."""
    by = _may_act(request, path.agent_id)
    control = request.app[CONTROL_KEY]
    try:
        call_id = control.wrap_up(path.agent_id, by, body.code, body.text, end=body.end)
    except CallControlError as exc:
        raise _api_error(exc) from exc
    agent = control.orchestrator.engine.agents[path.agent_id]
    return respond(WrapUpAnswer(agent=path.agent_id, call_id=call_id, state=agent.state.value))


async def callbacks(request: web.Request, path: AgentPath) -> web.Response:
    """The queue callbacks due to the agent: reserved for them or waiting in their queues."""
    _may_act(request, path.agent_id)
    items = request.app[CONTROL_KEY].callbacks(path.agent_id)
    return respond(CallbackList.model_validate({"callbacks": items}))


def _my_call(request: web.Request, who: Principal | None) -> str | None:
    """An agent's call now, else their last (None: not an agent, or no call yet)."""
    if who is None or who.role != "agent" or not who.agent_id:
        return None
    control = request.app[CONTROL_KEY]
    found = control.current_call(who.agent_id)
    if found is not None:
        return found[0]
    last = control.orchestrator.last_call(who.agent_id)
    return last[0] if last else None


async def create_ticket(request: web.Request, body: TicketBody) -> web.Response:
    """A ticket for the caller: their account (the screen pop's, unless given) and number."""
    who, by = _who(request)
    control = request.app[CONTROL_KEY]
    mine = _my_call(request, who)
    if who is not None and who.role == "agent":
        if mine is None:
            raise Conflict("no call to open a ticket for")
        if body.call_id is not None and body.call_id != mine:
            raise Forbidden("an agent opens tickets for their own call")
    call_id = body.call_id or mine
    if call_id is None:
        raise BadRequest("name the call (call_id) the ticket is for")
    tracked = control.orchestrator.cti_of(call_id).tracker.call(call_id)
    if tracked is None and (who is None or who.role != "agent"):
        raise NotFound(f"no call {call_id!r} is known")
    caller = tracked.caller_num if tracked else ""
    account = body.account or (tracked.variables.get("CC_ACCOUNT") if tracked else None)
    now = control.clock()
    ticket = await request.app[TICKETS_KEY].create_ticket(
        call_id=call_id,
        account=account,
        caller=caller,
        callback_number=caller,
        category=body.category,
        due_hours=body.due_hours,
        now=now,
    )
    control.ticket_event(call_id, "created", ticket, by, body.note, category=body.category)
    return respond(TicketOut.model_validate(ticket.as_dict()), status=201)


async def update_ticket(request: web.Request, path: TicketPath, body: TicketUpdate) -> web.Response:
    """A note on an open ticket, or close it (the repair callback follows)."""
    who, by = _who(request)
    records = request.app[TICKETS_KEY]
    control = request.app[CONTROL_KEY]
    ticket = await records.ticket_by_number(str(path.ticket_id))
    ticket = ticket or await records.ticket(path.ticket_id)
    if ticket is None:
        raise NotFound("no such ticket")
    if who is not None and who.role == "agent":
        mine = _my_call(request, who)
        tracked = control.orchestrator.cti_of(mine).tracker.call(mine) if mine else None
        ours = mine is not None and (
            ticket.call_id == mine
            or (
                tracked is not None
                and (
                    (
                        ticket.account is not None
                        and ticket.account == tracked.variables.get("CC_ACCOUNT")
                    )
                    or (bool(ticket.caller) and ticket.caller == tracked.caller_num)
                )
            )
        )
        if not ours:
            raise Forbidden("an agent updates the tickets of the caller they serve")
    if ticket.status != "open":
        raise Conflict("the ticket is not open")
    if body.note is not None:
        control.ticket_event(ticket.call_id, "note", ticket, by, body.note)
    if body.close:
        assert body.resolution is not None  # the model says so
        closed = await request.app[FOLLOW_UP_KEY].close_ticket(ticket.id, body.resolution)
        if closed is None:
            raise Conflict("the ticket is not open")
        ticket = closed
    return respond(TicketOut.model_validate(ticket.as_dict()))


def _agent_route(
    method: str,
    tail: str,
    handler: Handler,
    summary: str,
    response: type[BaseModel],
    body: type[BaseModel] | None = None,
) -> Route:
    return Route(
        method=method,
        path="/api/agents/{agent_id}" + tail,
        handler=handler,
        summary=summary,
        tag="agent desktop",
        path_params=AgentPath,
        body=body,
        response=response,
        errors=(400, 403, 404, 409) if method == "POST" else (403, 404),
    )


def setup(app: web.Application, deps: Deps) -> None:
    if deps.orchestrator is None:
        return  # no routing configured
    app[CONTROL_KEY] = CallControl(deps.orchestrator)
    for route in (
        _agent_route("GET", "/call", call_status, "The agent's call (held, consult)", CallStatus),
        _agent_route("POST", "/call/hold", hold, "Hold the caller (the phone)", HoldAnswer),
        _agent_route("POST", "/call/resume", resume, "Resume the held caller", HoldAnswer),
        _agent_route(
            "POST", "/call/transfer", transfer, "Transfer the caller", TransferAnswer, TransferBody
        ),
        _agent_route(
            "POST",
            "/call/complete_transfer",
            complete_transfer,
            "Complete an attended transfer",
            TransferAnswer,
        ),
        _agent_route(
            "POST",
            "/call/cancel_transfer",
            cancel_transfer,
            "Cancel an attended transfer",
            TransferAnswer,
        ),
        _agent_route("POST", "/call/notes", add_note, "A note on the call", NoteAnswer, NoteBody),
        _agent_route(
            "POST", "/wrap_up", wrap_up, "File a disposition, end wrap-up", WrapUpAnswer, WrapUpBody
        ),
        _agent_route(
            "GET", "/callbacks", callbacks, "The callbacks due to the agent", CallbackList
        ),
    ):
        add_route(app, route)
    if deps.records is None or deps.desk is None:
        return  # no self-service store: no tickets
    app[TICKETS_KEY] = deps.records
    app[FOLLOW_UP_KEY] = deps.desk
    add_route(
        app,
        Route(
            method="POST",
            path="/api/tickets",
            handler=create_ticket,
            summary="Open a ticket for the caller",
            tag="agent desktop",
            body=TicketBody,
            response=TicketOut,
            status=201,
            errors=(400, 403, 404, 409),
        ),
    )
    add_route(
        app,
        Route(
            method="PATCH",
            path="/api/tickets/{ticket_id}",
            handler=update_ticket,
            summary="Note on or close a ticket",
            tag="agent desktop",
            path_params=TicketPath,
            body=TicketUpdate,
            response=TicketOut,
            errors=(400, 403, 404, 409),
        ),
    )
