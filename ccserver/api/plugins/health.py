"""/healthz and /metrics: open to the monitoring, no token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field

from ...snapshots import HealthSnapshot
from ..access import principal_of
from ..deps import Deps
from ..routes import Route, add_route

SNAPSHOT_KEY: web.AppKey[Callable[[], HealthSnapshot]] = web.AppKey("snapshot")
REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)


class Health(BaseModel):
    """The health of every part; the parts' own figures are listed as they are.

    Without a supervisor's (or an admin's) credentials, only ``status``.
    """

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="ok, or degraded (then the answer is a 503)")
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
        return web.json_response({"status": "ok" if snap.ok else "degraded"}, status=status)
    return web.json_response(snap.to_json(), status=status)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format."""
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application, deps: Deps) -> None:
    app[SNAPSHOT_KEY] = deps.snapshot
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
