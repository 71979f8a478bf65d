"""The reports API and ``ccserver report`` over a live hotline's event log."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import time

import aiohttp
import pytest


@pytest.fixture
def scenario_agents() -> list[dict[str, object]]:
    return [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 3}]


async def run_calls(hotline) -> float:
    began = time.time() - 1
    calls = [
        await hotline.sim.place_call("5550100001", dtmf="11" + "1234"),  # self-served
        await hotline.sim.place_call("5559990001", dtmf="10w"),  # to the agent
    ]
    for call in calls:
        await hotline.finish(call, timeout=20)
    await hotline.server.writer.flush()
    return began


async def test_queue_report_json_and_csv(hotline) -> None:
    began = await run_calls(hotline)
    q = f"from={began}&to={time.time() + 1}&interval=day"
    status, body = await hotline.api("GET", f"/api/reports/queues?{q}&variant=abandons_met")
    assert status == 200 and body["service_level_variant"] == "abandons_met"
    # the range in the center's own time zone too (reports.timezone, default the machine's)
    assert body["timezone"] and body["from_local"][:4] == time.strftime("%Y")
    rows = {r["queue"]: r for r in body["rows"]}
    assert rows["general"]["offered"] == 1 and rows["general"]["answered"] == 1
    assert rows["*"]["ivr_calls"] == 2 and rows["*"]["self_served"] == 1
    assert rows["*"]["self_service_rate"] == 0.5
    headers = {"Authorization": "Bearer ivr-test-token"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{hotline.base}/api/reports/queues?{q}&format=csv", headers=headers) as resp,
    ):
        assert resp.status == 200 and resp.content_type == "text/csv"
        table = list(csv.DictReader(io.StringIO(await resp.text())))
    assert {r["queue"] for r in table} == {"general", "*"}
    status, body = await hotline.api("GET", f"/api/reports/agents?{q}")
    ana = next(r for r in body["rows"] if r["agent"] == "ana")
    assert ana["calls"] == 1 and ana["talk_s"] > 0 and ana["state_s"]["on_call"] > 0
    status, body = await hotline.api("GET", f"/api/reports/calls?{q}")
    dispositions = sorted(r["disposition"] for r in body["rows"])
    assert dispositions == ["answered", "self_served"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query.from: Field required; query.to: Field required"),
        ("from=x&to=2026-11-22", "query.from: Value error, use ISO 8601"),
        ("from=2026-11-22&to=2026-11-21", "to must be after from"),
        ("from=2026-01-01&to=2026-12-31", "at most 92 days"),
        ("from=2026-11-22&to=2026-11-23&interval=7", "query.interval: Input should be '15'"),
        ("from=2026-11-22&to=2026-11-23&variant=nice", "query.variant: Input should be"),
        ("from=2026-11-22&to=2026-11-23&bogus=1", "query.bogus: Extra inputs are not permitted"),
    ],
)
async def test_bad_report_requests_are_explained(hotline, query: str, message: str) -> None:
    status, body = await hotline.api("GET", f"/api/reports/queues?{query}")
    assert status == 400 and message in body["error"]


async def test_unknown_report_is_not_found(hotline) -> None:
    status, body = await hotline.api("GET", "/api/reports/moods?from=2026-11-22&to=2026-11-23")
    assert status == 404 and "path.kind" in body["error"]


async def test_report_command_prints_the_same_rows(hotline, tmp_path) -> None:
    began = await run_calls(hotline)
    config = tmp_path / "ccserver.yaml"
    config.write_text(
        json.dumps(
            {
                "store": {"url": hotline.server.settings.store.url},
                "acd": {"config": hotline.server.settings.acd.config},
            }
        )
    )
    args = ["--config", str(config), "--from", str(began), "--to", str(time.time() + 1)]
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ccserver", "report", "queues", *args, "--interval", "day"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rows = {r["queue"]: r for r in json.loads(out.stdout)["rows"]}
    _, api = await hotline.api(
        "GET", f"/api/reports/queues?from={began}&to={args[-1]}&interval=day"
    )
    assert rows == {r["queue"]: r for r in api["rows"]}
    bad = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ccserver", "report", "queues", "--from", "x", "--to", "y"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "report: from/to" in bad.stderr
