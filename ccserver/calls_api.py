"""/api/calls: the live picture of calls, from the call tracker."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.tracker import Call, CallTracker

TRACKER_KEY = web.AppKey("tracker", CallTracker)


def call_json(call: Call) -> dict[str, Any]:
    """A call as the API shows it."""
    return {
        "call_id": call.call_id,
        "caller": call.caller_num,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "bridged_at": call.bridged_at,
        "ended_at": call.ended_at,
        "hangup_cause": call.hangup_cause,
        "dtmf": call.dtmf,
        "variables": call.variables,
        "channels": [
            {
                "name": ch.name,
                "uniqueid": ch.uniqueid,
                "state": ch.state_desc,
                "context": ch.context,
                "exten": ch.exten,
                "bridge": ch.bridge_id,
            }
            for ch in call.live_channels()
        ],
    }


async def list_calls(request: web.Request) -> web.Response:
    tracker = request.app[TRACKER_KEY]
    return web.json_response({"calls": [call_json(c) for c in tracker.active_calls()]})


async def get_call(request: web.Request) -> web.Response:
    call = request.app[TRACKER_KEY].call(request.match_info["call_id"])
    if call is None:
        return web.json_response({"error": "no such call"}, status=404)
    return web.json_response(call_json(call))


def add_call_routes(app: web.Application, tracker: CallTracker) -> None:
    """Register /api/calls and /api/calls/{call_id}."""
    app[TRACKER_KEY] = tracker
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
