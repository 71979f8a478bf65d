"""The ACD's live configuration on PostgreSQL, over real HTTP, with the simulator over real TCP.

An admin adds an agent and changes a queue's ring timeout through the API; the
running server routes the next call by both (the new agent logs in and is
offered it, ringing for the new timeout) without a restart. A supervisor's
skill change is stored too. A non-admin gets 403, a bad value 422 with one
clear message, a change the floor cannot take 409 with the engine's reason;
the audit lists who changed what. A restart (a new Server on the same store)
keeps all of it, reading the database and not the YAML.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import load_config
from ccserver.configuration import ConfigStore
from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts import eventlog as el
from contracts.sink import ListSink

REPO = Path(__file__).resolve().parents[3]
TOKEN = "live-config-token"
SYSTEM = {"Authorization": f"Bearer {TOKEN}"}
CALLER = "5550123456"


def settings(sim: AsteriskSimulator, agi_port: int, pg_url: str, spool: Path) -> Any:
    return load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02, "backoff_max_s": 0.1},
        http={"host": "127.0.0.1", "port": 0, "api_tokens": [TOKEN]},
        store={"url": pg_url, "flush_interval_s": 0.05, "spool_dir": str(spool)},
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.02},
        ivr={"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port},
    )


@pytest.fixture
async def hotline_sim() -> AsyncIterator[tuple[AsteriskSimulator, int]]:
    agi_port = free_port()
    talks_on = {"answer_delay_s": 5, "talk_mean_s": 1_000_000}  # rings 0.5 s, talks on
    scenario = parse_scenario(
        {"agents": [{"extension": "1001", **talks_on}, {"extension": "1005", **talks_on}]}
    )
    simulator = AsteriskSimulator(scenario, time_scale=0.1, agi_host="127.0.0.1", agi_port=agi_port)
    await simulator.start()
    try:
        yield simulator, agi_port
    finally:
        await simulator.stop()


async def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base + path, json=body, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json()


async def bearer(base: str, name: str, role: str, **extra: Any) -> dict[str, str]:
    user = {"name": name, "password": f"{name}-password", "role": role, **extra}
    status, out = await call(base, "POST", "/api/users", user, SYSTEM)
    assert status == 201, out
    body = {"name": name, "password": f"{name}-password", "bearer": True}
    status, out = await call(base, "POST", "/api/login", body)
    assert status == 200, out
    return {"Authorization": f"Bearer {out['token']}"}


@pytest.mark.timeout(90)
async def test_an_admin_changes_the_floor_live_and_a_restart_keeps_it(
    hotline_sim: tuple[AsteriskSimulator, int], pg_url: str, tmp_path: Path
) -> None:
    simulator, agi_port = hotline_sim
    seen = ListSink()
    # each process has its own spool, as two ccserver processes on one store do
    first = Server(settings(simulator, agi_port, pg_url, tmp_path / "1"), extra_sinks=(seen,))
    await first.start()
    try:
        await first.cti.client.wait_connected(5)
        base = f"http://127.0.0.1:{first.http_port}"
        root = await bearer(base, "root", "admin")
        sue = await bearer(base, "sue", "supervisor")
        assert first.orchestrator is not None
        engine = first.orchestrator.engine

        # seeded from the YAML on the first run: version 1
        status, config = await call(base, "GET", "/api/config", headers=root)
        assert status == 200, config
        assert config["version"] == 1
        assert [q["name"] for q in config["queues"]] == ["general", "billing", "faults"]
        assert [c["code"] for c in config["codes"]["reason"]][:2] == ["break", "lunch"]
        general = next(q for q in config["queues"] if q["name"] == "general")

        # only admins: a supervisor may neither read nor change it
        eve = {"name": "Eve", "endpoint": "1005", "skills": {"general": 7, "lang_en": 5}}
        for method, path, body in (
            ("GET", "/api/config", None),
            ("POST", "/api/config/agents/eve", eve),
            ("PUT", "/api/config/queues/general", general),
        ):
            status, out = await call(base, method, path, body, sue)
            assert status == 403, out

        # a bad value: 422 naming the field, and nothing changed
        status, out = await call(
            base, "PUT", "/api/config/queues/general", general | {"ring_timeout_s": -5}, root
        )
        assert status == 422
        assert out["error"] == "ring_timeout_s: Input should be greater than 0"
        status, out = await call(
            base, "PUT", "/api/config/agents/eve", eve | {"skills": {"general": 11}}, root
        )
        assert status == 422 and "level 11 is not within 1-10" in out["error"], out
        status, out = await call(
            base, "PUT", "/api/config/queues/general", general | {"overflow_to": "nowhere"}, root
        )
        assert status == 422 and "unknown queue 'nowhere'" in out["error"], out
        assert engine.queues["general"].ring_timeout_s == 15

        # the admin adds eve and gives general a 25 s ring timeout: live, no restart
        status, out = await call(base, "POST", "/api/config/agents/eve", eve, root)
        assert status == 201, out
        assert out["config"]["version"] == 2
        assert [d["kind"] for d in out["decisions"]] == ["config_changed"]
        status, out = await call(
            base, "PUT", "/api/config/queues/general", general | {"ring_timeout_s": 25}, root
        )
        assert status == 200 and out["config"]["version"] == 3, out
        assert engine.agents["eve"].state.value == "logged_out"
        assert engine.queues["general"].ring_timeout_s == 25

        # eve logs in and goes ready; the next caller for general is hers, ringing 25 s
        for action in ("login", "ready"):
            status, out = await call(base, "POST", "/api/agents/eve", {"action": action}, SYSTEM)
            assert status == 200, out
        await until(lambda: engine.agents["eve"].routable, 10)
        caller = await simulator.place_call(CALLER, dtmf="10")  # English, then an agent
        await until(lambda: engine.agents["eve"].state.value == "on_call", 20)
        assert engine.calls[engine.agents["eve"].call_id or ""].caller == CALLER

        # a change the floor cannot take: 409 with the engine's reason, nothing applied
        status, out = await call(base, "DELETE", "/api/config/agents/eve", None, root)
        assert status == 409
        assert out["error"] == "agent eve is on_call: log them out before removing them"
        status, out = await call(base, "DELETE", "/api/config/queues/faults", None, root)
        assert status == 409, out
        assert out["error"] == "the IVR menu sends callers to queue(s) ['faults']"
        status, out = await call(base, "DELETE", "/api/config/queues/general", None, root)
        assert status == 422  # the other queues overflow to it
        assert out["error"] == "queue faults: unknown queue 'general'"

        # a supervisor's skill change is live and stored
        status, out = await call(
            base, "PUT", "/api/agents/ben/skills", {"skills": {"general": 2, "tech": 8}}, sue
        )
        assert status == 200, out
        store = ConfigStore(first.db)

        async def stored_ben() -> dict[str, int]:
            found = await store.load()
            assert found is not None
            return next(a.skills for a in found.model.agents if a.id == "ben")

        for _ in range(200):
            if await stored_ben() == {"general": 2, "tech": 8}:
                break
            await asyncio.sleep(0.02)
        assert await stored_ben() == {"general": 2, "tech": 8}

        # the audit: who changed what, from where
        status, audit = await call(base, "GET", "/api/audit?actor=root", headers=root)
        assert status == 200
        done = [(e["action"], e["target"]) for e in audit["entries"]]
        assert done[:2] == [("put_queue", "general"), ("post_agent", "eve")], done
        assert audit["entries"][1]["detail"] == eve
        assert audit["entries"][1]["source"] == "127.0.0.1"

        await simulator.hangup_channel(caller.channel)
        await until(lambda: engine.agents["eve"].call_id is None, 10)
    finally:
        await first.stop()

    rows = [(e.kind, e.data) for e in seen.events]  # what the event log was given
    changes = [d for k, d in rows if k == el.ACD_CONFIG_CHANGED]
    assert [c["version"] for c in changes] == [1, 2, 3]
    assert list(changes[1]["agents_added"]) == ["eve"] and changes[1]["by"] == "root"
    assert list(changes[2]["queues_changed"]) == ["general"]
    offers = [d for k, d in rows if k == el.ACD_OFFER]
    assert [(o["agent"], o["ring_timeout_s"]) for o in offers] == [("eve", 25)]

    # a restart reads the database, not the YAML: eve, the ring timeout and ben's skills stay
    second = Server(settings(simulator, agi_port, pg_url, tmp_path / "2"))
    await second.start()
    try:
        assert second.orchestrator is not None
        engine = second.orchestrator.engine
        assert engine.agents["eve"].endpoint == "1005"
        assert engine.queues["general"].ring_timeout_s == 25
        assert engine.agents["ben"].skills == {"general": 2, "tech": 8}
        base = f"http://127.0.0.1:{second.http_port}"
        status, config = await call(base, "GET", "/api/config", headers=SYSTEM)
        assert status == 200 and config["version"] == 4  # seed, eve, general, ben's skills
    finally:
        await second.stop()


async def test_a_standby_that_takes_over_runs_the_stored_configuration(
    sim: AsteriskSimulator, tmp_path: Path, pg_url: str
) -> None:
    def ha(name: str) -> Any:
        return load_config(
            None,
            ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
            http={"host": "127.0.0.1", "port": free_port(), "api_tokens": [TOKEN]},
            store={"url": pg_url, "spool_dir": str(tmp_path / "spool"), "flush_interval_s": 0.05},
            acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.05},
            ha={"enabled": True, "name": name, "lock_key": 4343, "retry_s": 0.1, "lease_s": 3},
        )

    a, b = Server(ha("a")), Server(ha("b"))
    async with a:
        assert a.leadership is not None
        await until(lambda: isinstance(a.leadership and a.leadership.active, Server), 15)
        term_a = a.leadership.active
        assert isinstance(term_a, Server)
        await until(lambda: term_a.http_port is not None, 10)  # the port is the term's now
        base_a = f"http://127.0.0.1:{a.settings.http.port}"
        eve = {"name": "Eve", "endpoint": "1005", "skills": {"general": 7}}
        status, out = await call(base_a, "PUT", "/api/config/agents/eve", eve, SYSTEM)
        assert status == 200, out
        async with b:
            assert b.leadership is not None
            await until(lambda: b.leadership is not None and b.leadership.leader == "a", 5)
            base_b = f"http://127.0.0.1:{b.settings.http.port}"
            # the standby changes nothing: the configuration is the active's to change
            status, _ = await call(base_b, "PUT", "/api/config/agents/eve", eve, SYSTEM)
            assert status in (404, 503)
            await a.stop()  # the active goes away: b takes over
            await until(lambda: isinstance(b.leadership and b.leadership.active, Server), 15)
            term = b.leadership.active
            assert isinstance(term, Server) and term.orchestrator is not None
            await until(lambda: term.http_port is not None, 10)
            assert term.orchestrator.engine.agents["eve"].skills == {"general": 7}
            status, config = await call(base_b, "GET", "/api/config", headers=SYSTEM)
            assert status == 200 and config["version"] == 2, config


@pytest.fixture
async def live_server(
    hotline_sim: tuple[AsteriskSimulator, int], pg_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Server, str]]:
    """One running server on the hotline simulator; its HTTP base address."""
    simulator, agi_port = hotline_sim
    server = Server(settings(simulator, agi_port, pg_url, tmp_path / "1"))
    await server.start()
    try:
        yield server, f"http://127.0.0.1:{server.http_port}"
    finally:
        await server.stop()


async def test_a_queue_added_live_has_its_metrics_at_once_and_a_removed_one_loses_them(
    live_server: tuple[Server, str],
) -> None:
    _, base = live_server
    status, config = await call(base, "GET", "/api/config", headers=SYSTEM)
    assert status == 200, config
    general = next(q for q in config["queues"] if q["name"] == "general")
    series = 'ccserver_queue_calls_offered_total{queue="vip"} 0.0'

    async def metrics() -> str:
        async with (
            aiohttp.ClientSession() as http,
            http.get(base + "/metrics", headers=SYSTEM) as resp,
        ):
            assert resp.status == 200
            return await resp.text()

    assert series not in await metrics()
    status, out = await call(
        base, "POST", "/api/config/queues/vip", general | {"name": "vip"}, SYSTEM
    )
    assert status == 201, out
    text = await metrics()
    assert series in text  # a dashboard shows the new queue at zero, not "no data"
    assert 'ccserver_queue_wait_seconds_count{outcome="abandoned",queue="vip"} 0.0' in text
    status, out = await call(base, "DELETE", "/api/config/queues/vip", None, SYSTEM)
    assert status == 200, out
    assert 'queue="vip"' not in await metrics()


async def test_an_admin_changes_engine_settings_live(
    live_server: tuple[Server, str],
    hotline_sim: tuple[AsteriskSimulator, int],
    pg_url: str,
    tmp_path: Path,
) -> None:
    server, base = live_server
    assert server.orchestrator is not None
    engine = server.orchestrator.engine
    sue = await bearer(base, "sue", "supervisor")
    path = "/api/config/settings"
    status, out = await call(base, "PUT", path, {"vip_boost": 25}, sue)
    assert status == 403, out
    for body, field in (
        ({"aging_s": -1}, "aging_s"),
        ({"default_queue": "nowhere"}, "default_queue"),
        ({"vip_boost": None}, "must have a value"),
        ({"colour": "red"}, "colour"),
    ):
        status, out = await call(base, "PUT", path, body, SYSTEM)
        assert status in (400, 422) and field in out["error"], (body, out)
    assert engine.settings.vip_boost == 10
    status, out = await call(base, "PUT", path, {"vip_boost": 25, "callback_attempts": 5}, SYSTEM)
    assert status == 200, out
    assert out["config"]["settings"]["vip_boost"] == 25
    assert out["config"]["version"] == 2
    assert (engine.settings.vip_boost, engine.settings.callback_attempts) == (25, 5)
    assert engine.settings.aging_s == 60  # left out: kept
    # stored: the next process on the same database runs with it
    await server.stop()
    simulator, agi_port = hotline_sim
    again = Server(settings(simulator, agi_port, pg_url, tmp_path / "2"))
    await again.start()
    try:
        assert again.orchestrator is not None
        assert again.orchestrator.engine.settings.vip_boost == 25
    finally:
        await again.stop()
