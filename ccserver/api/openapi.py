"""``GET /openapi.json``: the OpenAPI 3.1 document, built from the route table's models.

pydantic's JSON Schema (draft 2020-12) is what OpenAPI 3.1 uses, so the
models' schemas go in as they are: request bodies and responses as
components, path and query models as one parameter per field.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .. import __version__
from .access import SESSION_COOKIE, allowed
from .deps import Deps
from .routes import ROUTES_KEY, Route, add_route

REF = "#/components/schemas/{model}"


class FieldProblem(BaseModel):
    field: str = Field(description="where: path, query or body, then the field's path")
    problem: str


class Error(BaseModel):
    """Every error answer."""

    error: str = Field(description="what went wrong, for a person")
    details: list[FieldProblem] | None = Field(
        default=None, description="on a 400 from validation: each field and its problem"
    )


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


def _components(routes: list[Route]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for r in routes:
        if r.body is not None:
            wanted.append((r.body, "validation"))
        if r.response is not None:
            wanted.append((r.response, "serialization"))
    refs, schemas = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return refs, schemas.get("$defs", {})


def _parameters(model: type[BaseModel], where: str, defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    defs.update(schema.get("$defs", {}))
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        # a query string cannot say null: an optional parameter is simply left out
        variants = [v for v in prop.get("anyOf", ()) if v != {"type": "null"}]
        if len(variants) == 1 and name not in required:
            prop.pop("anyOf")
            prop.update(variants[0])
            if prop.get("default", 0) is None:
                del prop["default"]
        param: dict[str, Any] = {"name": name, "in": where, "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        param["schema"] = prop
        params.append(param)
    return params


def _content(route: Route, refs: dict[Any, Any]) -> dict[str, Any]:
    if route.response is not None:
        content = {route.media: {"schema": refs[(route.response, "serialization")]}}
    elif route.media == "application/json":
        content = {route.media: {"schema": {"type": "object"}}}
    else:
        content = {route.media: {"schema": {"type": "string"}}}
    for media in route.alt_media:
        content[media] = {"schema": {"type": "string"}}
    return content


def _operation(route: Route, refs: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    error = {"application/json": {"schema": refs[(Error, "serialization")]}}
    responses: dict[str, Any] = {}
    for status in (route.status, *route.also):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": _content(route, refs),
        }
    # any route: 503 when the database is away, the connections are full or on a standby
    errors = set(route.errors) | {500, 503}
    if not route.public:
        errors |= {401, 403}
    if route.body is not None:
        errors |= {400, 408, 413}
    for status in sorted(errors):
        responses[str(status)] = {"description": HTTPStatus(status).phrase, "content": error}
    op: dict[str, Any] = {
        "operationId": getattr(route.handler, "__name__", route.path),
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": [],
        "responses": responses,
        "security": [] if route.public else [{"bearer": []}, {"session": []}],
    }
    if not route.public:
        op["x-roles"] = sorted(allowed(route.method, route.path))
    if route.handler.__doc__:
        op["description"] = route.handler.__doc__.strip()
    if route.path_params is not None:
        op["parameters"] += _parameters(route.path_params, "path", defs)
    if route.query is not None:
        op["parameters"] += _parameters(route.query, "query", defs)
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    return op


def document(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI document of these routes."""
    refs, defs = _components(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ccserver",
            "version": __version__,
            "description": "Contact-center server beside Asterisk: calls, routing, "
            "self-service records, reports and staffing. /api/* (bar /api/login) needs "
            "a bearer token or the session cookie of /api/login, and a role the "
            "operation's x-roles lists.",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }


def setup(app: web.Application, deps: Deps) -> None:
    built: list[dict[str, Any]] = []  # the routes are fixed once the app runs: build once

    async def openapi(request: web.Request) -> web.Response:
        """This document."""
        if not built:
            built.append(document(request.app[ROUTES_KEY]))
        return web.json_response(built[0])

    add_route(
        app,
        Route(
            method="GET",
            path="/openapi.json",
            handler=openapi,
            summary="The OpenAPI document",
            tag="meta",
            response=OpenApiDocument,
            public=True,
        ),
    )
