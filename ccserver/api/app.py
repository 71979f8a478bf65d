"""The aiohttp application: the middlewares, then every plugin's routes."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry

from ..people import Principal
from . import openapi
from .access import PRINCIPAL_KEY, SESSION_COOKIE, Forbidden, allowed
from .deps import Deps, Plugin
from .errors import Handler, errors_as_json
from .limits import ThrottledLog
from .plugins import (
    agents,
    audit,
    auth,
    calls,
    configuration,
    desk,
    health,
    pages,
    quality,
    reports,
    selfservice,
    staffing,
    stream,
    supervise,
    users,
)
from .plugins.auth import PEOPLE_KEY
from .routes import BODY_TIMEOUT_KEY, ROUTES_KEY, Route

log = logging.getLogger(__name__)

PLUGINS: tuple[Plugin, ...] = (
    health, auth, users, audit, stream, pages, calls, agents, selfservice, reports, staffing,
    quality,
    supervise, configuration, desk, openapi,
)  # fmt: skip

TOKENS_KEY: web.AppKey[tuple[str, ...]] = web.AppKey("tokens")
AUTH_FAILURES_KEY = web.AppKey("auth_failures", Counter)
AUTH_LOG_KEY = web.AppKey("auth_log", ThrottledLog)
ROUTE_INDEX_KEY: web.AppKey[dict[tuple[str, str], Route]] = web.AppKey("route_index")


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


SYSTEM_TOKEN = Principal(name="config-token", role="admin", kind="token")
# longer bearer values are not looked up in the database
_MAX_TOKEN_CHARS = 200


async def identify(request: web.Request) -> Principal | None:
    """Who the credentials name: a bearer token (http.api_tokens, a system token, a
    session's) or the session cookie; None when there are none or they are not valid."""
    people = request.app.get(PEOPLE_KEY)
    header = request.headers.get("Authorization", "")
    if header:
        tokens: tuple[str, ...] = request.app[TOKENS_KEY]
        if authorized(header, tokens):
            return SYSTEM_TOKEN
        scheme, _, given = header.strip().partition(" ")
        given = given.strip()
        if people is None or scheme.lower() != "bearer" or not given:
            return None
        if len(given) > _MAX_TOKEN_CHARS or not given.isascii():
            return None
        return await people.by_token(given) or await people.by_session(given)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if people is None or not cookie or len(cookie) > _MAX_TOKEN_CHARS or not cookie.isascii():
        return None
    return await people.by_session(cookie)


def _route_of(request: web.Request) -> Route | None:
    """The declared route the request matched (None: no route, or a 404/405)."""
    if request.match_info.http_exception is not None:
        return None
    resource = request.match_info.route.resource
    if resource is None:
        return None
    table = request.app[ROUTE_INDEX_KEY]
    if not table:
        table.update({(r.method, r.path): r for r in request.app[ROUTES_KEY]})
    method = "GET" if request.method == "HEAD" else request.method
    return table.get((method, resource.canonical))


_SECRET_FIELDS = ("password", "token", "secret")


def _audit_detail(route: Route, raw: bytes) -> dict[str, Any]:
    """The request's body for the audit, with anything secret left out."""
    if route.body is None or not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {k: v for k, v in body.items() if not any(s in k.lower() for s in _SECRET_FIELDS)}


@web.middleware
async def api_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who asks, and whether their role may: on /api/* (bar the public routes) a valid
    token or session is needed (401) and a role the route allows (403). /healthz,
    /metrics, /openapi.json and the pages stay open. Every change made through the
    API is audited."""
    # only where it matters: a page's assets and /metrics cost no database lookup
    wanted = request.path.startswith("/api/") or request.path == "/healthz"
    who = await identify(request) if wanted else None
    request[PRINCIPAL_KEY] = who
    route = _route_of(request)
    guarded = request.path.startswith("/api/") and not (route is not None and route.public)
    if guarded and who is None:
        # counted always, logged once per source a minute: a flood cannot fill the log
        request.app[AUTH_FAILURES_KEY].inc()
        source = request.remote or "?"
        request.app[AUTH_LOG_KEY].warning(
            source, "refused API requests from %s: missing or invalid credentials", source
        )
        raise web.HTTPUnauthorized(
            text="missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if (
        guarded
        and route is not None
        and who is not None
        and who.role not in allowed(request.method, route.path)
    ):
        raise Forbidden(f"the {who.role} role may not {request.method} {route.path}")
    response = await handler(request)
    people = request.app.get(PEOPLE_KEY)
    if (
        guarded
        and people is not None
        and who is not None
        and route is not None
        and request.method not in ("GET", "HEAD")
        and response.status < 400
        and route.path != "/api/logout"  # audited by its handler, as login is
    ):
        raw = await request.read() if route.body is not None else b""  # read already: cached
        target = "/".join(request.match_info.values()) or None
        await people.audit(
            who,
            getattr(route.handler, "__name__", route.path),
            target,
            _audit_detail(route, raw),
            request.remote,
        )
    return response


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
    app[ROUTE_INDEX_KEY] = {}
    for plugin in plugins:
        plugin.setup(app, deps)
    return app
