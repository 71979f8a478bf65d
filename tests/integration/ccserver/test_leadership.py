"""Active/standby on a real PostgreSQL: the advisory lock decides, and losing it steps down.

The lock connection of the active process is ended from another session
(``pg_terminate_backend``, what a database restart or a killed backend does):
the active stops its active part at once and stands by; the standby takes the
lock and starts its own. Then the same with whole ccservers in this process:
the standby's HTTP says so and refuses what would change the floor.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from support import until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import ConfigError, load_config
from ccserver.leadership import LeaderLock, Leadership, asyncpg_dsn
from ccserver.sim import AsteriskSimulator

REPO = Path(__file__).resolve().parents[3]
TOKEN = "leadership-test-token"
KEY = 4242


class Part:
    """An active part that records when it ran (the shared list sees both processes)."""

    def __init__(self, name: str, timeline: list[tuple[str, str, float]]) -> None:
        self.name, self.timeline = name, timeline

    async def start(self) -> None:
        self.timeline.append((self.name, "start", time.monotonic()))

    async def stop(self) -> None:
        self.timeline.append((self.name, "stop", time.monotonic()))


async def terminate(url: str, pid: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_losing_the_lock_connection_steps_down_and_the_standby_takes_over(
    pg_url: str,
) -> None:
    timeline: list[tuple[str, str, float]] = []

    def leadership(name: str) -> Leadership:
        # keepalive 1 s: the step-down below is faster than any keepalive would see it
        lock = LeaderLock(pg_url, KEY, name, keepalive_s=1.0, lease_s=3.0)
        return Leadership(lock, lambda: Part(name, timeline), retry_s=0.1)

    a, b = leadership("a"), leadership("b")
    run_a = asyncio.create_task(a.run())
    try:
        await until(lambda: a.role == "active" and a.terms == 1, 10)
        run_b = asyncio.create_task(b.run())
        try:
            await until(lambda: b.leader == "a", 5)  # the standby names the active
            assert b.role == "standby" and b.active is None
            pid = a.lock.backend_pid
            assert pid is not None
            cut = time.monotonic()
            await terminate(pg_url, pid)
            await until(lambda: a.step_downs == 1, 5)
            stepped_down = next(t for who, what, t in timeline if (who, what) == ("a", "stop"))
            assert stepped_down - cut < 0.5, timeline  # at once, not at the next keepalive
            await until(lambda: b.role == "active" and b.terms == 1, 5)
            taken = next(t for who, what, t in timeline if (who, what) == ("b", "start"))
            assert taken - cut < 2.0, timeline
            await until(lambda: a.role == "standby" and a.leader == "b", 5)
            assert [(who, what) for who, what, _ in timeline] == [
                ("a", "start"), ("a", "stop"), ("b", "start"),
            ]  # fmt: skip
        finally:
            run_b.cancel()
            await asyncio.gather(run_b, return_exceptions=True)
        # b's stop freed the lock: a takes it again (after its lease_s of letting others
        # go first), a second term built afresh
        await until(lambda: a.role == "active" and a.terms == 2, 10)
        assert [(who, what) for who, what, _ in timeline][-2:] == [("b", "stop"), ("a", "start")]
    finally:
        run_a.cancel()
        await asyncio.gather(run_a, return_exceptions=True)
    assert timeline[-1][:2] == ("a", "stop")


async def test_a_database_that_is_away_leaves_everyone_standing_by(pg_url: str) -> None:
    """No lock, no active part: a standby that cannot reach PostgreSQL never starts one."""
    timeline: list[tuple[str, str, float]] = []
    lock = LeaderLock(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/x", KEY, "lonely")
    lead = Leadership(lock, lambda: Part("lonely", timeline), retry_s=0.05)
    task = asyncio.create_task(lead.run())
    try:
        await until(lambda: lock.last_error is not None, 10)
        assert lead.role == "standby" and not timeline and not lock.connected
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def ha_settings(sim: AsteriskSimulator, tmp_path: Path, url: str, name: str) -> Any:
    return load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        http={"host": "127.0.0.1", "port": free_port(), "api_tokens": [TOKEN]},
        store={"url": url, "spool_dir": str(tmp_path / "spool"), "flush_interval_s": 0.05},
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.05},
        ha={"enabled": True, "name": name, "lock_key": KEY, "retry_s": 0.1, "lease_s": 3},
    )


async def call(server: Server, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"http://127.0.0.1:{server.settings.http.port}{path}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_standby_server_serves_reads_refuses_writes_and_takes_over(
    sim: AsteriskSimulator, tmp_path: Path, pg_url: str
) -> None:
    a = Server(ha_settings(sim, tmp_path, pg_url, "a"))
    b = Server(ha_settings(sim, tmp_path, pg_url, "b"))
    assert a.leadership is not None and b.leadership is not None
    # each process has its own spool under store.spool_dir
    assert a.writer.spool is not None and b.writer.spool is not None
    assert a.writer.spool.path.parent.name == "ha-a" and b.writer.spool.path.parent.name == "ha-b"
    async with a:
        await until(lambda: a.leadership is not None and a.leadership.role == "active", 15)

        async def health(server: Server) -> dict[str, Any]:
            return (await call(server, "GET", "/healthz"))[1]

        async with b:
            status, body = await call(b, "GET", "/healthz")
            assert status == 200 and body["role"] == "standby"
            await until(lambda: b.leadership is not None and b.leadership.leader == "a", 5)
            assert (await health(b))["ha"]["active"] == "a"
            await until(lambda: len(sim.sessions) == 1, 5)  # only the active talks to Asterisk
            status, body = await call(a, "GET", "/healthz")
            assert body["role"] == "active" and body["ha"]["name"] == "a"
            # the standby: writes answer 503 naming the active; store reads are served
            status, body = await call(b, "POST", "/api/agents/ana", {"action": "login"})
            assert status == 503 and body["active"] == "a" and "standby" in body["error"]
            assert (await call(b, "GET", "/api/agents"))[0] == 503  # the live floor: the active's
            now = int(time.time())
            status, _ = await call(b, "GET", f"/api/reports/queues?from={now - 3600}&to={now}")
            assert status == 200
            assert (await call(a, "POST", "/api/agents/ana", {"action": "login"}))[0] == 200
            term = a.leadership.active
            assert isinstance(term, Server)
            await term.writer.flush()  # ana's state is in the store before the cut

            # the active loses its lock connection: it steps down and hangs up on Asterisk
            pid = a.leadership.lock.backend_pid
            assert pid is not None
            await terminate(pg_url, pid)
            await until(lambda: b.leadership is not None and b.leadership.role == "active", 15)
            # a lets others go first for lease_s, then stands by naming b
            await until(lambda: a.leadership is not None and a.leadership.leader == "b", 10)
            assert (await health(a))["role"] == "standby"
            await until(lambda: len(sim.sessions) == 1, 5)
            await until(lambda: b.leadership is not None and b.leadership.active is not None, 5)
            status, body = await call(b, "GET", "/healthz")
            assert body["role"] == "active"
            # the agent logged in on the first active is known to the second (the store)
            term_b = b.leadership.active
            assert isinstance(term_b, Server)
            await until(lambda: term_b.snapshot().cti.ami.connected, 10)
            agents = {x["id"]: x for x in (await call(b, "GET", "/api/agents"))[1]["agents"]}
            assert agents["ana"]["state"] != "logged_out", agents["ana"]
            assert agents["ben"]["state"] == "logged_out"
    assert not sim.sessions


def test_ha_needs_postgresql() -> None:
    with pytest.raises(ConfigError, match=r"ha\.enabled needs a PostgreSQL store"):
        load_config(None, store={"url": "sqlite+aiosqlite:///x.db"}, ha={"enabled": True})
