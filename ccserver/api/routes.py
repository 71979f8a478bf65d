"""The route table: what each plugin declares for every route, and the parsing it gets for it.

A plugin describes a route once (method, path, summary, and the pydantic
models of its path parameters, query, body and response); the same
description registers the handler, validates the request before the handler
runs, and builds the OpenAPI document (:mod:`ccserver.api.openapi`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from pydantic import BaseModel, ValidationError

from .errors import ApiError, BadRequest, InvalidInput, NotFound

Handler = Callable[..., Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One operation of the API.

    The handler is called as ``handler(request, path=..., query=..., body=...)``
    with the validated models of the parts this route declares.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    path_params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # other media types the success answer may come in (schema-less), e.g. text/csv
    alt_media: tuple[str, ...] = ()
    # an answer that is not JSON at all (the Prometheus text format)
    media: str = "application/json"
    errors: tuple[int, ...] = ()  # statuses answered with an error body
    also: tuple[int, ...] = ()  # other statuses answered with the response model (a 503 health)
    public: bool = False  # no bearer token needed


ROUTES_KEY: web.AppKey[list[Route]] = web.AppKey("api_routes")
BODY_TIMEOUT_KEY = web.AppKey("body_timeout_s", float)


class RequestTimeout(ApiError):
    status = 408


async def read_body(request: web.Request) -> bytes:
    """The request body, within the app's body timeout (a 1 byte/s body is cut off)."""
    timeout = request.app.get(BODY_TIMEOUT_KEY, 10.0)
    try:
        async with asyncio.timeout(timeout):
            return await request.read()  # over client_max_size: 413 from aiohttp
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s") from None
    except (HttpProcessingError, RequestPayloadError) as exc:
        # a body that is not what its headers say (garbage gzip, a short chunk)
        raise BadRequest(f"the body cannot be read: {exc.__class__.__name__}") from None


def add_route(app: web.Application, route: Route) -> None:
    """Register ``route`` on the app and in its route table."""
    app[ROUTES_KEY].append(route)
    if route.method == "GET":  # and HEAD, as aiohttp's add_get does (monitoring probes use it)
        app.router.add_get(route.path, _validating(route))
    else:
        app.router.add_route(route.method, route.path, _validating(route))


def respond(model: BaseModel, status: int = 200, *, exclude_unset: bool = False) -> web.Response:
    """A response model as the JSON answer (by alias: ``from``, not ``from_``)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_unset=exclude_unset)
    return web.json_response(data, status=status)


def _validating(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        parts: dict[str, Any] = {}
        if route.path_params is not None:
            try:
                parts["path"] = route.path_params.model_validate(dict(request.match_info))
            except ValidationError as exc:
                # /api/tickets/abc names no ticket: not found, not a bad request
                raise NotFound(InvalidInput("path", exc).message) from None
        if route.query is not None:
            try:
                parts["query"] = route.query.model_validate(dict(request.query))
            except ValidationError as exc:
                raise InvalidInput("query", exc) from None
        if route.body is not None:
            raw = await read_body(request)
            try:
                parts["body"] = route.body.model_validate_json(raw)
            except ValidationError as exc:
                raise InvalidInput("body", exc) from None
        return await route.handler(request, **parts)

    handle.__name__ = getattr(route.handler, "__name__", "handle")
    handle.__doc__ = route.handler.__doc__
    return handle
