"""Active/standby on a real PostgreSQL: the advisory lock decides, and losing it steps down.

The lock connection of the active process is ended from another session
(``pg_terminate_backend``, what a database restart or a killed backend does):
the active stops its active part at once and stands by; the standby takes the
lock and starts its own. Then the same with whole ccservers in this process:
the standby's HTTP says so and refuses what would change the floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from sqlalchemy.engine import make_url
from support import ami_settings, until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import ConfigError, load_config
from ccserver.fence import AsteriskFence
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


class SlowPart(Part):
    """An active part whose start outlasts the lease (a resync of many nodes, a big floor)."""

    async def start(self) -> None:
        await asyncio.sleep(2.5)
        await super().start()


async def test_a_takeover_longer_than_the_lease_keeps_the_lock(pg_url: str) -> None:
    # PostgreSQL ends a lock session silent for lease_s (idle_session_timeout): the
    # takeover itself must keep it talking, or the new active loses the lock at once
    timeline: list[tuple[str, str, float]] = []
    lock = LeaderLock(pg_url, KEY, "slow", keepalive_s=0.3, lease_s=1.0)
    lead = Leadership(lock, lambda: SlowPart("slow", timeline), retry_s=0.1)
    task = asyncio.create_task(lead.run())
    try:
        await until(lambda: lead.terms == 1, 10)
        await asyncio.sleep(1.5)  # past the lease again: held by hold()'s keepalives now
        assert lead.role == "active" and lead.step_downs == 0 and lock.held
        assert lead.lock.last_error is None
        assert [(who, what) for who, what, _ in timeline] == [("slow", "start")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


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


class Partition:
    """A TCP proxy in front of PostgreSQL that can cut one process off from the database."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut = False
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut_off(self) -> None:
        """Every link closed (PostgreSQL ends those sessions), new ones refused."""
        self.cut = True
        for w in self._links:
            w.close()

    def heal(self) -> None:
        self.cut = False

    async def stop(self) -> None:
        self.cut_off()
        if self._server is not None:
            self._server.close()


def fence(sim: AsteriskSimulator, name: str) -> AsteriskFence:
    return AsteriskFence([ami_settings(sim.port)], name, check_s=0.4)


async def test_an_active_cut_off_from_the_database_routes_on_until_a_standby_claims_asterisk(
    pg_url: str, sim: AsteriskSimulator
) -> None:
    """No split brain, no gap: the old active stops before the new one starts."""
    timeline: list[tuple[str, str, float]] = []
    proxy = Partition(make_url(pg_url).port or 5432)
    await proxy.start()
    via_proxy = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    a = Leadership(
        LeaderLock(via_proxy, KEY, "a", keepalive_s=0.4, lease_s=2.0),
        lambda: Part("a", timeline),
        retry_s=0.1,
        fence=fence(sim, "a"),
    )
    b = Leadership(
        LeaderLock(pg_url, KEY, "b", keepalive_s=0.4, lease_s=2.0),
        lambda: Part("b", timeline),
        retry_s=0.1,
        fence=fence(sim, "b"),
    )
    run_a = asyncio.create_task(a.run())
    await until(lambda: a.role == "active", 10)
    run_b = asyncio.create_task(b.run())
    try:
        await until(lambda: b.leader == "a", 5)
        proxy.cut_off()  # a is cut off from PostgreSQL, which frees its lock at once
        await until(lambda: a.fenced, 5)  # routing on: Asterisk still names a
        assert a.role == "active" and [w for w, _, _ in timeline] == ["a"]
        # b takes the free lock, claims Asterisk, waits; a reads the claim and stops first
        await until(lambda: b.role == "active" and b.terms == 1 and len(timeline) == 3, 15)
        assert [(who, what) for who, what, _ in timeline] == [
            ("a", "start"), ("a", "stop"), ("b", "start"),
        ]  # fmt: skip
        assert a.role == "standby" and a.fenced_terms == 1
    finally:
        for task in (run_a, run_b):
            task.cancel()
        await asyncio.gather(run_a, run_b, return_exceptions=True)
        await proxy.stop()


async def test_an_active_that_loses_the_database_keeps_its_term_and_takes_the_lock_back(
    pg_url: str, sim: AsteriskSimulator
) -> None:
    """A database restart (every session ended) does not stop routing: nobody else claimed."""
    timeline: list[tuple[str, str, float]] = []
    a = Leadership(
        LeaderLock(pg_url, KEY, "a", keepalive_s=0.4, lease_s=2.0),
        lambda: Part("a", timeline),
        retry_s=0.1,
        fence=fence(sim, "a"),
    )
    run_a = asyncio.create_task(a.run())
    try:
        await until(lambda: a.role == "active", 10)
        pid = a.lock.backend_pid
        assert pid is not None
        await terminate(pg_url, pid)
        await until(lambda: a.fenced_terms == 1 and not a.fenced and a.lock.held, 10)
        assert a.role == "active" and a.step_downs == 0
        assert [(who, what) for who, what, _ in timeline] == [("a", "start")]
    finally:
        run_a.cancel()
        await asyncio.gather(run_a, return_exceptions=True)


