"""Event ids, id conflicts, bursts and agent states, on SQLite and on PostgreSQL.

Every test here runs against both databases (the writer has one code path per
dialect): replays are silent duplicates, a reused id is a logged conflict, a
restart within the same second loses nothing, and ``agent_states`` follows the
latest ``acd.agent_state`` event in the same transaction as the events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import (
    EventWriter,
    Spool,
    StoredAgentState,
    agent_states,
    call_events,
    load_agent_states,
    spool_path,
    upgrade_database,
)
from ccserver.store.writer import _encode
from contracts.ids import unique_ids
from contracts.sink import CallEvent
from ivr.caller import EventIds

T0 = 1_700_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    else:
        url = str(request.getfixturevalue("pg_url"))
    await asyncio.to_thread(upgrade_database, url)
    return url


async def query(url: str, sql: Any) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sql)
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


async def stored_ids(url: str) -> list[str]:
    return [r.id for r in await query(url, select(call_events.c.id).order_by(call_events.c.seq))]


async def states(url: str) -> dict[str, StoredAgentState]:
    engine = create_async_engine(url)
    try:
        return await load_agent_states(engine)
    finally:
        await engine.dispose()


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def write(url: str, events: Iterable[CallEvent], **kwargs: Any) -> EventWriter:
    """One writer's life: start, emit, stop (which writes everything)."""
    writer = EventWriter(url, flush_interval_s=0.01, **kwargs)
    await writer.start()
    for e in events:
        writer.emit(e)
    await writer.stop()
    return writer


def ev(id_: str, n: int, kind: str = "test.event", call: str | None = None) -> CallEvent:
    return CallEvent(id_, T0 + n, call or f"call-{n}", kind, {"n": n})


def state(
    id_: str,
    agent: str,
    st: str,
    at: float,
    code: str | None = None,
    until: float | None = None,
) -> CallEvent:
    data = {"reason": "test", "agent": agent, "state": st, "code": code, "until": until}
    return CallEvent(id_, at, "", "acd.agent_state", data)


# --- ids and conflicts ------------------------------------------------------------


