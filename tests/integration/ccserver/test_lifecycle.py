"""Start-up and shutdown over real TCP: a part that cannot start stops exactly what started."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support import can_bind, until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import Settings, load_config
from ccserver.sim import AsteriskSimulator
from ccserver.startup import StartupError

REPO = Path(__file__).resolve().parents[3]


def settings_for(sim: AsteriskSimulator, tmp_path: Path, **sections: Any) -> Settings:
    base: dict[str, Any] = {
        "ami": {"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        "http": {"host": "127.0.0.1", "port": 0},
        "store": {
            "url": f"sqlite+aiosqlite:///{tmp_path}/events.db",
            "spool_dir": str(tmp_path / "spool"),
        },
        "acd": {"config": str(REPO / "config" / "acd.example.yaml")},
        "ivr": {"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": free_port()},
    }
    for name, values in sections.items():
        base[name] = base[name] | values
    return load_config(None, **base)


async def test_a_busy_http_port_stops_what_started(
    sim: AsteriskSimulator, tmp_path: Path, busy_port: int
) -> None:
    before = asyncio.all_tasks()
    settings = settings_for(sim, tmp_path, http={"port": busy_port})
    server = Server(settings)
    with pytest.raises(StartupError) as caught:
        await server.start()
    assert caught.value.component == "HTTP"
    assert str(caught.value) == (
        f"HTTP: cannot listen on 127.0.0.1:{busy_port}: address already in use"
        " (stop what uses it, or set http.port)"
    )
    assert asyncio.all_tasks() == before  # writer, ACD tick, AMI, FastAGI: all gone
    await until(lambda: not sim.sessions)  # the CTI session to "Asterisk" is closed
    assert can_bind(settings.ivr.agi_port)  # the FastAGI port is free again
    await server.stop()  # nothing left to stop: a no-op


async def test_a_busy_agi_port_fails_before_asterisk_is_contacted(
    sim: AsteriskSimulator, tmp_path: Path, busy_port: int
) -> None:
    before = asyncio.all_tasks()
    server = Server(settings_for(sim, tmp_path, ivr={"agi_port": busy_port}))
    with pytest.raises(StartupError, match=f"IVR: cannot listen on agi://127.0.0.1:{busy_port}"):
        await server.start()
    assert asyncio.all_tasks() == before
    assert server.http_port is None and not sim.sessions


async def test_an_unreachable_store_does_not_stop_the_start(
    sim: AsteriskSimulator, tmp_path: Path
) -> None:
    """The README's promise: the server runs while the database is down, spooling events."""
    before = asyncio.all_tasks()
    url = f"postgresql+asyncpg://cc:hunter2@127.0.0.1:{free_port()}/cc"
    async with Server(settings_for(sim, tmp_path, store={"url": url})) as server:
        await server.cti.wait_connected(5)
        snapshot = server.snapshot()
        assert snapshot.status == "degraded" and not snapshot.store.healthy
        assert server.orchestrator is not None and not server.orchestrator.restored_agents
    assert asyncio.all_tasks() == before
    await until(lambda: not sim.sessions)


async def test_a_running_server_stops_every_part(sim: AsteriskSimulator, tmp_path: Path) -> None:
    before = asyncio.all_tasks()
    settings = settings_for(sim, tmp_path)
    async with Server(settings) as server:
        await server.cti.wait_connected(5)
        assert server.db is server.writer.engine  # one engine for the store
        tasks = server.snapshot().details["tasks"]
        assert tasks["failed"] == 0 and tasks["active"] >= 1  # housekeeping
        port = server.http_port
        assert port is not None and not can_bind(port)
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
    assert asyncio.all_tasks() == before
    await until(lambda: not sim.sessions)
    assert can_bind(port) and can_bind(settings.ivr.agi_port)
    assert server.tasks.closed


async def test_a_cancelled_start_stops_what_started(sim: AsteriskSimulator, tmp_path: Path) -> None:
    """A stop asked for during start-up (SIGTERM) cancels the start: nothing stays behind."""
    before = asyncio.all_tasks()
    server = Server(settings_for(sim, tmp_path))
    cti_start = server.cti.start
    held = asyncio.Event()

    async def start_and_hold() -> None:  # start-up held just after the CTI started
        await cti_start()
        held.set()
        await asyncio.Event().wait()

    server.cti.start = start_and_hold  # type: ignore[method-assign]
    starting = asyncio.create_task(server.start())
    await asyncio.wait_for(held.wait(), 5)
    await until(lambda: bool(sim.sessions))  # connected to "Asterisk"
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert asyncio.all_tasks() == before
    await until(lambda: not sim.sessions)
    assert server.http_port is None and can_bind(server.settings.ivr.agi_port)
