"""``store.retention_months`` drops the reports' projection with the event log.

A month wholly older than the retention goes from ``call_events``,
``call_records`` and ``agent_intervals`` alike: on PostgreSQL as whole monthly
partitions (detached and dropped), on SQLite as rows. The months kept keep
every row, and the projector goes on from where it was.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from support import write_events

from ccserver.bench.reports import hotline_events
from ccserver.reporting.projector import ReportProjector
from ccserver.store import EventWriter, upgrade_database
from ccserver.store.partitions import add_months, month_start, partition_name
from ccserver.store.schema import call_records, metadata
from contracts.sink import CallEvent

THIS_MONTH = month_start(datetime.now(UTC))
MONTHS = 7  # this month and the six before it
CALLS = 12  # a day of calls in each month
TABLES = {"call_events": "at", "call_records": "started_at", "agent_intervals": "since_at"}


def months_of_calls() -> list[CallEvent]:
    """A day of a small hotline on the 10th of each month (ids told apart by month)."""
    events = []
    for n in range(MONTHS):
        day = add_months(THIS_MONTH, -n).replace(day=10).timestamp()
        for e in hotline_events(1, CALLS, seed=n, start=day):
            call = f"m{n}-{e.call_id}" if e.call_id else ""
            events.append(CallEvent(f"m{n}-{e.id}", e.at, call, e.kind, e.data))
    events.sort(key=lambda e: e.at)
    return events


async def write(url: str, events: list[CallEvent], **kwargs: int) -> EventWriter:
    return await write_events(url, events, batch_size=500, **kwargs)


async def months_stored(engine: AsyncEngine) -> dict[str, dict[datetime, int]]:
    """Per table: rows by the month (UTC) of the time it is kept by."""
    out: dict[str, dict[datetime, int]] = {}
    async with engine.connect() as conn:
        for table, column in TABLES.items():
            rows = await conn.execute(select(metadata.tables[table].c[column]))
            counts: dict[datetime, int] = {}
            for (at,) in rows:
                month = month_start(at)
                counts[month] = counts.get(month, 0) + 1
            out[table] = counts
    return out


async def project_then_retain(url: str) -> tuple[AsyncEngine, EventWriter]:
    await asyncio.to_thread(upgrade_database, url)
    await write(url, months_of_calls())
    engine = create_async_engine(url)
    assert await ReportProjector(engine).catch_up() > 0
    before = await months_stored(engine)
    for table in TABLES:
        assert len(before[table]) == MONTHS, (table, before[table])
    assert sum(before["call_records"].values()) == MONTHS * CALLS

    # keep three whole months: this one and the three before it stay
    writer = await write(url, [], retention_months=3)
    after = await months_stored(engine)
    kept = {add_months(THIS_MONTH, -n) for n in range(4)}
    for table in TABLES:
        assert set(after[table]) == kept, (table, sorted(after[table]))
        assert after[table] == {m: before[table][m] for m in kept}, table
    # the projector goes on: a later event of a kept call is folded in
    call = next(iter(await _call_ids(engine, add_months(THIS_MONTH, -1))))
    late = CallEvent("late-note", datetime.now(UTC).timestamp(), call, "call.note", {"text": "x"})
    await write(url, [late])
    assert await ReportProjector(engine).catch_up() == 1
    assert (await months_stored(engine))["call_records"] == after["call_records"]
    return engine, writer


async def _call_ids(engine: AsyncEngine, month: datetime) -> set[str]:
    async with engine.connect() as conn:
        started = call_records.c.started_at
        rows = await conn.execute(
            select(call_records.c.call_id).where(started >= month, started < add_months(month, 1))
        )
        return {r[0] for r in rows}


@pytest.mark.postgres
async def test_retention_drops_old_projection_partitions_postgres(pg_url: str) -> None:
    engine, writer = await project_then_retain(pg_url)
    try:
        projection = ("call_records", "agent_intervals")  # months made by the projector
        async with engine.connect() as conn:
            for table in projection:
                rows = await conn.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                        "ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
                    ),
                    {"t": table},
                )
                names = {r[0] for r in rows}
                for n in range(4, MONTHS):  # the old months' partitions are gone...
                    assert partition_name(table, add_months(THIS_MONTH, -n)) not in names
                for n in range(4):  # ...the kept ones are there
                    assert partition_name(table, add_months(THIS_MONTH, -n)) in names
        # three months of partitions dropped from each (the event log's old rows were
        # in its default partition: this writer makes months ahead only)
        assert writer.retention_removed == 3 * len(projection)
    finally:
        await engine.dispose()


async def test_retention_deletes_old_projection_rows_sqlite(tmp_path: Path) -> None:
    engine, writer = await project_then_retain(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    await engine.dispose()
    assert writer.retention_removed > 3 * CALLS  # rows, not partitions, on SQLite
