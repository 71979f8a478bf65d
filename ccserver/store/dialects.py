"""How a batch of records goes into each database, idempotently, conflicts classified.

PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT ...
SELECT`` into ``call_events`` (with ``ON CONFLICT (id) DO NOTHING`` for a
replay), in one transaction. SQLite (and any other database): one
``executemany`` INSERT. Both count the rows skipped as replays (duplicates)
and as id conflicts (see ``writer.py``), and upsert the batch's agent states
in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg.exceptions as pg_errors
import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from .agent_states import UPSERT_PG, StateRow, pg_upsert_args, upsert_sqlalchemy
from .codec import Record
from .schema import call_events

# errors about the rows themselves (SQLSTATE classes 22 and 23), not the connection
REFUSED = (
    pg_errors.DataError,
    pg_errors.IntegrityConstraintViolationError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    ValueError,  # SQLite: ``data`` that is not JSON
)

_STAGE = "ccserver_call_events_stage"
_COLUMNS = ("id", "at", "call_id", "kind", "data", "seq")
# a temporary table lives as long as the session (the pooled connection); its rows
# go at each commit, so a rolled-back or committed batch never leaks into the next
_STAGE_DDL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (LIKE call_events) ON COMMIT DELETE ROWS"
)
_INSERT_NEW = (
    f"INSERT INTO call_events ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM {_STAGE}"
)
_MERGE = _INSERT_NEW + " ON CONFLICT (id) DO NOTHING"
# after a merge that skipped rows: the staged rows whose id is stored for another
# event (a replayed event matches its own stored row and is not counted)
_CONFLICTS = (
    f"SELECT count(*) AS n, min(s.id) AS example FROM {_STAGE} s "
    "JOIN call_events c ON c.id = s.id "
    "WHERE c.kind <> s.kind OR c.call_id <> s.call_id OR c.at <> s.at"
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


async def copy_batch(engine: AsyncEngine, records: list[Record], states: list[StateRow]) -> Outcome:
    """PostgreSQL: COPY into the staging table, then merge, in one transaction."""
    rows = [
        (id_, datetime.fromtimestamp(at, UTC), call_id, kind, data, seq)
        for seq, id_, at, call_id, kind, data in records
    ]
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pg: Any = raw.driver_connection  # the asyncpg connection
        # three round trips for a new batch (one more for agent states, two more
        # for a replay): statements share one simple-protocol message where they
        # can, because while the event loop is busy taking events in, every
        # round trip also waits for its turn on the loop
        outcome = Outcome()
        try:
            await pg.execute("BEGIN" if raw.info.get(_STAGE) else f"BEGIN; {_STAGE_DDL}")
            await pg.copy_records_to_table(_STAGE, records=rows, columns=_COLUMNS)
            # a batch is almost always new: a plain INSERT is a third faster than
            # ON CONFLICT's speculative insertion; in a savepoint, so that a
            # replay that meets a known id falls back to the idempotent merge
            try:
                await pg.execute(f"SAVEPOINT fresh; {_INSERT_NEW}" + ("" if states else "; COMMIT"))
                done = not states
            except pg_errors.UniqueViolationError:
                status = await pg.execute(f"ROLLBACK TO SAVEPOINT fresh; {_MERGE}")
                skipped = len(records) - int(status.rsplit(" ", 1)[-1])
                if skipped > 0:
                    found = await pg.fetchrow(_CONFLICTS)
                    conflicts = int(found["n"])
                    outcome = Outcome(skipped - conflicts, conflicts, found["example"])
                done = False
            if not done:
                if states:
                    await pg.execute(UPSERT_PG, *pg_upsert_args(states))
                await pg.execute("COMMIT")
            raw.info[_STAGE] = True
        except BaseException:
            # SQLAlchemy did not see this failure: make sure a broken connection
            # (the server restarted) is not handed out again
            await conn.invalidate()
            raise
        return outcome


async def insert_batch(
    engine: AsyncEngine, records: list[Record], states: list[StateRow]
) -> Outcome:
    """SQLite (and any other database): one executemany INSERT, conflicts classified."""
    rows = [
        {
            "id": id_,
            "at": datetime.fromtimestamp(at, UTC),
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
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
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
