"""/api/calls/{call_id}/spy: a supervisor listens to, whispers to or barges into a call.

Asterisk rings the supervisor's own phone (their user's ``phone``, a PJSIP
endpoint) with an ``Originate`` whose application is ``ChanSpy`` on the
agent's channel (``apps/app_chanspy.c``). The options:

- ``q``: no beep and no channel name spoken on either side: the agent is not told;
- ``E``: ChanSpy exits when the spied-on channel hangs up, so the supervisor's
  phone hangs up with the call instead of scanning for another channel;
- ``S``: ChanSpy stops when there is nothing to spy on (the call ended before
  the supervisor answered) instead of waiting on a silent line;
- ``w`` (whisper): the supervisor talks to the agent only;
- ``B`` (barge): the supervisor talks to both the agent and the caller.

Only admins and the supervisors of the agent's teams may; the middleware
audits every start (who, the call, the mode, from where).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cti.connection import AmiError
from cti.service import CtiService

from ...orchestrator import Orchestrator
from ..access import Forbidden, require
from ..deps import CallView, Deps
from ..errors import Conflict, NotFound
from ..routes import Route, add_route, respond

log = logging.getLogger(__name__)

Mode = Literal["listen", "whisper", "barge"]
# ChanSpy's options per mode (see the module's docstring)
OPTIONS: Final[dict[str, str]] = {"listen": "qES", "whisper": "qESw", "barge": "qESB"}
RING_S: Final = 30.0  # how long the supervisor's phone rings

SPY_ORCHESTRATOR_KEY = web.AppKey("spy_orchestrator", Orchestrator)
SPY_TRACKER_KEY = web.AppKey("spy_tracker", CallView)
SPY_TASKS_KEY: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("spy_tasks")


class SpyPath(BaseModel):
    call_id: str = Field(min_length=1, max_length=64, description="the call's Linkedid")


class SpyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field(
        description="listen: hear both sides; whisper: talk to the agent only;"
        " barge: talk to the agent and the caller"
    )


class SpyStarted(BaseModel):
    """Asterisk has been asked to ring the supervisor's phone into the call."""

    call_id: str
    agent: str = Field(description="the agent on the call")
    mode: Mode
    phone: str = Field(description="the supervisor's phone, rung now")
    channel: str = Field(description="the agent's channel ChanSpy attaches to")
    data: str = Field(description="ChanSpy's arguments, as sent in the Originate")


def agent_channel(tracker: CallView, call_id: str, endpoint: str) -> str | None:
    """The live channel of the agent's phone on ``call_id`` (``PJSIP/<endpoint>-…``)."""
    call = tracker.call(call_id)
    leg = call.endpoint_leg(endpoint) if call is not None else None
    return leg.name if leg is not None else None


async def spy_on_call(request: web.Request, path: SpyPath, body: SpyBody) -> web.Response:
    """Listen to, whisper to or barge into a call from one's own phone (the agent is not told)."""
    who = require(request)
    orchestrator = request.app[SPY_ORCHESTRATOR_KEY]
    agent = next(
        (a for a in orchestrator.snapshot()["agents"] if a["call_id"] == path.call_id), None
    )
    if agent is None:
        # the call is unknown, over, or no agent is on it yet
        raise NotFound("no agent is on that call")
    if not who.supervises(agent["queues"]):
        raise Forbidden(f"agent {agent['id']!r} is not in your teams")
    if not who.phone:
        raise Conflict("you have no phone to listen from: set yours first (PATCH /api/me)")
    channel = agent_channel(request.app[SPY_TRACKER_KEY], path.call_id, agent["endpoint"])
    if channel is None:
        raise Conflict(f"agent {agent['id']!r} is not connected on that call yet")
    data = f"{channel},{OPTIONS[body.mode]}"
    headers = [
        ("Channel", f"PJSIP/{who.phone}"),
        ("Application", "ChanSpy"),
        ("Data", data),
        ("Timeout", str(int(RING_S * 1000))),
        ("CallerID", f'"{body.mode} {agent["id"]}" <{agent["endpoint"]}>'),
    ]
    # the answer comes when the supervisor picks up: the request does not wait for it
    # the supervisor's phone is rung by the node the call is on (ChanSpy needs the channel)
    cti = orchestrator.cti_of(path.call_id)
    task = asyncio.create_task(_originate(cti, headers, who.name, body.mode))
    tasks = request.app[SPY_TASKS_KEY]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return respond(
        SpyStarted(
            call_id=path.call_id,
            agent=agent["id"],
            mode=body.mode,
            phone=who.phone,
            channel=channel,
            data=data,
        ),
        status=202,
    )


async def _originate(cti: CtiService, headers: list[tuple[str, str]], by: str, mode: str) -> None:
    try:
        reply = await cti.originate(headers, timeout=RING_S + 15)
    except (AmiError, TimeoutError) as exc:
        log.warning("%s for %s: the originate failed: %s", mode, by, exc)
        return
    if reply.get("Response") != "Success":
        log.warning(
            "%s for %s: the supervisor's phone did not answer (reason %s)",
            mode, by, reply.get("Reason") or reply.get("Message"),
        )  # fmt: skip


async def _cancel_tasks(app: web.Application) -> None:
    tasks = app[SPY_TASKS_KEY]
    for task in tasks:
        task.cancel()


def setup(app: web.Application, deps: Deps) -> None:
    if deps.orchestrator is None or deps.tracker is None:
        return
    app[SPY_ORCHESTRATOR_KEY] = deps.orchestrator
    app[SPY_TRACKER_KEY] = deps.tracker
    tasks: set[asyncio.Task[None]] = set()  # the originates waiting for an answer
    app[SPY_TASKS_KEY] = tasks
    app.on_cleanup.append(_cancel_tasks)
    add_route(
        app,
        Route(
            method="POST",
            path="/api/calls/{call_id}/spy",
            handler=spy_on_call,
            summary="Listen to, whisper to or barge into a call",
            tag="calls",
            path_params=SpyPath,
            body=SpyBody,
            response=SpyStarted,
            status=202,
            errors=(403, 404, 409),
        ),
    )
