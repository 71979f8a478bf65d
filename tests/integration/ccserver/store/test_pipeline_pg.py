"""The event writer's pipeline on PostgreSQL: batches in flight two at a time, commits in order.

A batch is copied while the one before it is still committing, on a second
connection; it commits only after that one. What must hold: a reader that
follows ``seq`` never sees a later batch before an earlier one, and a batch
that fails in the pipeline (a stored id, a dropped connection) loses nothing,
neither its own events nor those of the batch in flight behind it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import (
    EventWriter,
    StoredAgentState,
    call_events,
    load_agent_states,
    upgrade_database,
)
from contracts.sink import CallEvent

pytestmark = pytest.mark.postgres

T0 = 1_700_000_000.0
AGENTS = ("1001", "1002", "1003")
STATES = ("available", "offered", "on_call", "wrap_up")


def event(n: int, prefix: str = "pl") -> CallEvent:
    """A channel fact, and every 25th event an agent state (the pipeline upserts those)."""
    if n % 25 == 0:
        agent, state = AGENTS[n // 25 % 3], STATES[n // 75 % 4]
        return CallEvent(
            f"{prefix}-{n:07d}", T0 + n / 1000, "", "acd.agent_state",
            {"agent": agent, "state": state, "code": None, "until": None},
        )  # fmt: skip
    return CallEvent(f"{prefix}-{n:07d}", T0 + n / 1000, f"call-{n // 20}", "channel.state",
                     {"channel": f"PJSIP/{1000 + n % 50}-{n:08x}", "n": n})  # fmt: skip


async def stored_ids(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(call_events.c.id).order_by(call_events.c.seq)
            return [r.id for r in await conn.execute(query)]
    finally:
        await engine.dispose()


async def emit_all(writer: EventWriter, events: list[CallEvent]) -> None:
    """Emit in slices of 500 with a turn of the event loop between (a backlog builds up)."""
    for i, e in enumerate(events):
        writer.emit(e)
        if i % 500 == 499:
            await asyncio.sleep(0)


async def until(predicate: Any, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_pipelined_batches_commit_in_seq_order_for_a_reader_following_seq(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    events = [event(n) for n in range(30_000)]
    writer = EventWriter(pg_url, batch_size=500, flush_interval_s=0.01, spool_dir=tmp_path)
    await writer.start()
    seen: list[tuple[int, int]] = []
    done = False

    async def reader() -> None:
        # one statement, one snapshot: with commits in seq order it always sees 1..max
        engine = create_async_engine(pg_url)
        try:
            async with engine.connect() as conn:
                while not done:
                    row = (
                        await conn.execute(
                            text("SELECT coalesce(max(seq), 0), count(*) FROM call_events")
                        )
                    ).one()
                    seen.append((int(row[0]), int(row[1])))
                    await conn.commit()
        finally:
            await engine.dispose()

    watcher = asyncio.create_task(reader())
    try:
        await emit_all(writer, events)
        await until(lambda: writer.written >= len(events))
    finally:
        done = True
        await watcher
        await writer.stop()
    assert [m for m, c in seen if m != c] == []  # never a later batch before an earlier one
    assert len({m for m, _ in seen if 0 < m < len(events)}) >= 3  # it did look mid-way
    assert await stored_ids(pg_url) == [e.id for e in events]
    assert writer.pipelined >= 30  # most of the 60 batches went through the pipeline
    assert writer.dropped == writer.duplicates == writer.conflicts == 0
    # agent states were upserted in order too: the last state of each agent wins
    last: dict[str, StoredAgentState] = {}
    for e in events:
        if e.kind == "acd.agent_state":
            agent = e.data["agent"]
            last[agent] = StoredAgentState(agent, e.data["state"], None, e.at, None)
    engine = create_async_engine(pg_url)
    try:
        assert await load_agent_states(engine) == last
    finally:
        await engine.dispose()


async def test_a_pipelined_batch_meeting_a_stored_id_loses_nothing_behind_it(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    events = [event(n) for n in range(10_000)]
    # one event of a batch in the middle is stored already (as after a crash)
    first = EventWriter(pg_url, spool_dir=tmp_path)
    await first.start()
    first.emit(events[5_250])
    await first.stop()
    writer = EventWriter(pg_url, batch_size=500, flush_interval_s=0.01, spool_dir=tmp_path)
    await writer.start()
    try:
        await emit_all(writer, events)
        await until(lambda: writer.written >= len(events))
    finally:
        await writer.stop()
    ids = await stored_ids(pg_url)
    assert sorted(ids) == [e.id for e in events] and len(ids) == len(set(ids))
    assert ids[1:] == [e.id for e in events if e is not events[5_250]]  # in emit order
    assert writer.duplicates == 1 and writer.conflicts == 0 and writer.dropped == 0
    assert writer.pipelined > 0 and writer.spool is not None and not writer.spool.path.exists()


async def test_one_id_in_two_adjacent_batches_in_flight_is_stored_once(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    events = [event(n) for n in range(5_000)]
    # some events again 300 events later: across a batch boundary for most of them (a
    # batch is 500 to 1,500 lines here), so that one batch in flight waits on an id of
    # the other; neither may hang, nor store it twice
    again = range(200, 4_200, 500)
    emitted = [
        x for n, e in enumerate(events) for x in [e, *[events[n - 300]] * (n - 300 in again)]
    ]
    writer = EventWriter(pg_url, batch_size=500, flush_interval_s=0.01, spool_dir=tmp_path)
    await writer.start()
    try:
        await emit_all(writer, emitted)
        await until(lambda: writer.written >= len(emitted), timeout=30)
    finally:
        await writer.stop()
    assert await stored_ids(pg_url) == [e.id for e in events]
    assert writer.duplicates == len(again) and writer.conflicts == 0 and writer.dropped == 0


async def test_connections_dropped_mid_pipeline_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    writer = EventWriter(
        pg_url, batch_size=300, flush_interval_s=0.01, retry_max_s=0.1, spool_dir=tmp_path
    )
    await writer.start()
    emitted: list[str] = []
    killed = 0
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as admin:
            n = 0
            while killed < 3:
                for _ in range(600):
                    e = event(n, "dr")
                    writer.emit(e)
                    emitted.append(e.id)
                    n += 1
                await asyncio.sleep(0)
                # the writer's sessions that are copying or waiting to commit a batch
                result = await admin.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND (query LIKE 'COPY%' OR query LIKE 'BEGIN; SET LOCAL%')"
                    )
                )
                killed += int(result.scalar_one())
                await admin.commit()
                assert n < 300_000, "no batch of the writer was ever seen in flight"
        await until(lambda: writer.written >= len(emitted))
    finally:
        await engine.dispose()
        await writer.stop()
    assert await stored_ids(pg_url) == emitted  # each once, in emit order
    assert writer.dropped == 0 and writer.conflicts == 0 and writer.healthy