async def test_a_process_that_cannot_reach_asterisk_stays_standby(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    timeline: list[tuple[str, str, float]] = []
    unreachable = AsteriskFence([ami_settings(free_port())], "lonely", check_s=0.2, connect_s=0.5)
    lead = Leadership(
        LeaderLock(pg_url, KEY, "lonely"), lambda: Part("lonely", timeline), retry_s=0.1,
        fence=unreachable,
    )  # fmt: skip
    task = asyncio.create_task(lead.run())
    try:
        await until(lambda: unreachable.last_error is not None, 10)
        await asyncio.sleep(0.5)  # several tries, every retry_s
        assert lead.role == "standby" and not timeline and lead.terms == 0
        said = [r.getMessage() for r in caplog.records if "cannot claim Asterisk" in r.getMessage()]
        assert len(said) == 1, said  # once for the cause, not at every try
        assert not any("taking over" in r.getMessage() for r in caplog.records)
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
    proxy = Partition(make_url(pg_url).port or 5432)
    await proxy.start()
    via_proxy = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    a = Server(ha_settings(sim, tmp_path, via_proxy, "a"))
    b = Server(ha_settings(sim, tmp_path, pg_url, "b"))
    assert a.leadership is not None and b.leadership is not None
    # each process has its own spool under store.spool_dir
    assert a.writer.spool is not None and b.writer.spool is not None
    assert a.writer.spool.path.parent.name == "ha-a" and b.writer.spool.path.parent.name == "ha-b"
    async with a:
        # terms counts a term once it has started: its HTTP has taken the port over
        # (until then the standby's HTTP answers, rightly, "standby")
        await until(lambda: a.leadership is not None and a.leadership.terms == 1, 15)

        async def health(server: Server) -> dict[str, Any]:
            return (await call(server, "GET", "/healthz"))[1]

        async with b:
            status, body = await call(b, "GET", "/healthz")
            assert status == 200 and body["role"] == "standby"
            await until(lambda: b.leadership is not None and b.leadership.leader == "a", 5)
            assert (await health(b))["ha"]["active"] == "a"
            # only the active talks to Asterisk: its CTI session and its fence's
            await until(lambda: len(sim.sessions) == 2, 5)
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

            # the active is cut off from the database: b takes the lock and claims
            # Asterisk, a reads the claim, steps down and hangs up on Asterisk
            proxy.cut_off()
            await until(lambda: b.leadership is not None and b.leadership.role == "active", 15)
            await until(lambda: a.leadership is not None and a.leadership.role == "standby", 5)
            proxy.heal()  # a lets others go first for lease_s, then stands by naming b
            await until(lambda: a.leadership is not None and a.leadership.leader == "b", 10)
            assert (await health(a))["role"] == "standby"
            await until(lambda: len(sim.sessions) == 2, 5)
            await until(lambda: b.leadership is not None and b.leadership.terms == 1, 5)
            status, body = await call(b, "GET", "/healthz")
            assert body["role"] == "active"
            # the agent logged in on the first active is known to the second (the store)
            term_b = b.leadership.active
            assert isinstance(term_b, Server)
            await until(lambda: term_b.snapshot().cti.ami.connected, 10)
            agents = {x["id"]: x for x in (await call(b, "GET", "/api/agents"))[1]["agents"]}
            assert agents["ana"]["state"] != "logged_out", agents["ana"]
            assert agents["ben"]["state"] == "logged_out"
            # a monitor asks a all along (each time on a new connection)
            asked: list[tuple[int, Any]] = []

            async def monitor() -> None:
                while True:
                    with contextlib.suppress(aiohttp.ClientError):
                        asked.append(await asyncio.wait_for(call(a, "GET", "/healthz"), 3))
                    await asyncio.sleep(0.02)

            watching = asyncio.create_task(monitor())
        # b stops: a, on its standby HTTP again, takes over for a second term, and its
        # /healthz (the term's HTTP now) answers as the active process at once
        try:
            await until(lambda: a.leadership is not None and a.leadership.terms == 2, 15)
            n = len(asked)
            await until(lambda: len(asked) > n + 5, 5)
            assert all(s == 200 and b["role"] == "active" for s, b in asked[n + 1 :]), asked[n:]
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
    await proxy.stop()
    assert not sim.sessions


def test_ha_needs_postgresql() -> None:
    with pytest.raises(ConfigError, match=r"ha\.enabled needs a PostgreSQL store"):
        load_config(None, store={"url": "sqlite+aiosqlite:///x.db"}, ha={"enabled": True})
