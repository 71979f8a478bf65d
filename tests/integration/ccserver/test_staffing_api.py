"""/api/staffing on a bare app (build_app with the staffing plugin only, real TCP on 127.0.0.1),
and /api/staffing/plan over a live hotline."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from support import until

from ccserver.api import Deps, build_app
from ccserver.api.plugins import staffing

Get = Callable[..., Awaitable[tuple[int, Any]]]
REFERENCE = "/api/staffing?calls=100&interval_minutes=30&aht=180&target=80&within=20"


@pytest.fixture
async def get() -> AsyncIterator[Get]:
    """GET on a bare app with only the staffing routes, bearer token "t"."""
    deps = Deps(snapshot=lambda: {"status": "ok"}, registry=CollectorRegistry())
    app = build_app(deps, api_tokens=("t",), plugins=(staffing,))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def request(path: str, token: str | None = "t") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(base + path, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    try:
        yield request
    finally:
        await runner.cleanup()


async def test_needs_a_token(get: Get) -> None:
    assert (await get(REFERENCE, token=None))[0] == 401
    assert (await get(REFERENCE, token="wrong"))[0] == 401


async def test_reference_case(get: Get) -> None:
    # kpis.md: A = 100 × 180 / 1800 = 10 Erlangs; 14 agents give 88.8%, ASA 7.8 s,
    # occupancy 10/14 = 71.4%; with 30% shrinkage ceil(14 / 0.7) = 20 scheduled
    status, body = await get(REFERENCE + "&shrinkage=30")
    assert status == 200
    assert body == {
        "agents": 14,
        "scheduled_agents": 20,
        "traffic_erlangs": 10.0,
        "meets_target": True,
        "model": "erlang_c",
        "service_level": 0.8884,
        "asa_s": 7.84,
        "occupancy": 0.7143,
    }
    status, thirteen = await get(REFERENCE + "&agents=13")
    assert status == 200 and thirteen["service_level"] == pytest.approx(0.796, abs=0.001)
    assert thirteen["meets_target"] is False and thirteen["agents"] == 13


async def test_patience_switches_to_erlang_a(get: Get) -> None:
    status, a = await get(REFERENCE + "&patience=120&shrinkage=30")
    # Erlang A, 120 s patience: 12 agents give 82.6% of offered calls within 20 s
    # (11 give 74.2%); ceil(12 / 0.7) = 18 scheduled
    assert status == 200 and a["model"] == "erlang_a"
    assert (a["agents"], a["scheduled_agents"]) == (12, 18)
    assert a["service_level"] == pytest.approx(0.8256, abs=1e-4)
    assert 0 < a["abandon_rate"] < 0.1 and a["occupancy"] < 10 / 12
    status, eight = await get(REFERENCE + "&patience=120&agents=8")
    # fewer agents than Erlangs is fine when callers give up (see test_erlang_a.py)
    assert status == 200 and eight["abandon_rate"] == pytest.approx(0.258, abs=1e-3)


async def test_the_same_json_as_the_command(get: Get) -> None:
    argv = ["staffing", "--calls", "100", "--aht", "180", "--patience", "90", "--json"]
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ccserver", *argv],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    _, api = await get("/api/staffing?calls=100&aht=180&patience=90")
    assert json.loads(out.stdout) == api


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("calls=100", "aht: Field required"),
        ("aht=180", "calls: Field required"),
        ("calls=-1&aht=180", "calls: Input should be greater than 0"),
        ("calls=100&aht=180&target=120", "target: Input should be less than 100"),
        ("calls=100&aht=abc", "aht: Input should be a valid number"),
        ("calls=100&aht=180&agents=2.5", "agents: Input should be a valid integer"),
        ("calls=100&aht=180&patience=0", "patience: Input should be greater than 0"),
        ("calls=100&aht=180&shrinkage=100", "shrinkage: Input should be less than 100"),
        ("calls=100&aht=180&bogus=1", "bogus: Extra inputs are not permitted"),
        ("calls=100&aht=180&patience=inf", "patience must be a positive finite number"),
        ("calls=1e9&aht=180", "beyond one queue"),
    ],
)
async def test_bad_parameters_are_named(get: Get, query: str, message: str) -> None:
    status, body = await get(f"/api/staffing?{query}")
    assert status == 400 and message in body["error"]


async def test_no_plan_route_without_an_event_log(get: Get) -> None:
    assert (await get("/api/staffing/plan?date=2026-12-01"))[0] == 404


async def test_day_plan_forecasts_from_the_same_slot_last_week(hotline) -> None:
    call = await hotline.sim.place_call("5559990001", dtmf="10w")
    await hotline.finish(call, timeout=20)
    await until(lambda: bool(hotline.events(call.uniqueid, "call.ended")))
    await hotline.server.writer.flush()  # the event log holds the call
    offered = hotline.events(call.uniqueid, "acd.queued")[0].at + 7 * 86400
    next_week = datetime.fromtimestamp(offered, UTC).date().isoformat()
    status, plan = await hotline.api(
        "GET", f"/api/staffing/plan?date={next_week}&queue=general&interval_minutes=30&weeks=1"
    )
    assert status == 200 and len(plan["intervals"]) == 48
    slot = offered // 1800 * 1800
    busy = {row["start"]: row for row in plan["intervals"] if row["calls"]}
    assert list(busy) == [slot]  # the one call of last week, in its half hour
    assert busy[slot]["calls"] == 1 and busy[slot]["agents"] >= 1
    status, body = await hotline.api(
        "GET", f"/api/staffing/plan?date={next_week}&interval_minutes=7"
    )
    assert status == 400 and "15, 30 or 60" in body["error"]


async def test_forecast_plan_command_agrees_with_the_api(hotline, tmp_path) -> None:
    call = await hotline.sim.place_call("5559990001", dtmf="10w")
    await hotline.finish(call, timeout=20)
    await until(lambda: bool(hotline.events(call.uniqueid, "call.ended")))
    await hotline.server.writer.flush()  # the event log holds the call
    offered = hotline.events(call.uniqueid, "acd.queued")[0].at + 7 * 86400
    day = datetime.fromtimestamp(offered, UTC).date().isoformat()
    config = tmp_path / "ccserver.yaml"
    settings = hotline.server.settings
    config.write_text(json.dumps({"store": {"url": settings.store.url},
                                  "acd": {"config": settings.acd.config}}))  # fmt: skip
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ccserver", "forecast", "plan", "--config", str(config),
         "--date", day, "--queue", "general", "--weeks", "1", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    _, api = await hotline.api("GET", f"/api/staffing/plan?date={day}&queue=general&weeks=1")
    assert json.loads(out.stdout) == api
