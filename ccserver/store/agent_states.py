"""Durable agent states: the latest ``acd.agent_state`` of each agent, in ``agent_states``.

The event writer keeps the table in the same transaction as the batch of
events it comes from (see ``writer.py``), so the table and the event log never
disagree; at start the server reads it back with :func:`load_agent_states`.

An ``acd.agent_state`` event's data has ``agent`` (the id), ``state`` (one of
``AGENT_STATES``), ``code`` (the reason code, or None) and ``until`` (epoch
seconds, or None); the event's ``at`` is the state's ``since``. The latest
event of an agent wins, by ``(at, seq)``: the upsert changes a row only for a
strictly later ``(since, seq)``, so replaying an older event (a spool replay,
a re-sent batch) never overwrites a newer state. An event whose data is not a
state (no agent, an unknown state) is still stored in the event log; it only
leaves ``agent_states`` alone, with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .schema import agent_states
from .values import epoch_or_none, utc

log = logging.getLogger(__name__)

AGENT_STATE_KIND = "acd.agent_state"
AGENT_STATES = frozenset({"logged_out", "available", "offered", "on_call", "wrap_up", "not_ready"})
_MAX_TEXT = 64  # agent_id and reason are String(64)
_MIN_AT, _MAX_AT = -62_135_596_800.0, 253_402_300_799.0  # what a timestamp column holds


@dataclass(frozen=True, slots=True)
class StoredAgentState:
    """One agent's last recorded state; times are epoch seconds (UTC)."""

    agent_id: str
    state: str
    reason: str | None
    since: float
    until: float | None


@dataclass(frozen=True, slots=True)
class StateRow:
    """A row to upsert, from one event (``seq`` breaks ties between equal ``since``)."""

    agent_id: str
    state: str
    reason: str | None
    since: float
    until: float | None
    seq: int

    @property
    def order(self) -> tuple[float, int]:
        return self.since, self.seq


def _state_row(seq: int, event_id: str, at: float, data_json: str) -> StateRow | None:
    """The row an ``acd.agent_state`` event stands for, or None (warned) if it is not one."""
    try:
        data: Any = json.loads(data_json)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning("agent state event %r has no data object; agent_states unchanged", event_id)
        return None
    agent, state = data.get("agent"), data.get("state")
    if not isinstance(agent, str) or not 0 < len(agent) <= _MAX_TEXT or state not in AGENT_STATES:
        log.warning(
            "agent state event %r: agent %.70r, state %.30r not storable; agent_states unchanged",
            event_id,
            agent,
            state,
        )
        return None
    code = data.get("code")
    reason = None if code is None or code == "" else str(code)[:_MAX_TEXT]
    return StateRow(agent, state, reason, at, _epoch(data.get("until")), seq)


def _epoch(value: Any) -> float | None:
    """Epoch seconds a timestamp column can hold, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int past float's range
        return None
    return seconds if _MIN_AT <= seconds <= _MAX_AT else None  # False for NaN too


def latest_states(records: Iterable[tuple[int, str, float, str, str, str]]) -> list[StateRow]:
    """The latest state row per agent among writer records ``(seq, id, at, call_id, kind, data)``.

    One row per agent, so one upsert statement never touches a row twice
    (PostgreSQL refuses that).
    """
    latest: dict[str, StateRow] = {}
    for seq, event_id, at, _call_id, kind, data in records:
        if kind != AGENT_STATE_KIND:
            continue
        row = _state_row(seq, event_id, at, data)
        if row is None:
            continue
        old = latest.get(row.agent_id)
        if old is None or old.order < row.order:
            latest[row.agent_id] = row
    return list(latest.values())


def _ts(seconds: float | None) -> datetime | None:
    return None if seconds is None else utc(seconds)


# PostgreSQL, on the writer's raw asyncpg connection (inside its COPY transaction):
# the rows as arrays, so one statement and one round trip whatever their number
UPSERT_PG = """
INSERT INTO agent_states AS cur (agent_id, state, reason, since, until, seq, updated_at)
SELECT r.agent_id, r.state, r.reason, r.since, r.until, r.seq, $7::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
            $6::bigint[]) AS r(agent_id, state, reason, since, until, seq)
ON CONFLICT (agent_id) DO UPDATE SET
    state = EXCLUDED.state, reason = EXCLUDED.reason, since = EXCLUDED.since,
    until = EXCLUDED.until, seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at
WHERE (cur.since, cur.seq) < (EXCLUDED.since, EXCLUDED.seq)
"""


def pg_upsert_args(rows: list[StateRow]) -> tuple[Any, ...]:
    """The parameters of ``UPSERT_PG`` for ``rows``."""
    return (
        [r.agent_id for r in rows],
        [r.state for r in rows],
        [r.reason for r in rows],
        [_ts(r.since) for r in rows],
        [_ts(r.until) for r in rows],
        [r.seq for r in rows],
        datetime.now(UTC),
    )


async def upsert_sqlalchemy(conn: AsyncConnection, rows: list[StateRow]) -> None:
    """The upsert through SQLAlchemy (SQLite, or PostgreSQL outside the COPY path)."""
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(agent_states)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["agent_id"],
        set_={
            name: excluded[name]
            for name in ("state", "reason", "since", "until", "seq", "updated_at")
        },
        where=tuple_(agent_states.c.since, agent_states.c.seq)
        < tuple_(excluded.since, excluded.seq),
    )
    now = datetime.now(UTC)
    await conn.execute(
        stmt,
        [
            {
                "agent_id": r.agent_id,
                "state": r.state,
                "reason": r.reason,
                "since": _ts(r.since),
                "until": _ts(r.until),
                "seq": r.seq,
                "updated_at": now,
            }
            for r in rows
        ],
    )


async def load_agent_states(engine: AsyncEngine) -> dict[str, StoredAgentState]:
    """Every agent's last recorded state, by agent id."""
    query = select(
        agent_states.c.agent_id,
        agent_states.c.state,
        agent_states.c.reason,
        agent_states.c.since,
        agent_states.c.until,
    )
    async with engine.connect() as conn:
        result = await conn.execute(query)
        out: dict[str, StoredAgentState] = {}
        for agent_id, state, reason, since, until in result:
            since_s = epoch_or_none(since)
            assert since_s is not None  # NOT NULL
            out[agent_id] = StoredAgentState(agent_id, state, reason, since_s, epoch_or_none(until))
        return out
