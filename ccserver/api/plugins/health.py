"""/healthz and /metrics: open to the monitoring, no token."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field

from ...snapshots import HealthSnapshot
from ..access import principal_of
from ..deps import Deps
from ..errors import Handler
from ..routes import Route, add_route

SNAPSHOT_KEY: web.AppKey[Callable[[], HealthSnapshot]] = web.AppKey("snapshot")
REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)
# set on a standby's application (app.py): this process's part in active/standby
STANDBY_KEY: web.AppKey[Callable[[], Mapping[str, Any]]] = web.AppKey("standby")
# what a standby still takes that is not a GET: logging in and out (sessions are in the store)
_STANDBY_POSTS = frozenset({"/api/login", "/api/logout"})


class Health(BaseModel):
    """The health of every part; the parts' own figures are listed as they are.

    Without a supervisor's (or an admin's) credentials, only ``status``.
    """

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="ok, or degraded (then the answer is a 503)")
    role: str | None = Field(
        default=None, description="active (routes calls) or standby (README: Active / standby)"
    )
    version: str | None = None
    uptime_s: float | None = None
    cti: dict[str, Any] | None = Field(
        default=None, description="the AMI link and the call tracker"
    )
    store: dict[str, Any] | None = Field(
        default=None, description="the event writer: queued, written, spooled..."
    )
    acd: dict[str, Any] | None = Field(default=None, description="agents and queues, if routed")
    ivr: dict[str, Any] | None = Field(default=None, description="IVR outcomes and sessions")
    tickets: dict[str, Any] | None = None


async def healthz(request: web.Request) -> web.Response:
    """200 while the AMI link and the store are healthy, else 503 with the same body."""
    snap = request.app[SNAPSHOT_KEY]()
    status = 200 if snap.ok else 503
    who = principal_of(request)
    if who is None or who.role not in ("supervisor", "admin"):
        public = {"status": "ok" if snap.ok else "degraded"}
        if snap.role is not None:  # active/standby: a keepalived check asks which one is active
            public["role"] = snap.role
        return web.json_response(public, status=status)
    return web.json_response(snap.to_json(), status=status)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format."""
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def standby_read_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On a standby: what would change the floor is a 503 naming the active process.

    GETs that the store answers (reports, staffing, tickets, users) are served;
    an /api path with no route here (agents, calls: the active's live picture)
    gets the same 503 instead of a 404, so a client knows to ask the active.
    """
    standby = request.app.get(STANDBY_KEY)
    if standby is None:
        return await handler(request)
    unrouted = request.match_info.http_exception is not None
    reads = request.method in ("GET", "HEAD", "OPTIONS") or request.path in _STANDBY_POSTS
    if reads and not (unrouted and request.path.startswith("/api/")):
        return await handler(request)
    ha = standby()
    active = ha.get("active")
    who = f"the active one is {active}" if active else "no active process is known now"
    body = {
        "error": f"this ccserver is a standby and does not route calls; {who}",
        "role": "standby",
        "active": active,
    }
    return web.json_response(body, status=503, headers={"Retry-After": "1"})


def setup(app: web.Application, deps: Deps) -> None:
    app[SNAPSHOT_KEY] = deps.snapshot
    # innermost: a request without valid credentials still gets its 401 first
    app.middlewares.append(standby_read_only)
    app[REGISTRY_KEY] = deps.registry
    add_route(
        app,
        Route(
            method="GET",
            path="/healthz",
            handler=healthz,
            summary="Health of every part",
            tag="health",
            response=Health,
            also=(503,),
            public=True,
        ),
    )
    add_route(
        app,
        Route(
            method="GET",
            path="/metrics",
            handler=metrics,
            summary="Prometheus metrics",
            tag="health",
            media=CONTENT_TYPE_LATEST.split(";")[0],
            public=True,
        ),
    )
