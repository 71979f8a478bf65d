"""A whole hotline for IVR tests: the simulator, ccserver with the example IVR, accounts.

The simulator's callers reach ccserver's FastAGI listener over real TCP and
press the keys of their DTMF script; ccserver answers over AMI and FastAGI and
writes to a SQLite store in the test's temporary folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import load_config
from ccserver.selfservice.accounts_sql import load_accounts
from ccserver.sim import AsteriskSimulator, CallHandle, parse_scenario
from contracts.sink import CallEvent, ListSink

REPO = Path(__file__).resolve().parents[2]
TOKEN = "ivr-test-token"
ACCOUNTS = [
    # number, phone, pin, balance in cents, due date, region, tier
    ("10000001", "5550100001", "1234", "4250", "2026-12-15", "north", "standard"),
    ("10000002", "5550100002", "2468", "-1999", "2026-12-01", "north", "silver"),
    ("10000004", "5550199999", "9999", "125000", "", "south", "gold"),
    ("10000005", "", "4321", "780", "", "east", "standard"),
]


@dataclass
class Hotline:
    """The running hotline and what tests ask of it."""

    sim: AsteriskSimulator
    server: Server
    seen: ListSink

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base + path, json=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    def events(self, call_id: str, kind: str | None = None) -> list[CallEvent]:
        return [
            e for e in self.seen.events if e.call_id == call_id and (kind is None or e.kind == kind)
        ]

    def ended(self, call: CallHandle) -> dict[str, Any]:
        """The data of the call's ``ivr.ended`` event."""
        found = self.events(call.uniqueid, "ivr.ended")
        assert len(found) == 1, [e.kind for e in self.events(call.uniqueid)]
        return dict(found[0].data)

    def agi(self, call: CallHandle) -> list[str]:
        """Every AGI command ccserver sent on the caller's channel."""
        return self.sim.agi_log.get(call.channel, [])

    async def finish(self, call: CallHandle, timeout: float = 10) -> None:
        """Wait until the caller's call and its IVR session are over."""
        await asyncio.wait_for(call.done.wait(), timeout)
        await self.left_ivr(call, timeout)

    async def left_ivr(self, call: CallHandle, timeout: float = 10) -> None:
        """Wait until the caller has left the IVR (the call may go on in a queue)."""
        await until(lambda: bool(self.events(call.uniqueid, "ivr.ended")), timeout)
        await until(lambda: self.server.agi is not None and self.server.agi.active == 0, timeout)


def make_settings(sim_port: int, agi_port: int, tmp_path: Path, **ivr: Any) -> Any:
    return load_config(
        None,
        ami={"port": sim_port, "secret": "ccsecret", "backoff_min_s": 0.02, "backoff_max_s": 0.1},
        http={"host": "127.0.0.1", "port": 0, "api_tokens": [TOKEN]},
        store={
            "url": f"sqlite+aiosqlite:///{tmp_path}/hotline.db",
            "flush_interval_s": 0.05,
            "spool_dir": str(tmp_path / "spool"),
        },
        hotline={"callback_answer_s": 20, "callback_retry_s": 0.05, "callback_attempts": 2},
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.02},
        ivr={"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port, **ivr},
    )


async def seed_accounts(url: str) -> None:
    engine = create_async_engine(url)
    rows = [
        {
            "number": n,
            "name": f"Subscriber {n}",
            "phone": phone,
            "pin": pin,
            "balance_cents": balance,
            "due_date": due,
            "region": region,
            "tier": tier,
        }
        for n, phone, pin, balance, due, region, tier in ACCOUNTS
    ]
    await load_accounts(engine, rows)
    await engine.dispose()


@pytest.fixture
def scenario_agents() -> list[dict[str, Any]]:
    """Agent softphones of the simulated hotline (tests may override)."""
    return [
        {"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 20},
        {"extension": "1002", "registered": False},
        {"extension": "1003", "registered": False},
        {"extension": "1004", "registered": False},
    ]


@pytest.fixture
def ivr_overrides() -> dict[str, Any]:
    """Extra ``ivr`` settings for a test (e.g. an HTTP account backend)."""
    return {}


@pytest.fixture
async def hotline(
    tmp_path: Path, scenario_agents: list[dict[str, Any]], ivr_overrides: dict[str, Any]
) -> AsyncIterator[Hotline]:
    agi_port = free_port()
    scenario = parse_scenario({"agents": scenario_agents})
    sim = AsteriskSimulator(scenario, time_scale=0.01, agi_host="127.0.0.1", agi_port=agi_port)
    await sim.start()
    seen = ListSink()
    server = Server(
        make_settings(sim.port, agi_port, tmp_path, **ivr_overrides), extra_sinks=(seen,)
    )
    await server.start()
    await seed_accounts(server.settings.store.url)
    await server.cti.client.wait_connected(5)
    assert server.orchestrator is not None
    server.orchestrator.agent_action("ana", "login")  # on 1001, the one softphone that answers
    server.orchestrator.agent_action("ana", "ready")
    try:
        yield Hotline(sim, server, seen)
    finally:
        await server.stop()
        await sim.stop()


@pytest.fixture
async def records_away(hotline: Hotline) -> AsyncIterator[None]:
    """The self-service records' database goes away (a port nothing listens on)."""
    kept = hotline.server.records.engine
    away = create_async_engine(f"postgresql+asyncpg://ccserver@127.0.0.1:{free_port()}/ccserver")
    hotline.server.records.engine = away
    try:
        yield
    finally:
        hotline.server.records.engine = kept
        await away.dispose()
