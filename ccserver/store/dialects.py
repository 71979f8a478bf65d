"""How a batch of records goes into each database, idempotently, conflicts classified.

PostgreSQL: ``COPY`` straight into ``call_events`` (partitioned by month, each
partition keeping ``id`` unique); a batch that meets a stored id (a replay, or
an id reused) goes through a temporary staging table and an ``INSERT ...
SELECT ... ON CONFLICT DO NOTHING`` instead, in one transaction. The writer's
usual batches go through ``copy_pipelined``: copied while the batch before
is still committing, on a second connection, committed only after it. SQLite (and
any other database): one ``executemany`` INSERT. Both count the rows skipped as replays (duplicates)
and as id conflicts (see ``writer.py``), and upsert the batch's agent states
in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg.exceptions as pg_errors
import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .agent_states import UPSERT_PG, StateRow, pg_upsert_args, upsert_sqlalchemy
from .codec import COPY_COLUMNS, Record
from .schema import call_events
from .values import chunks, utc

# errors about the rows themselves (SQLSTATE classes 22 and 23), not the connection
REFUSED = (
    pg_errors.DataError,
    pg_errors.IntegrityConstraintViolationError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    ValueError,  # SQLite: ``data`` that is not JSON
)

_STAGE = "ccserver_call_events_stage"
# a pipelined batch that waits this long for a lock gives up (and goes again, alone):
# it may be waiting on the batch after it (an id in both), which waits for it to commit
_PIPELINED_BEGIN = "BEGIN; SET LOCAL lock_timeout = '1s'"
_COLS = ", ".join(COPY_COLUMNS)
# what each partition of call_events keeps unique within itself (its own index;
# the partitioned table itself has no key, which would have to hold ``at``)
EVENT_UNIQUE = ("id",)
# a temporary table lives as long as the session (the pooled connection); its rows
# go at each commit, so a rolled-back or committed batch never leaks into the next
_STAGE_DDL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (LIKE call_events) ON COMMIT DELETE ROWS"
)
# the merge, for a batch that meets a stored id: each row whose id its partition
# does not hold yet, in emit order (so the first of two rows with one id wins)
_MERGE = (
    f"INSERT INTO call_events ({_COLS}) SELECT {_COLS} FROM {_STAGE} "
    "ORDER BY seq ON CONFLICT DO NOTHING"
)
# after a merge that skipped rows: the staged rows that match no stored event
# (the same id, time, kind and call) are id conflicts; the rest are in, or replays
_CONFLICTS = (
    "SELECT count(*) FILTER (WHERE NOT stored) AS n, "
    "min(id) FILTER (WHERE NOT stored) AS example FROM ("
    f"SELECT s.id, EXISTS (SELECT 1 FROM call_events c WHERE c.id = s.id AND c.at = s.at "
    f"AND c.kind = s.kind AND c.call_id = s.call_id) AS stored FROM {_STAGE} s) t"
)
# ids per SELECT when SQLite's skipped rows are classified
_LOOKUP_CHUNK = 500


@dataclass(slots=True)
class Outcome:
    """What one committed batch did: rows skipped as replays and as id conflicts."""

    duplicates: int = 0
    conflicts: int = 0
    example: str | None = None  # one conflicting id, for the log line

    def add(self, other: Outcome) -> Outcome:
        return Outcome(
            self.duplicates + other.duplicates,
            self.conflicts + other.conflicts,
            self.example or other.example,
        )


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def insert_for(engine: AsyncEngine) -> Callable[..., Any]:
    """The dialect's ``insert`` (both know ``on_conflict_do_nothing``)."""
    insert: Callable[..., Any] = (postgresql if is_postgres(engine) else sqlite).insert
    return insert


async def copy_batch(
    engine: AsyncEngine, blob: bytes, count: int, states: list[StateRow]
) -> Outcome:
    """PostgreSQL: ``count`` COPY lines straight into ``call_events``, in one transaction.

    A batch is nearly always new: it is copied into ``call_events`` itself,
    as the bytes the intake encoded (on its own, a COPY is one transaction;
    with agent states, it and their upsert share one). Each partition keeps
    ``id`` unique, so a replay (the same event, the same ``at``, the same
    partition) or an id reused within the month fails the COPY; then nothing
    was stored, and the batch takes the merge: COPY into a staging table, an
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, the skipped rows
    classified. The usual batch costs what a bare COPY costs.
    """
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pg: Any = raw.driver_connection  # the asyncpg connection
        # one round trip for a new batch (three with agent states): every round trip
        # also waits for its turn on the event loop, busy taking events in
        outcome = Outcome()
        try:
            try:
                if states:
                    await pg.execute("BEGIN")
                # a memoryview: asyncpg would take bytes for a file name
                await pg.copy_to_table(
                    "call_events", source=memoryview(blob), columns=COPY_COLUMNS, format="text"
                )
            except pg_errors.UniqueViolationError:
                outcome = await _merge(pg, blob, count, in_transaction=bool(states))
                states_done = False
            else:
                states_done = not states
            if not states_done:
                if states:
                    await pg.execute(UPSERT_PG, *pg_upsert_args(states))
                await pg.execute("COMMIT")
        except BaseException:
            # SQLAlchemy did not see this failure: make sure a broken connection
            # (the server restarted) is not handed out again
            await conn.invalidate()
            raise
        return outcome


