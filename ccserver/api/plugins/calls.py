"""/api/calls: the live picture of calls, from the call tracker."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from cti.tracker import Call

from ..deps import CallView, Deps
from ..errors import NotFound
from ..routes import Route, add_route, respond

TRACKER_KEY = web.AppKey("tracker", CallView)


class CallPath(BaseModel):
    call_id: str = Field(min_length=1, max_length=64, description="the call's Linkedid")


class ChannelOut(BaseModel):
    name: str
    uniqueid: str
    state: str = Field(description="Asterisk's channel state: Down, Ring, Ringing, Up...")
    context: str
    exten: str
    bridge: str | None


class CallOut(BaseModel):
    """A call: the channels that share one Linkedid; times are epoch seconds."""

    call_id: str
    caller: str
    started_at: float
    answered_at: float | None
    bridged_at: float | None
    ended_at: float | None
    hangup_cause: int | None = Field(description="the Q.850 cause code")
    dtmf: str = Field(description="the keys the caller pressed")
    variables: dict[str, str]
    channels: list[ChannelOut] = Field(description="the live channels")


class CallList(BaseModel):
    calls: list[CallOut]


def call_out(call: Call) -> CallOut:
    """A call as the API shows it."""
    return CallOut(
        call_id=call.call_id,
        caller=call.caller_num,
        started_at=call.started_at,
        answered_at=call.answered_at,
        bridged_at=call.bridged_at,
        ended_at=call.ended_at,
        hangup_cause=call.hangup_cause,
        dtmf=call.dtmf,
        variables=call.variables,
        channels=[
            ChannelOut(
                name=ch.name,
                uniqueid=ch.uniqueid,
                state=ch.state_desc,
                context=ch.context,
                exten=ch.exten,
                bridge=ch.bridge_id,
            )
            for ch in call.live_channels()
        ],
    )


async def list_calls(request: web.Request) -> web.Response:
    """The calls in progress."""
    tracker = request.app[TRACKER_KEY]
    return respond(CallList(calls=[call_out(c) for c in tracker.active_calls()]))


async def get_call(request: web.Request, path: CallPath) -> web.Response:
    """One call, in progress or recently ended."""
    call = request.app[TRACKER_KEY].call(path.call_id)
    if call is None:
        raise NotFound("no such call")
    return respond(call_out(call))


def setup(app: web.Application, deps: Deps) -> None:
    if deps.tracker is None:
        return
    app[TRACKER_KEY] = deps.tracker
    add_route(
        app,
        Route(
            method="GET",
            path="/api/calls",
            handler=list_calls,
            summary="List the calls in progress",
            tag="calls",
            response=CallList,
        ),
    )
    add_route(
        app,
        Route(
            method="GET",
            path="/api/calls/{call_id}",
            handler=get_call,
            summary="Get one call",
            tag="calls",
            path_params=CallPath,
            response=CallOut,
            errors=(404,),
        ),
    )
