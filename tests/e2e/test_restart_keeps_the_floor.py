"""A restart keeps the floor: ccserver is SIGKILLed mid-traffic and a new process takes over.

Real processes (``python -m ccserver run``) on one PostgreSQL store and spool,
the simulator playing Asterisk in this process over real TCP (AMI and
FastAGI), on real time so the server's clock and Asterisk's agree. Agents keep
their states without logging in again; callers who were holding (one of them
cut out of the IVR by the kill) are queued again in their original order with
their original wait start, and every call's record matches what Asterisk did.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.commands.common import free_port
from ccserver.reporting.source import load_records, row_event
from ccserver.sim import AsteriskSimulator, CallHandle, parse_scenario
from ccserver.store.schema import call_events

REPO = Path(__file__).resolve().parents[2]
TOKEN = "restart-test-token"
GENERAL = "10"  # English, then 0 at the main menu: the general queue


class Ccserver:
    """One ``ccserver run`` process."""

    def __init__(self, config: Path, http_port: int, log: Path) -> None:
        self.config, self.base, self.log = config, f"http://127.0.0.1:{http_port}", log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Start it; return the seconds until /healthz answers 200."""
        began = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ccserver", "run", "--config", str(self.config),
                stdout=out, stderr=out, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with http.get(self.base + "/healthz") as resp:
                            if resp.status == 200:
                                return time.monotonic() - began
                    except aiohttp.ClientError:
                        pass
                    assert self.proc.returncode is None, self.log.read_text()
                    await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base + path, json=body, headers=headers) as resp,
        ):
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def agents(self) -> dict[str, dict[str, Any]]:
        return {a["id"]: a for a in (await self.api("GET", "/api/agents"))["agents"]}


@pytest.fixture
async def hotline(tmp_path: Path, pg_url: str) -> AsyncIterator[tuple[AsteriskSimulator, Path]]:
    agi_port = free_port()
    scenario = parse_scenario(
        {
            "agents": [
                {"extension": e, "answer_delay_s": 0.5, "talk_mean_s": 5}
                for e in ("1001", "1002", "1003", "1004")
            ]
        }
    )
    sim = AsteriskSimulator(
        scenario, time_scale=1.0, agi_host="127.0.0.1", agi_port=agi_port, timestamp_events=True
    )
    await sim.start()
    config = tmp_path / "ccserver.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ami": {
                    "port": sim.port,
                    "secret": "ccsecret",
                    "backoff_min_s": 0.05,
                    "backoff_max_s": 0.2,
                },
                "http": {"host": "127.0.0.1", "port": free_port(), "api_tokens": [TOKEN]},
                "store": {
                    "url": pg_url,
                    "spool_dir": str(tmp_path / "spool"),
                    "flush_interval_s": 0.05,
                },
                "acd": {"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.05},
                "ivr": {
                    "config": str(REPO / "config" / "ivr.example.yaml"),
                    "agi_port": agi_port,
                },
            }
        )
    )
    try:
        yield sim, config
    finally:
        await sim.stop()