async def copy_pipelined(
    conn: AsyncConnection,
    blob: bytes,
    states: list[StateRow],
    before: Callable[[], Awaitable[bool]],
) -> bool:
    """PostgreSQL: a new batch's COPY, committed once ``before()`` says the batch before is.

    The writer starts a batch while the one before it is still in flight,
    each on its own connection, so that PostgreSQL always has the next rows
    at hand: the COPY runs at once, the commit waits. Commits stay in seq
    order (a reader that follows ``seq``, like the report projector, never
    sees a later batch before an earlier one), and so do the agent states:
    they are upserted after the batch before is committed, so two batches
    never wait on each other's rows. Returns False (nothing stored) if the
    batch before was not committed; raises on any failure of its own
    (a stored id, refused data, a lock waited on too long, the connection),
    with nothing stored: the writer then writes the batch alone, with
    ``copy_batch``, which knows how to handle each. ``conn`` is the writer's
    for a run of batches (checked out once: each checkout would cost a
    ``ROLLBACK`` round trip when it goes back to the pool); a connection that
    failed mid-statement is invalidated.
    """
    raw = await conn.get_raw_connection()
    pg: Any = raw.driver_connection
    try:
        await pg.execute(_PIPELINED_BEGIN)
        await pg.copy_to_table(
            "call_events", source=memoryview(blob), columns=COPY_COLUMNS, format="text"
        )
        if not await before():
            await pg.execute("ROLLBACK")
            return False
        if states:
            await pg.execute(UPSERT_PG, *pg_upsert_args(states))
        await pg.execute("COMMIT")
        return True
    except pg_errors.PostgresError:
        # the server refused a statement; the connection itself is fine
        try:
            await pg.execute("ROLLBACK")
        except BaseException:
            await conn.invalidate()
            raise
        raise
    except BaseException:
        # cancelled or disconnected mid-statement: never hand this connection out again
        await conn.invalidate()
        raise


async def _merge(pg: Any, blob: bytes, count: int, *, in_transaction: bool) -> Outcome:
    """The batch again, through the staging table: only ids not stored; skipped ones classified.

    Leaves its transaction open, for the agent states and the commit.
    """
    # the failed COPY stored nothing (and aborted the transaction it was in)
    await pg.execute(("ROLLBACK; " if in_transaction else "") + f"BEGIN; {_STAGE_DDL}")
    await pg.copy_to_table(_STAGE, source=memoryview(blob), columns=COPY_COLUMNS, format="text")
    status = await pg.execute(_MERGE)
    skipped = count - int(status.rsplit(" ", 1)[-1])
    if skipped <= 0:
        return Outcome()
    found = await pg.fetchrow(_CONFLICTS)
    conflicts = int(found["n"])
    return Outcome(skipped - conflicts, conflicts, found["example"])


async def insert_batch(
    engine: AsyncEngine, records: list[Record], states: list[StateRow]
) -> Outcome:
    """SQLite (and any other database): one executemany INSERT, conflicts classified."""
    rows = [
        {
            "id": id_,
            "at": utc(at),
            "call_id": call_id,
            "kind": kind,
            "data": json.loads(data),
            "seq": seq,
        }
        for seq, id_, at, call_id, kind, data in records
    ]
    stmt = insert_for(engine)(call_events).on_conflict_do_nothing(index_elements=["id"])
    outcome = Outcome()
    async with engine.begin() as conn:
        result = await conn.execute(stmt, rows)
        if result.rowcount < len(rows):
            outcome = await _classify(conn, rows, len(rows) - result.rowcount)
        if states:
            await upsert_sqlalchemy(conn, states)
    return outcome


async def _classify(conn: Any, rows: list[dict[str, Any]], skipped: int) -> Outcome:
    """Which of a batch's rows were skipped as replays, which as id conflicts (SQLite)."""
    stored: dict[str, tuple[Any, ...]] = {}
    ids = list({row["id"] for row in rows})
    for chunk in chunks(ids, _LOOKUP_CHUNK):
        query = select(
            call_events.c.id, call_events.c.kind, call_events.c.call_id, call_events.c.at
        ).where(call_events.c.id.in_(chunk))
        for id_, kind, call_id, at in await conn.execute(query):
            stored[id_] = (kind, call_id, at.replace(tzinfo=None))
    conflicts = [
        row["id"]
        for row in rows
        if stored.get(row["id"]) != (row["kind"], row["call_id"], row["at"].replace(tzinfo=None))
    ]
    return Outcome(skipped - len(conflicts), len(conflicts), conflicts[0] if conflicts else None)
