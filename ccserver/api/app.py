"""The aiohttp application: the middlewares, then every plugin's routes."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from aiohttp import web
from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry

from . import openapi
from .deps import Deps, Plugin
from .errors import Handler, errors_as_json
from .limits import ThrottledLog
from .plugins import agents, calls, health, reports, selfservice, staffing
from .routes import BODY_TIMEOUT_KEY, ROUTES_KEY

log = logging.getLogger(__name__)

PLUGINS: tuple[Plugin, ...] = (health, calls, agents, selfservice, reports, staffing, openapi)

TOKENS_KEY: web.AppKey[tuple[str, ...]] = web.AppKey("tokens")
AUTH_FAILURES_KEY = web.AppKey("auth_failures", Counter)
AUTH_LOG_KEY = web.AppKey("auth_log", ThrottledLog)


def counter(registry: CollectorRegistry, name: str, documentation: str) -> Counter:
    """A counter in ``registry``; the one already there when an app is built twice on it."""
    known = getattr(registry, "_names_to_collectors", {}).get(name)
    if isinstance(known, Counter):
        return known
    return Counter(name, documentation, registry=registry)


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
        # counted always, logged once per source a minute: a flood cannot fill the log
        request.app[AUTH_FAILURES_KEY].inc()
        source = request.remote or "?"
        request.app[AUTH_LOG_KEY].warning(
            source, "refused API requests from %s: missing or invalid bearer token", source
        )
        raise web.HTTPUnauthorized(
            text="missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return await handler(request)


def build_app(
    deps: Deps,
    *,
    api_tokens: tuple[str, ...] = (),
    max_body_bytes: int = 64 * 1024,
    body_timeout_s: float = 10.0,
    plugins: Sequence[Plugin] = PLUGINS,
) -> web.Application:
    """The application with the routes of every plugin whose parts ``deps`` has."""
    app = web.Application(middlewares=[errors_as_json, api_auth], client_max_size=max_body_bytes)
    app[TOKENS_KEY] = api_tokens
    app[BODY_TIMEOUT_KEY] = body_timeout_s
    app[AUTH_FAILURES_KEY] = counter(
        deps.registry, "ccserver_http_auth_failures", "API requests refused for their token"
    )
    app[AUTH_LOG_KEY] = ThrottledLog(log)
    app[ROUTES_KEY] = []
    for plugin in plugins:
        plugin.setup(app, deps)
    return app
