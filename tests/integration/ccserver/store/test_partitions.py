"""The event log partitioned by month (PostgreSQL), retention, and the same on SQLite.

Migration 0010 turns ``call_events`` into monthly partitions keyed by (id, at)
and moves the stored rows over; the writer keeps the coming months' partitions
and drops months past ``retention_months``; SQLite has no partitions and
deletes old rows instead.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import EventWriter, Spool, spool_path, upgrade_database
from ccserver.store.codec import encode_line
from ccserver.store.partitions import (
    add_months,
    delete_rows_before,
    ensure_month_partitions,
    month_start,
    partition_name,
)
from contracts.sink import CallEvent

THIS_MONTH = month_start(datetime.now(UTC))


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Alembic up (or down) to ``revision`` (``upgrade_database`` goes to the newest only)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path("ccserver/migrations").resolve()))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    (command.downgrade if down else command.upgrade)(cfg, revision)


async def sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()


async def partitions(url: str) -> set[str]:
    rows = await sql(
        url,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'call_events'::regclass",
    )
    return {r[0] for r in rows}


async def index_names(url: str) -> set[str]:
    rows = await sql(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'call_events'")
    return {r[0] for r in rows}


async def where_stored(url: str) -> dict[str, str]:
    """Event id -> the partition its row is in."""
    rows = await sql(url, "SELECT id, tableoid::regclass::text FROM call_events")
    return {r[0]: r[1] for r in rows}


def at_month(month: datetime, day: int = 10) -> float:
    return month.replace(day=day, hour=12).timestamp()


def ev(id_: str, at: float, kind: str = "test.event") -> CallEvent:
    return CallEvent(id_, at, "call-1", kind, {"id": id_})


async def write(url: str, events: list[CallEvent], **kwargs: Any) -> EventWriter:
    writer = EventWriter(url, flush_interval_s=0.01, **kwargs)
    await writer.start()
    for e in events:
        writer.emit(e)
    await writer.stop()
    return writer


@pytest.mark.postgres
async def test_the_migration_partitions_the_log_and_keeps_its_rows(pg_url: str) -> None:
    await asyncio.to_thread(migrate, pg_url, "0009")
    old_month = add_months(THIS_MONTH, -5)
    insert = (
        "INSERT INTO call_events (id, at, call_id, kind, data, seq) "
        "VALUES (:id, :at, 'c', 'k', '{\"a\": \"b\\\\c\"}', :seq)"
    )
    for seq, (id_, at) in enumerate(
        [("old", at_month(old_month)), ("now", at_month(THIS_MONTH, 1)), ("x", 0.0)], start=1
    ):
        await sql(pg_url, insert, id=id_, at=datetime.fromtimestamp(at, UTC), seq=seq)
    indexes_before = await index_names(pg_url)
    await asyncio.to_thread(upgrade_database, pg_url)

    # partitioned by month, the indexes kept (whichever migration made them)
    kind = await sql(pg_url, "SELECT relkind::text FROM pg_class WHERE relname = 'call_events'")
    assert kind == [("p",)]
    assert await index_names(pg_url) == indexes_before - {"call_events_pkey"}
    assert {"ix_call_events_call_id", "ix_call_events_at"} <= indexes_before
    # the months that hold rows, this month and three ahead, and the default one
    expected = {partition_name("call_events", add_months(THIS_MONTH, n)) for n in range(4)}
    expected |= {"call_events_p197001", partition_name("call_events", old_month)}
    assert await partitions(pg_url) == expected | {"call_events_default"}
    # every row moved over, into its month
    assert await where_stored(pg_url) == {
        "old": partition_name("call_events", old_month),
        "now": partition_name("call_events", THIS_MONTH),
        "x": "call_events_p197001",
    }
    # each partition keeps the id unique (a key of the parent would have to hold ``at``)
    for name in await partitions(pg_url):
        unique = await sql(
            pg_url,
            "SELECT indexdef FROM pg_indexes WHERE tablename = :t AND indexdef LIKE '%UNIQUE%'",
            t=name,
        )
        assert [u[0].split(" USING ")[1] for u in unique] == ["btree (id)"]
    data = await sql(pg_url, "SELECT data::text FROM call_events WHERE id = 'old'")
    assert data == [('{"a": "b\\\\c"}',)]
    old_table = await sql(pg_url, "SELECT to_regclass('call_events_old')::text")
    assert old_table == [(None,)]

    # and back: one plain table keyed by id, the same rows and indexes; then forward again
    await asyncio.to_thread(migrate, pg_url, "0009", down=True)
    kind = await sql(pg_url, "SELECT relkind::text FROM pg_class WHERE relname = 'call_events'")
    assert kind == [("r",)] and await index_names(pg_url) == indexes_before
    assert sorted(await where_stored(pg_url)) == ["now", "old", "x"]
    await asyncio.to_thread(upgrade_database, pg_url)
    assert (await where_stored(pg_url))["old"] == partition_name("call_events", old_month)


@pytest.mark.postgres
async def test_an_event_lands_in_its_months_partition_and_a_new_month_takes_its_rows(
    pg_url: str,
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    far = add_months(THIS_MONTH, 8)  # beyond the months made ahead
    writer = await write(
        pg_url, [ev("now", at_month(THIS_MONTH)), ev("far", at_month(far))], batch_size=1
    )
    assert writer.written == 2 and writer.dropped == 0
    assert await where_stored(pg_url) == {
        "now": partition_name("call_events", THIS_MONTH),
        "far": "call_events_default",
    }
    # the maintenance, months later: the new month's partition takes its rows along
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            created = await conn.run_sync(ensure_month_partitions, "call_events", 0, now=far)
    finally:
        await engine.dispose()
    assert partition_name("call_events", far) in created
    assert (await where_stored(pg_url))["far"] == partition_name("call_events", far)


@pytest.mark.postgres
async def test_retention_drops_the_old_months_and_keeps_the_rest(pg_url: str) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            since = add_months(THIS_MONTH, -6)
            await conn.run_sync(ensure_month_partitions, "call_events", 3, since=since)
    finally:
        await engine.dispose()
    events = [ev(f"m{n}", at_month(add_months(THIS_MONTH, -n))) for n in range(7)]
    events.append(ev("ancient", 86_400.0))  # 1970: in the default partition
    await write(pg_url, events)
    assert len(await where_stored(pg_url)) == 8

    # keep three whole months: this one and the three before it stay
    writer = EventWriter(pg_url, retention_months=3)
    await writer.start()
    await writer.stop()
    assert writer.retention_removed == 3
    names = await partitions(pg_url)
    for n in range(4, 7):
        assert partition_name("call_events", add_months(THIS_MONTH, -n)) not in names
    for n in range(-3, 4):
        assert partition_name("call_events", add_months(THIS_MONTH, -n)) in names
    assert sorted(await where_stored(pg_url)) == ["m0", "m1", "m2", "m3"]


@pytest.mark.postgres
async def test_a_replayed_batch_is_stored_once_with_the_same_id_and_time(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    # a batch across two months, committed; then the same lines replayed from a spool
    events = [ev(f"e{n}", at_month(add_months(THIS_MONTH, -(n % 2)), 1 + n)) for n in range(20)]
    first = await write(pg_url, events, batch_size=20)
    assert first.written == 20 and first.duplicates == 0
    spool = Spool(spool_path(tmp_path, pg_url))
    spool.open()
    spool.append("".join(encode_line(n + 1, e) for n, e in enumerate(events)).encode())
    spool.close()
    replay = await write(pg_url, [], spool_dir=tmp_path)
    assert replay.duplicates == 20 and replay.conflicts == 0
    rows = await sql(pg_url, "SELECT id, count(*), min(at) = max(at) FROM call_events GROUP BY id")
    assert sorted(rows) == sorted((e.id, 1, True) for e in events)
    # and the same id at another time of its month (another event) is a conflict, not a row
    clash = await write(pg_url, [ev("e3", at_month(add_months(THIS_MONTH, -1), 5), "other")])
    assert clash.conflicts == 1
    assert (await sql(pg_url, "SELECT count(*) FROM call_events WHERE id = 'e3'")) == [(1,)]


async def test_sqlite_keeps_one_table_and_retention_deletes_old_rows(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    await asyncio.to_thread(upgrade_database, url)  # 0010 included: nothing to partition
    version = await sql(url, "SELECT version_num FROM alembic_version")
    assert version[0][0] >= "0010"
    events = [ev(f"m{n}", at_month(add_months(THIS_MONTH, -n))) for n in range(6)]
    await write(url, events)
    writer = EventWriter(url, retention_months=2)
    await writer.start()
    await writer.stop()
    assert writer.retention_removed == 3 and writer.partitions_created == 0
    rows = await sql(url, "SELECT id FROM call_events ORDER BY id")
    assert [r[0] for r in rows] == ["m0", "m1", "m2"]
    # in chunks: a delete larger than one chunk takes several
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            gone = await conn.run_sync(
                lambda c: delete_rows_before(
                    c, "call_events", "at", THIS_MONTH, chunk=1, commit_each=True
                )
            )
    finally:
        await engine.dispose()
    assert gone == 2
    assert [r[0] for r in await sql(url, "SELECT id FROM call_events")] == ["m0"]
