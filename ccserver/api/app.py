"""The aiohttp application: the middlewares, then every plugin's routes."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from aiohttp import web

from . import openapi
from .deps import Deps, Plugin
from .errors import Handler, errors_as_json
from .plugins import agents, calls, health, reports, selfservice, staffing
from .routes import ROUTES_KEY

PLUGINS: tuple[Plugin, ...] = (health, calls, agents, selfservice, reports, staffing, openapi)

TOKENS_KEY: web.AppKey[tuple[str, ...]] = web.AppKey("tokens")


def authorized(header: str, tokens: Sequence[str]) -> bool:
    """Whether an Authorization header carries one of the tokens (``Bearer <token>``)."""
    scheme, _, given = header.strip().partition(" ")
    # aiohttp hands non-UTF-8 header bytes over as surrogates: compare the bytes as sent
    sent = given.strip().encode("utf-8", "surrogateescape")
    ok = False
    for token in tokens:  # all of them: the time taken tells nothing
        ok |= hmac.compare_digest(sent, token.encode())
    return scheme.lower() == "bearer" and bool(sent) and ok


@web.middleware
async def api_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer-token check on /api/*; /healthz, /metrics and /openapi.json stay open."""
    tokens = request.app[TOKENS_KEY]
    if request.path.startswith("/api/") and not authorized(
        request.headers.get("Authorization", ""), tokens
    ):
        raise web.HTTPUnauthorized(
            text="missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return await handler(request)


def build_app(
    deps: Deps,
    *,
    api_tokens: tuple[str, ...] = (),
    max_body_bytes: int = 64 * 1024,
    plugins: Sequence[Plugin] = PLUGINS,
) -> web.Application:
    """The application with the routes of every plugin whose parts ``deps`` has."""
    app = web.Application(middlewares=[errors_as_json, api_auth], client_max_size=max_body_bytes)
    app[TOKENS_KEY] = api_tokens
    app[ROUTES_KEY] = []
    for plugin in plugins:
        plugin.setup(app, deps)
    return app
