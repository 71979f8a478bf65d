"""``report_queues`` (migration 0012): the queue names a month's queue report reads.

The projector names each queue its calls were answered or abandoned in; the
migration fills the names in from the calls already projected. The queue report
summed by PostgreSQL is the on-demand fold's, and stays so when a name is
missing (it then finds the name in its IVR scan and sums the calls again).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from support import write_events

from ccserver.bench import reports as bench
from ccserver.reporting.projector import ReportProjector
from ccserver.reporting.source import ReportRequest, build_report
from ccserver.store import upgrade_database
from ccserver.store.schema import call_records, report_queues
from contracts.sink import CallEvent

START = datetime(2026, 11, 3, tzinfo=UTC).timestamp()
DAYS = 2


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path("ccserver/migrations").resolve()))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    (command.downgrade if down else command.upgrade)(cfg, revision)


async def write(url: str, events: list[CallEvent]) -> None:
    await write_events(url, events, batch_size=1000)


async def named(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(report_queues.c.queue))).scalars())


async def queues_of_calls(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(call_records.c.queue).distinct())
        return {q for q in rows.scalars() if q is not None}


def thresholds(queue: str) -> float:
    return {"general": 20.0, "billing": 30.0}.get(queue, 15.0)


async def same_report(engine: AsyncEngine) -> None:
    end = START + DAYS * 86400
    req = ReportRequest("queues", START, end, 1800, "abandons_against")
    projected = await build_report(engine, req, thresholds, now=end, projection=True)
    folded = await build_report(engine, req, thresholds, now=end, projection=False)
    for a, b in zip(projected, folded, strict=True):
        assert a == b, {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert len(projected) > DAYS * 24
    # the per-queue thresholds were applied: 30 s in billing, 15 s in tech
    assert {r["queue"] for r in projected} == {"*", *bench.QUEUES}


def more_calls() -> list[CallEvent]:
    """A day after the others (ids of their own)."""
    later = bench.hotline_events(1, 100, seed=5, start=START + DAYS * 86400)
    return [
        CallEvent(f"x-{e.id}", e.at, f"x-{e.call_id}" if e.call_id else "", e.kind, e.data)
        for e in later
    ]


async def check(url: str) -> None:
    await asyncio.to_thread(upgrade_database, url)
    events = list(bench.hotline_events(DAYS, 200, seed=4, start=START))
    first, rest = events[: len(events) // 2], events[len(events) // 2 :]
    await write(url, first)
    engine = create_async_engine(url)
    try:
        await ReportProjector(engine, batch_size=500).catch_up()
        assert await named(engine) == await queues_of_calls(engine) == set(bench.QUEUES)

        # a store with calls projected before 0012: the migration names their queues
        await asyncio.to_thread(migrate, url, "0011", down=True)
        await asyncio.to_thread(migrate, url, "0012")
        assert await named(engine) == set(bench.QUEUES)
        await write(url, rest)
        await ReportProjector(engine, batch_size=700).catch_up()
        if engine.dialect.name == "postgresql":
            await same_report(engine)

        # a name missing (rows projected without it): the report is the fold's all the same
        async with engine.begin() as conn:
            await conn.execute(delete(report_queues).where(report_queues.c.queue == "billing"))
        if engine.dialect.name == "postgresql":
            await same_report(engine)
        # a projector names the queue again when its calls land
        await write(url, more_calls())
        await ReportProjector(engine, batch_size=500).catch_up()
        assert await named(engine) == set(bench.QUEUES)
    finally:
        await engine.dispose()


async def test_report_queues_sqlite(tmp_path: Path) -> None:
    await check(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")


@pytest.mark.postgres
async def test_report_queues_postgres(pg_url: str) -> None:
    await check(pg_url)