async def test_replays_are_duplicates_not_conflicts(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = [ev(f"ev-{n}", n) for n in range(1000)]
    first = await write(db_url, events, batch_size=300, spool_dir=tmp_path / "spool")
    assert first.conflicts == 0 and first.duplicates == 0
    # the same events again through a new writer (a re-sent backlog), one of them twice
    with caplog.at_level(logging.ERROR):
        again = await write(db_url, [*events, events[7]], batch_size=400)
    assert again.written == 1001 and again.duplicates == 1001 and again.conflicts == 0
    assert "not stored" not in caplog.text
    assert sorted(await stored_ids(db_url)) == sorted(e.id for e in events)

    # a crash after a commit, before the checkpoint moved: the spool replays them
    spool = Spool(spool_path(tmp_path / "spool", db_url))
    spool.open()
    spool.append("".join(_encode(n + 1, e)[1] for n, e in enumerate(events[:600])).encode())
    spool.close()
    with caplog.at_level(logging.ERROR):
        replay = await write(db_url, [], spool_dir=tmp_path / "spool")
    assert replay.written == 600 and replay.duplicates == 600 and replay.conflicts == 0
    assert "not stored" not in caplog.text and len(await stored_ids(db_url)) == 1000


async def test_an_id_reused_by_another_event_is_a_logged_conflict(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = EventWriter(db_url, flush_interval_s=0.01)
    await writer.start()
    writer.emit(ev("acd-1700000000-1", 1, "acd.offer"))
    await wait_for(lambda: writer.written == 1)
    with caplog.at_level(logging.ERROR):
        # another process whose clock-based prefix was the same: another event, same id
        writer.emit(ev("acd-1700000000-1", 2, "acd.queued"))
        writer.emit(ev("acd-1700000000-2", 3, "acd.queued"))
        await wait_for(lambda: writer.written == 3)
    assert writer.conflicts == 1 and writer.duplicates == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "1 events of a batch of 2" in errors[0].getMessage()
    assert "acd-1700000000-1" in errors[0].getMessage()
    # and inside one batch: the second of two different events with one id
    writer.emit(ev("ivr-9-1", 4, "ivr.node"))
    writer.emit(ev("ivr-9-1", 5, "ivr.input"))
    await writer.stop()
    assert writer.conflicts == 2
    rows = await query(db_url, select(call_events.c.id, call_events.c.kind))
    assert ("acd-1700000000-1", "acd.offer") in [tuple(r) for r in rows] and len(rows) == 3


async def test_a_restart_within_the_same_second_stores_every_event(db_url: str) -> None:
    # the app builds EventIds(f"ivr-{int(clock())}"): two runs that start in one second
    second = int(T0)
    runs = [EventIds(f"ivr-{second}"), EventIds(f"ivr-{second}")]
    ids = [[run() for _ in range(500)] for run in runs]
    assert ids[0][0].startswith(f"ivr-{second}-") and not set(ids[0]) & set(ids[1])
    written = []
    for run_ids in ids:
        writer = await write(db_url, [ev(i, n) for n, i in enumerate(run_ids)], batch_size=128)
        written.append(writer)
    assert all(w.conflicts == 0 and w.duplicates == 0 for w in written)
    assert sorted(await stored_ids(db_url)) == sorted(ids[0] + ids[1])


@pytest.mark.postgres
async def test_two_writers_at_once_with_their_own_id_factories(pg_url: str) -> None:
    # PostgreSQL only: SQLite (the demo's store) is not for two concurrent writers
    db_url = pg_url
    await asyncio.to_thread(upgrade_database, db_url)
    factories = [unique_ids("acd"), unique_ids("acd")]
    writers = [EventWriter(db_url, batch_size=200, flush_interval_s=0.01) for _ in factories]
    for w in writers:
        await w.start()
    emitted: list[str] = []
    for n in range(2000):
        for w, next_id in zip(writers, factories, strict=True):
            e = ev(next_id(), n)
            w.emit(e)
            emitted.append(e.id)
        if n % 100 == 0:
            await asyncio.sleep(0)
    for w in writers:
        await w.stop()
    assert sum(w.written for w in writers) == 4000
    assert all(w.conflicts == 0 and w.dropped == 0 for w in writers)
    stored = await stored_ids(db_url)
    assert len(stored) == len(set(stored)) == 4000 and set(stored) == set(emitted)


# --- agent states -----------------------------------------------------------------


async def test_agent_states_keep_the_latest_event_per_agent(db_url: str) -> None:
    events = [
        state("s1", "1001", "available", T0 + 1),
        state("s2", "1001", "offered", T0 + 2),
        state("s3", "1002", "not_ready", T0 + 3, code="lunch", until=T0 + 1800.5),
        state("s4", "1001", "on_call", T0 + 4),
        # one timestamp, two events: the later one (seq) wins
        state("s5", "1003", "on_call", T0 + 5),
        state("s6", "1003", "wrap_up", T0 + 5),
        # not a state: stored as an event, agent_states unchanged
        state("s7", "1004", "dancing", T0 + 6),
        CallEvent("s8", T0 + 7, "", "acd.agent_state", {"agent": None, "state": "available"}),
    ]
    writer = await write(db_url, events[:3], batch_size=2)
    assert writer.conflicts == 0
    await write(db_url, events[3:])
    got = await states(db_url)
    assert got == {
        "1001": StoredAgentState("1001", "on_call", None, T0 + 4, None),
        "1002": StoredAgentState("1002", "not_ready", "lunch", T0 + 3, T0 + 1800.5),
        "1003": StoredAgentState("1003", "wrap_up", None, T0 + 5, None),
    }
    assert len(await stored_ids(db_url)) == 8

    # a replay of older events (a spool replay, a re-sent batch) overwrites nothing,
    # while a newer event still does
    await write(db_url, [events[0], events[2], state("s9", "1002", "available", T0 + 2)])
    assert await states(db_url) == got
    await write(db_url, [state("s10", "1002", "logged_out", T0 + 10)])
    assert (await states(db_url))["1002"] == StoredAgentState(
        "1002", "logged_out", None, T0 + 10, None
    )


async def test_a_refused_event_leaves_no_agent_state_behind(db_url: str) -> None:
    # the database refuses one event: its batch rolls back, state rows included
    if db_url.startswith("sqlite"):
        poison = (
            "CREATE TRIGGER poison BEFORE INSERT ON call_events WHEN NEW.call_id = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
    else:
        poison = "ALTER TABLE call_events ADD CONSTRAINT poison CHECK (call_id <> 'poison')"
    await query(db_url, text(poison))
    refused = CallEvent(
        "p-2", T0 + 2, "poison", "acd.agent_state", {"agent": "2002", "state": "available"}
    )
    events = [state("p-1", "2001", "available", T0 + 1), refused, ev("p-3", 3)]
    writer = await write(db_url, events, batch_size=100)
    assert writer.dropped == 1
    assert sorted(await stored_ids(db_url)) == ["p-1", "p-3"]
    assert set(await states(db_url)) == {"2001"}


async def test_agent_states_and_events_commit_together(db_url: str) -> None:
    # the state table is gone: the whole batch fails and is retried, events included
    await query(db_url, text("ALTER TABLE agent_states RENAME TO agent_states_away"))
    writer = EventWriter(db_url, flush_interval_s=0.01, retry_max_s=0.05)
    await writer.start()
    try:
        writer.emit(ev("t-1", 1))
        writer.emit(state("t-2", "3001", "not_ready", T0 + 2, code="break"))
        await wait_for(lambda: writer.failures >= 2)
        assert writer.written == 0 and await stored_ids(db_url) == []
        await query(db_url, text("ALTER TABLE agent_states_away RENAME TO agent_states"))
        await wait_for(lambda: writer.written == 2)
    finally:
        await writer.stop()
    assert await stored_ids(db_url) == ["t-1", "t-2"]
    assert (await states(db_url))["3001"].reason == "break"
    rows = await query(db_url, select(agent_states.c.agent_id, agent_states.c.seq))
    assert [tuple(r) for r in rows] == [("3001", 2)]
