"""The HTTP surface: /healthz, /metrics, and the token-protected /api."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

Snapshot = Callable[[], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SNAPSHOT_KEY: web.AppKey[Snapshot] = web.AppKey("snapshot")
REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)
TOKENS_KEY = web.AppKey("tokens", tuple)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a small JSON body, never an HTML page or a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = {413: "request body too large"}.get(exc.status, exc.reason)
        return _error(exc.status, reason)


@web.middleware
async def api_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer-token check on /api/*; /healthz and /metrics stay open."""
    if request.path.startswith("/api/"):
        tokens: tuple[str, ...] = request.app[TOKENS_KEY]
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        ok = scheme.lower() == "bearer" and any(
            hmac.compare_digest(given.encode(), t.encode()) for t in tokens
        )
        if not ok:
            return _error(401, "missing or invalid bearer token")
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    snap = request.app[SNAPSHOT_KEY]()
    status = snap.get("status", "ok")
    return web.json_response(snap, status=200 if status == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(
    snapshot: Snapshot,
    registry: CollectorRegistry,
    *,
    api_tokens: tuple[str, ...] = (),
    max_body_bytes: int = 64 * 1024,
) -> web.Application:
    """The aiohttp application; later features add their routes under /api."""
    app = web.Application(middlewares=[errors_as_json, api_auth], client_max_size=max_body_bytes)
    app[SNAPSHOT_KEY] = snapshot
    app[REGISTRY_KEY] = registry
    app[TOKENS_KEY] = api_tokens
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
