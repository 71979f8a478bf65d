"""GET /openapi.json of a whole hotline: every route is in it, with the models' schemas,
and what the API answers agrees with it; the one error translation on a bare app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from ccserver.api import Deps, build_app
from ccserver.api.errors import Conflict
from ccserver.api.routes import Route, add_route


async def openapi(hotline: Any) -> dict[str, Any]:
    async with (  # no token
        aiohttp.ClientSession() as http,
        http.get(f"{hotline.base}/openapi.json") as resp,
    ):
        assert resp.status == 200
        return dict(await resp.json())


def conforms(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """Validate ``value`` against ``schema``, whose $refs point into the document."""
    Draft202012Validator({**schema, "components": doc["components"]}).validate(value)


async def test_every_route_is_documented_with_its_methods(hotline) -> None:
    doc = await openapi(hotline)
    validate(doc)  # a valid OpenAPI 3.1 document
    app = hotline.server._runner.app  # the app the server runs
    served: dict[str, set[str]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method == "HEAD" or "directory" in info:
            continue
        path = info.get("path") or info["formatter"]
        served.setdefault(path, set()).add(route.method.lower())
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert documented == served
    # the whole API is there: routing, calls, self-service, reports, staffing, health
    for path in ("/api/agents/{agent_id}", "/api/calls/{call_id}", "/api/outages",
                 "/api/reports/{kind}", "/api/staffing/plan", "/healthz", "/metrics"):  # fmt: skip
        assert path in documented, path
    ops = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len({op["operationId"] for op in ops}) == len(ops)
    for path, methods in doc["paths"].items():
        for op in methods.values():
            secured = op["security"] == [{"bearer": []}, {"session": []}]
            assert secured == (path.startswith("/api/") and path != "/api/login"), path
            assert (path.startswith("/api/")) == ("401" in op["responses"]), path


async def test_parameters_and_bodies_come_from_the_models(hotline) -> None:
    doc = await openapi(hotline)
    schemas = doc["components"]["schemas"]

    def params(path: str, method: str = "get") -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in doc["paths"][path][method]["parameters"]}

    staffing = params("/api/staffing")
    assert staffing["calls"]["required"] and staffing["calls"]["in"] == "query"
    assert staffing["calls"]["schema"]["exclusiveMinimum"] == 0
    assert staffing["calls"]["description"] == "calls offered in the interval"
    assert staffing["interval_minutes"]["schema"]["maximum"] == 1440
    assert not staffing["interval_minutes"]["required"]
    weeks = params("/api/staffing/plan")["weeks"]["schema"]
    assert (weeks["minimum"], weeks["maximum"]) == (1, 12)
    report = params("/api/reports/{kind}")
    assert report["kind"]["in"] == "path" and report["kind"]["required"]
    assert report["kind"]["schema"]["enum"] == ["queues", "agents", "calls"]
    assert report["from"]["required"] and report["interval"]["schema"]["default"] == "30"
    ticket = params("/api/tickets/{ticket_id}")["ticket_id"]["schema"]
    assert (ticket["minimum"], ticket["maximum"]) == (1, 2**31 - 1)

    close = doc["paths"]["/api/agents/{agent_id}"]["post"]
    ref = close["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[ref.rsplit("/", 1)[1]]
    assert body["properties"]["action"]["enum"] == [
        "login", "logout", "ready", "not_ready", "end_wrap_up"
    ]  # fmt: skip
    assert body["additionalProperties"] is False
    outage = doc["paths"]["/api/outages"]["post"]
    ref = outage["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schemas[ref.rsplit("/", 1)[1]]["properties"]["message"]["maxLength"] == 200
    assert set(outage["responses"]) >= {"201", "400", "401", "413", "500"}
    csv = doc["paths"]["/api/reports/{kind}"]["get"]["responses"]["200"]["content"]
    assert set(csv) == {"application/json", "text/csv"}


async def test_answers_agree_with_the_document(hotline) -> None:
    doc = await openapi(hotline)
    for path, query in [
        ("/api/agents", ""),
        ("/api/queues", ""),
        ("/api/calls", ""),
        ("/api/tickets", ""),
        ("/api/outages", ""),
        ("/api/surveys", ""),
        ("/api/staffing", "?calls=100&aht=180"),
        ("/api/staffing", "?calls=100&aht=180&patience=90"),
        ("/api/reports/queues", "?from=2026-11-22&to=2026-11-23"),
        ("/healthz", ""),
        ("/openapi.json", ""),
    ]:
        status, body = await hotline.api("GET", path + query)
        assert status == 200, body
        schema = doc["paths"][path if "reports" not in path else "/api/reports/{kind}"]["get"]
        conforms(doc, schema["responses"]["200"]["content"]["application/json"]["schema"], body)
    status, body = await hotline.api("POST", "/api/agents/ana", {"action": "login"})
    op = doc["paths"]["/api/agents/{agent_id}"]["post"]
    conforms(doc, op["responses"]["200"]["content"]["application/json"]["schema"], body)
    status, body = await hotline.api("POST", "/api/agents/ana", {"action": "dance"})
    assert status == 400
    conforms(doc, op["responses"]["400"]["content"]["application/json"]["schema"], body)
    assert body["details"][0]["field"] == "body.action"


# --- the error translation, on a bare app with a plugin of the test's own ---------------
class Numbers(BaseModel):
    n: int = Field(ge=0)


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("the secret inside")


async def conflict(request: web.Request) -> web.Response:
    raise Conflict("already done")


async def forbidden(request: web.Request) -> web.Response:
    raise web.HTTPForbidden()


async def own_validation(request: web.Request) -> web.Response:
    Numbers.model_validate({"n": -1})  # a handler validating by itself
    return web.json_response({})


class Plugin:
    @staticmethod
    def setup(app: web.Application, deps: Deps) -> None:
        for name, handler in [
            ("boom", boom),
            ("conflict", conflict),
            ("forbidden", forbidden),
            ("own", own_validation),
        ]:
            add_route(app, Route("GET", f"/api/{name}", handler, name, "test"))


@pytest.fixture
async def base() -> AsyncIterator[str]:
    deps = Deps(snapshot=lambda: {"status": "ok"}, registry=CollectorRegistry())
    app = build_app(deps, api_tokens=("t",), plugins=(Plugin(),))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def get(base: str, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bearer t"}) as http,
        http.get(base + path) as resp,
    ):
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def test_an_unexpected_error_is_a_500_logged_once(
    base: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        status, body = await get(base, "/api/boom")
    assert (status, body) == (500, {"error": "internal error"})
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "the secret inside" in str(logged[0].exc_info[1])


async def test_api_errors_and_http_exceptions_become_json(base: str) -> None:
    assert await get(base, "/api/conflict") == (409, {"error": "already done"})
    assert await get(base, "/api/forbidden") == (403, {"error": "Forbidden"})
    status, body = await get(base, "/api/own")
    assert status == 400 and body["error"] == "n: Input should be greater than or equal to 0"
    assert await get(base, "/api/nothing-here") == (404, {"error": "Not Found"})
