"""/api/staffing and /api/staffing/plan over a live hotline."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime

import aiohttp
import pytest


async def test_reference_case_and_erlang_a(hotline) -> None:
    q = "/api/staffing?calls=100&interval_minutes=30&aht=180&target=80&within=20"
    status, body = await hotline.api("GET", q)
    assert status == 200
    assert (body["agents"], body["model"], body["service_level"]) == (14, "erlang_c", 0.8884)
    assert body["asa_s"] == pytest.approx(7.8, abs=0.05) and body["occupancy"] == 0.7143
    _, thirteen = await hotline.api("GET", q + "&agents=13")
    assert thirteen["service_level"] == pytest.approx(0.796, abs=0.001)
    _, a = await hotline.api("GET", q + "&patience=120&shrinkage=30")
    assert a["model"] == "erlang_a" and a["agents"] == 12 and a["scheduled_agents"] == 18
    assert 0 < a["abandon_rate"] < 0.1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("calls=100", "aht: Field required"),
        ("calls=-1&aht=180", "calls: Input should be greater than 0"),
        ("calls=100&aht=180&target=120", "target: Input should be less than 100"),
        ("calls=100&aht=abc", "aht: Input should be a valid number"),
        ("calls=100&aht=180&bogus=1", "bogus: Extra inputs are not permitted"),
    ],
)
async def test_bad_parameters_are_named(hotline, query: str, message: str) -> None:
    status, body = await hotline.api("GET", f"/api/staffing?{query}")
    assert status == 400 and message in body["error"]


async def test_needs_a_token(hotline) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{hotline.base}/api/staffing?calls=1&aht=1") as resp,
    ):
        assert resp.status == 401


async def test_day_plan_forecasts_from_the_same_slot_last_week(hotline) -> None:
    call = await hotline.sim.place_call("5559990001", dtmf="10w")
    await hotline.finish(call, timeout=20)
    await asyncio.sleep(0.3)
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
    await asyncio.sleep(0.3)
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
