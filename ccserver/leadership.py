"""Active/standby: a PostgreSQL advisory lock decides which ccserver drives Asterisk.

Every process of a center tries ``pg_try_advisory_lock(ha.lock_key)`` on a
connection of its own (asyncpg, kept open). The holder is **active**; the
others **stand by** and try again every ``ha.retry_s``. The lock is the only
authority: nothing else (a peer's health, a table row) makes a process active.

A session-level advisory lock lives as long as its session, so:

* a process that dies (SIGKILL, crash, power) closes its socket and
  PostgreSQL frees the lock at once;
* a process cut off from the database (network, a hung host) is cut off by
  PostgreSQL itself: the lock connection runs with ``idle_session_timeout =
  ha.lease_s``, so a session that sends nothing for that long is ended and its
  lock freed. The active sends a keepalive query every ``ha.keepalive_s`` and
  steps down when none has been answered for ``lease_s / 2``: it has let go
  before PostgreSQL hands the lock to anyone else;
* a database restart ends every session: the active steps down at its next
  keepalive and everyone competes again.

With an :class:`~ccserver.fence.AsteriskFence` (what ``ccserver run`` uses),
losing the lock does not by itself stop the active: while every Asterisk node
still names it (no other process has claimed them), it routes on and tries to
take the lock back, so a database outage does not leave callers unrouted; a
standby claims the nodes and waits before it routes, so the old active reads
the claim and steps down first (``fence.py``).

Who holds the lock is read from PostgreSQL too (``pg_locks`` joined with
``pg_stat_activity``: the holder's ``application_name`` is ``ccserver:NAME``),
so a standby names the active without a table that could say something stale.

:class:`Leadership` is the loop around it: stand by, take the lock, start the
active part (an :class:`ActivePart`, built fresh for each term), hold the lock,
and on losing it stop the active part at once and stand by again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url

from .fence import AsteriskFence

log = logging.getLogger(__name__)

APP_PREFIX = "ccserver:"
# what a lock connection may raise when the database goes away under it (a query in
# flight on a connection being torn down is asyncpg's InternalClientError)
_DB_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
_CONNECT_S = 5.0  # connecting to PostgreSQL may take this long before it counts as down


def asyncpg_dsn(url: str) -> str:
    """The asyncpg DSN of a ``postgresql+asyncpg://`` store URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class LeaderLock:
    """The advisory lock on its own PostgreSQL connection."""

    def __init__(
        self,
        url: str,
        key: int,
        name: str,
        *,
        keepalive_s: float = 1.0,
        lease_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self.key = key
        self.name = name
        self.keepalive_s = keepalive_s
        self.lease_s = lease_s
        self._clock = clock
        self._conn: asyncpg.Connection | None = None
        self.held = False
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def backend_pid(self) -> int | None:
        """The lock session's PostgreSQL process id (to find it in ``pg_stat_activity``)."""
        return self._conn.get_server_pid() if self.connected and self._conn else None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        self._conn = await asyncpg.connect(
            self._dsn,
            timeout=_CONNECT_S,
            server_settings={
                "application_name": (APP_PREFIX + self.name)[:63],
                # PostgreSQL ends a silent session, freeing its lock (see the module's doc)
                "idle_session_timeout": str(int(self.lease_s * 1000)),
            },
        )
        return self._conn

    async def try_take(self) -> bool:
        """Try the lock once; False while another process holds it or the database is away."""
        try:
            async with asyncio.timeout(_CONNECT_S):
                conn = await self._connection()
                self.held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except _DB_ERRORS as exc:
            self._note(exc)
            await self.close()
            return False
        self.last_error = None
        return self.held

    async def hold(self) -> None:
        """Keep the lock alive; return as soon as it may be lost.

        Lost means: the connection failed or closed, a keepalive failed, or
        none has been answered for ``lease_s / 2``. The connection is closed
        then, so the lock is surely freed on the server side too.
        """
        assert self.held, "hold() without the lock"
        deadline = self.lease_s / 2
        last_ok = self._clock()
        # a connection that drops (killed backend, database restart) is seen at once,
        # not at the next keepalive
        dropped = asyncio.Event()
        if self._conn is not None:
            self._conn.add_termination_listener(lambda _conn: dropped.set())
        try:
            while True:
                conn = self._conn
                if conn is None or conn.is_closed():
                    self._note(ConnectionError("the lock connection closed"))
                    return
                left = deadline - (self._clock() - last_ok)
                if left <= 0:
                    self._note(TimeoutError(f"no answer for {deadline:.1f} s"))
                    return
                try:
                    async with asyncio.timeout(left):
                        # the lock is checked, not only the link: pg_locks says it is still ours
                        mine = await conn.fetchval(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND pid = pg_backend_pid() AND granted"
                            " AND ((classid::bigint << 32) | objid::bigint) = $1",
                            self.key,
                        )
                except _DB_ERRORS as e:
                    self._note(e)
                    return
                if not mine:
                    self._note(RuntimeError("the lock is no longer held"))
                    return
                last_ok = self._clock()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.keepalive_s):
                        await dropped.wait()
        finally:
            self.held = False
            await self.close()

    async def keep_alive(self, done: asyncio.Event) -> None:
        """A keepalive every ``keepalive_s`` until ``done`` (never cut off mid-query, so
        the connection is left with nothing in flight).

        For the takeover: starting the active part (a resync of every node, the floor
        restored from the store) may take longer than ``lease_s``, and PostgreSQL
        would end the silent session, lock and all, just as the process became active.
        A failure ends this quietly: :meth:`hold`, next, finds the lock lost.
        """
        while self._conn is not None and not self._conn.is_closed():
            try:
                async with asyncio.timeout(self.keepalive_s + 1):
                    await self._conn.fetchval("SELECT 1")
            except _DB_ERRORS as exc:
                self._note(exc)
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.keepalive_s):
                    await done.wait()
            if done.is_set():
                return

    async def leader(self) -> str | None:
        """The name of the process holding the lock now (None: nobody, or unknown)."""
        if not self.connected or self._conn is None:
            return None
        try:
            async with asyncio.timeout(self.keepalive_s + 1):
                app = await self._conn.fetchval(
                    "SELECT a.application_name FROM pg_locks l"
                    " JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted"
                    " AND l.database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
                    self.key,
                )
        except _DB_ERRORS as exc:
            self._note(exc)
            return None
        if isinstance(app, str) and app.startswith(APP_PREFIX):
            return app[len(APP_PREFIX) :]
        return None

    async def close(self) -> None:
        """Close the connection: PostgreSQL frees the lock with the session."""
        conn, self._conn = self._conn, None
        self.held = False
        if conn is not None and not conn.is_closed():
            try:
                async with asyncio.timeout(2):
                    await conn.close()
            except Exception:  # a dead link: drop it without the goodbye
                conn.terminate()

    def _note(self, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if first != self.last_error:
            log.warning("ha: lock connection: %s", first)
        self.last_error = first


class ActivePart(Protocol):
    """What runs only on the active process (in ccserver: a whole :class:`~ccserver.app.Server`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Leadership:
    """One process's part in active/standby: stand by, take over, step down, again.

    ``make_active`` builds a fresh active part for each term, so a process that
    stepped down starts its next term exactly as a fresh start does.
    ``on_standby`` is awaited after each term (and after a failed start) to
    bring back what a standby serves.
    """

    def __init__(
        self,
        lock: LeaderLock,
        make_active: Callable[[], ActivePart],
        *,
        retry_s: float = 1.0,
        on_standby: Callable[[], Awaitable[None]] | None = None,
        fence: AsteriskFence | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = lock
        self.fence = fence
        self.make_active = make_active
        self.retry_s = retry_s
        self.on_standby = on_standby
        self.clock = clock
        self.role = "standby"
        self.active: ActivePart | None = None
        self.leader: str | None = None  # the active process's name, as last seen
        self.since: float | None = None  # this process active since (epoch s)
        self.terms = 0  # times this process became active
        self.step_downs = 0  # times it lost the lock while active
        self.takeover_s: float | None = None  # lock taken -> active part started, last term
        self.started_failed = 0
        self.fenced = False  # active on Asterisk's word alone: the database lock is lost
        self.fenced_terms = 0  # times the lock was lost while Asterisk still named us
        self._claim_error: str | None = None  # why the last claim failed (logged once)

    async def run(self) -> None:
        """Until cancelled: stand by, and be active whenever the lock is ours."""
        try:
            while True:
                try:
                    if not await self.lock.try_take():
                        self.leader = await self.lock.leader()
                        await asyncio.sleep(self.retry_s)
                        continue
                    await self._term()
                except Exception:  # a bug must not leave the process neither active nor trying
                    log.exception("ha: the active/standby loop failed; standing by")
                    await self._stop_active()
                    await self.lock.close()
                    await asyncio.sleep(self.retry_s)
        finally:
            await self._stop_active()
            await self.lock.close()

    async def _term(self) -> None:
        """One term as the active process: start, hold the lock, step down when it goes."""
        took = time.monotonic()
        if self.fence is not None:
            if not await self.fence.claim():
                if self.fence.last_error != self._claim_error:  # once a cause, not every retry
                    log.error(
                        "ha: %s holds the lock but cannot claim Asterisk (%s): giving the lock"
                        " back, standing by", self.lock.name, self.fence.last_error,
                    )  # fmt: skip
                self._claim_error = self.fence.last_error
                await self.lock.close()
                await asyncio.sleep(self.retry_s)
                return
            self._claim_error = None
        log.warning("ha: %s holds the lock: taking over", self.lock.name)
        failed = await self._start_active()
        if failed is not None:
            self.started_failed += 1
            first = (str(failed).strip().splitlines() or [type(failed).__name__])[0]
            log.error("ha: cannot start as the active process: %s; standing by", first)
            self.active = None  # a failed start stopped what it started
            if self.fence is not None:
                await self.fence.close()
            self.role, self.leader = "standby", None
            await self.lock.close()  # another process may do better
            if self.on_standby is not None:
                await self.on_standby()
            await asyncio.sleep(self.retry_s)
            return
        self.terms += 1
        self.since = self.clock()
        self.takeover_s = time.monotonic() - took
        log.warning("ha: active (started in %.2f s)", self.takeover_s)
        while True:
            await self.lock.hold()
            if not await self._hold_on_asterisk():
                break
        # the lock may be another's already: stop driving Asterisk before anything else
        log.error("ha: lost the lock (%s): stepping down", self.lock.last_error)
        self.step_downs += 1
        await self._stop_active()
        if self.on_standby is not None:
            await self.on_standby()
        # the lock was lost here, perhaps for a flaky link: a standby goes first
        await asyncio.sleep(self.lock.lease_s)

    async def _start_active(self) -> Exception | None:
        """Start this term's active part, the lock kept alive meanwhile; why it failed, if so.

        A takeover (the fence's settle time, a resync of every node, the floor read
        from the store) may outlast ``lease_s``: a silent lock session would be ended
        by PostgreSQL just as the process became active.
        """
        done = asyncio.Event()
        keeping = asyncio.create_task(self.lock.keep_alive(done), name="ha.takeover-keepalive")
        try:
            if self.fence is not None:
                # whoever was active may still be routing until it reads the claim
                await asyncio.sleep(self.fence.settle_s)
            part = self.make_active()
            self.active, self.role, self.leader = part, "active", self.lock.name
            await part.start()
        except Exception as exc:
            return exc
        finally:
            done.set()
            await keeping
        return None

    async def _hold_on_asterisk(self) -> bool:
        """The database lock is lost: route on while Asterisk names this process.

        True once the lock is ours again (the term goes on); False to step down:
        another process claimed Asterisk, or Asterisk cannot be asked (see
        ``fence.py``). Each round is bounded by ``check_s``, so a claim made
        ``settle_s`` before another process routes is always read in time.
        """
        fence = self.fence
        if fence is None or not await fence.mine():
            return False
        log.error(
            "ha: lost the database lock (%s); Asterisk still names %s: routing on",
            self.lock.last_error, self.lock.name,
        )  # fmt: skip
        self.fenced, self.fenced_terms = True, self.fenced_terms + 1
        try:
            while True:
                await asyncio.sleep(fence.check_s / 2)
                if not await fence.mine():
                    return False
                try:
                    taken = await asyncio.wait_for(self.lock.try_take(), fence.check_s / 2)
                except TimeoutError:
                    await self.lock.close()
                    continue
                if taken:
                    if await fence.mine():  # nobody claimed Asterisk meanwhile
                        log.warning("ha: the database lock is %s's again", self.lock.name)
                        return True
                    await self.lock.close()
                    return False
        finally:
            self.fenced = False

    async def _stop_active(self) -> None:
        part, self.active = self.active, None
        self.role, self.since = "standby", None
        if self.leader == self.lock.name:
            self.leader = None
        if part is not None:
            await part.stop()
        if self.fence is not None:
            await self.fence.close()

    def details(self) -> dict[str, Any]:
        """For /healthz: this process, its role, the active one."""
        return {
            "name": self.lock.name,
            "role": self.role,
            "active": self.leader,
            "active_since": self.since,
            "terms": self.terms,
            "step_downs": self.step_downs,
            "takeover_s": None if self.takeover_s is None else round(self.takeover_s, 3),
            "lock_connected": self.lock.connected,
            "fenced": self.fenced,
            "fenced_terms": self.fenced_terms,
            "lock_error": self.lock.last_error,
        }


async def stop_leadership(task: asyncio.Task[None]) -> None:
    """Cancel the leadership loop and wait for it: it stops the active part on its way out."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