async def test_sigkill_mid_traffic_keeps_agents_and_holding_callers(
    hotline: tuple[AsteriskSimulator, Path], tmp_path: Path, pg_url: str
) -> None:
    sim, config = hotline
    http_port = yaml.safe_load(config.read_text())["http"]["port"]
    first = Ccserver(config, http_port, tmp_path / "first.log")
    second = Ccserver(config, http_port, tmp_path / "second.log")
    try:
        await first.start()
        for agent in ("ana", "ben", "chen", "dana"):
            await first.api("POST", f"/api/agents/{agent}", {"action": "login"})
        for agent in ("ana", "ben", "chen"):
            await first.api("POST", f"/api/agents/{agent}", {"action": "ready"})
        await first.api("POST", "/api/agents/dana", {"action": "not_ready", "reason": "lunch"})
        calls: list[CallHandle] = []
        for i in range(7):
            calls.append(await sim.place_call(f"55560{i:03d}", f"C{i}", GENERAL, patience=600))
            await asyncio.sleep(0.25)
        # three talk, four hold; one more caller is in the IVR's main menu, keys not yet pressed
        await until(lambda: sum(c.record.entered_hold_at is not None for c in calls) >= 6, 20)
        ivr_caller = await sim.place_call("5556999", "In the IVR", "1", patience=600)
        await until(lambda: "main" in str(sim.agi_log.get(ivr_caller.channel, [])), 10)
        await asyncio.sleep(0.5)  # the writer's flush interval: the state is in the spool
        holding = [c for c in calls if c.record.entered_hold_at and c.record.answered_at is None]
        assert len(holding) >= 3
        before = await first.agents()
        busy = ("offered", "on_call", "wrap_up")
        assert all(before[a]["state"] in busy for a in ("ana", "ben", "chen")), before

        await first.kill()
        killed_at = time.time()
        await asyncio.sleep(1.5)  # calls go on while no ccserver listens
        restart_s = await second.start()
        restarted_at = time.time()
        # routable again as soon as Asterisk has said what each softphone is
        while any(a["device"] == "unknown" for a in (await second.agents()).values()):
            assert time.time() - restarted_at < 10
            await asyncio.sleep(0.05)
        routable_s = time.time() - restarted_at + restart_s
        after = await second.agents()
        # agents keep their states without logging in again
        assert after["dana"]["state"] == "not_ready" and after["dana"]["reason"] == "lunch"
        for agent in ("ana", "ben", "chen"):
            assert after[agent]["state"] in ("on_call", "wrap_up", "available", "offered"), after
        # nobody is left holding: every caller is answered in the end
        everyone = [*calls, ivr_caller]
        await until(lambda: all(c.record.answered_at is not None for c in everyone), 60)
        for c in everyone:
            await sim.hangup_channel(c.channel)
        await sim.wait_idle(timeout=30)
        await asyncio.sleep(0.5)
    finally:
        await first.stop()
        await second.stop()

    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(call_events).order_by(call_events.c.seq))).all()
        records, _ = await load_records(engine, killed_at - 3600, time.time() + 60, 5.0)
    finally:
        await engine.dispose()
    events = [row_event(r) for r in rows]
    assert len({e.id for e in events}) == len(events)

    def first_at(call: CallHandle, kind: str, since: float = 0.0) -> float | None:
        return next(
            (
                e.at
                for e in events
                if e.call_id == call.linkedid and e.kind == kind and e.at > since
            ),
            None,
        )

    # the holding callers were queued again with their original wait start ...
    for c in holding:
        requeued = [
            e for e in events
            if e.call_id == c.linkedid and e.kind == "acd.queued" and e.at > killed_at
        ]  # fmt: skip
        assert len(requeued) == 1, c.record
        original = first_at(c, "acd.queued")
        assert original is not None and original < killed_at
        assert requeued[0].data["enqueued_at"] == pytest.approx(original, abs=0.002)
    # ... and offered in their original order
    offered = sorted(holding, key=lambda c: first_at(c, "acd.offer", killed_at) or 1e18)
    assert offered == sorted(holding, key=lambda c: first_at(c, "acd.queued") or 0.0)
    # conversations that went on across the restart were adopted: their agents stayed on_call
    ids = {"1001": "ana", "1002": "ben", "1003": "chen"}
    went_on = 0
    for c in calls:
        t = c.record
        if t.answered_at and t.answered_at < killed_at and (t.talk_ended_at or 0) > restarted_at:
            adopted = [e for e in events if e.call_id == c.linkedid and e.kind == "acd.adopted"]
            assert [e.data["agent"] for e in adopted] == [ids[str(t.agent)]], t
            assert adopted[0].data["answered_at"] == pytest.approx(t.answered_at, abs=0.05)
            went_on += 1
    # the caller cut out of the IVR by the kill was queued and served too
    assert ivr_caller.record.entered_hold_at is not None
    assert first_at(ivr_caller, "acd.queued", killed_at) is not None
    # one arrival per call, and every record as Asterisk had it
    by_call = {r.call_id: r for r in records}
    for c in everyone:
        rec, truth = by_call[c.linkedid], c.record
        assert rec.disposition == "answered", (rec, truth)
        assert rec.arrived_at == pytest.approx(truth.arrived_at, abs=0.05)
        assert truth.wait_s is not None and rec.wait_s is not None
        assert rec.wait_s == pytest.approx(truth.wait_s, abs=0.25), (rec, truth)
    first_offer = min(e.at for e in events if e.kind == "acd.offer" and e.at > killed_at)
    print(
        f"restart: {len(holding)} holding + 1 cut from the IVR re-queued, {went_on} conversations"
        f" adopted; routable {routable_s:.2f} s after the new start; healthy after"
        f" {restart_s:.2f} s; first offer {first_offer - killed_at:.2f} s after the kill"
    )
