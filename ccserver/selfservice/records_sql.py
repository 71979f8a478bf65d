"""Self-service records in ccserver's database: tickets, outages, callbacks, surveys.

The SQL implementation of the IVR's ``ivr.records.SelfServiceStore`` port,
plus what the shell alone uses (listing, closing tickets, declaring and
resolving outages, the callbacks the center owes). Times come in as epoch
seconds from the caller's clock (nothing here reads the clock) and are stored
as timezone-aware timestamps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ccserver.store.reach import cause, unreachable
from ccserver.store.schema import callbacks, outages, surveys, tickets
from ccserver.store.values import epoch_or_none, utc
from ivr.records import Outage, RecordsUnavailable, Ticket

TICKET_NUMBER_BASE = 100_000  # ticket numbers are short enough to read back digit by digit

P = ParamSpec("P")
R = TypeVar("R")


def _port(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """A method of the IVR's port: a database outage reaches it as ``RecordsUnavailable``."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except Exception as exc:
            if unreachable(exc):
                raise RecordsUnavailable(cause(exc)) from exc
            raise

    return call


@dataclass(frozen=True)
class Callback:
    """A callback the center owes a caller (kind ``outage`` or ``queue``)."""

    id: int
    kind: str
    number: str
    call_id: str
    outage_id: int | None
    queue: str | None
    status: str
    attempts: int


def _ticket(row: Any) -> Ticket:
    return Ticket(
        row.id,
        row.number,
        row.call_id,
        row.account,
        row.caller,
        row.callback_number,
        row.category,
        row.status,
        epoch_or_none(row.created_at) or 0.0,
        epoch_or_none(row.due_at) or 0.0,
        epoch_or_none(row.closed_at),
        row.resolution,
        row.callback_status,
        row.callback_attempts,
        row.rating,
    )


def _outage(row: Any) -> Outage:
    return Outage(
        row.id,
        list(row.regions),
        list(row.number_prefixes),
        row.message,
        row.prompt,
        epoch_or_none(row.declared_at) or 0.0,
        epoch_or_none(row.expected_fix_at),
        epoch_or_none(row.resolved_at),
    )


async def _insert_id(conn: AsyncConnection, table: Table, **values: Any) -> int:
    """Insert one row and return its new id."""
    result = await conn.execute(insert(table).values(**values).returning(table.c.id))
    return int(result.scalar_one())


class SelfServiceRecords:
    """Reads and writes the self-service tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- tickets ------------------------------------------------------------
    @_port
    async def create_ticket(
        self,
        *,
        call_id: str,
        account: str | None,
        caller: str,
        callback_number: str,
        category: str,
        due_hours: float,
        now: float,
    ) -> Ticket:
        """Open a ticket; its number is derived from its id, so it is unique."""
        async with self.engine.begin() as conn:
            ticket_id = await _insert_id(
                conn,
                tickets,
                call_id=call_id,
                account=account,
                caller=caller,
                callback_number=callback_number,
                category=category,
                status="open",
                created_at=utc(now),
                due_at=utc(now + due_hours * 3600),
                callback_attempts=0,
            )
            await conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id)
                .values(number=str(TICKET_NUMBER_BASE + ticket_id))
            )
        ticket = await self.ticket(ticket_id)
        assert ticket is not None
        return ticket

    @_port
    async def ticket(self, ticket_id: int) -> Ticket | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).first()
        return _ticket(row) if row else None

    async def ticket_by_number(self, number: str) -> Ticket | None:
        """The ticket with the number read back to its caller."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(tickets).where(tickets.c.number == number))).first()
        return _ticket(row) if row else None

    async def tickets(self, status: str | None = None, limit: int = 200) -> list[Ticket]:
        query = select(tickets).order_by(tickets.c.id.desc()).limit(limit)
        if status:
            query = query.where(tickets.c.status == status)
        async with self.engine.connect() as conn:
            return [_ticket(r) for r in await conn.execute(query)]

    async def close_ticket(self, ticket_id: int, resolution: str, now: float) -> Ticket | None:
        """Close an open ticket; its repair callback is then pending. None if not open."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.status == "open")
                .values(
                    status="closed",
                    closed_at=utc(now),
                    resolution=resolution,
                    callback_status="pending",
                )
            )
        return await self.ticket(ticket_id) if done.rowcount else None

    @_port
    async def set_ticket_callback(
        self,
        ticket_id: int,
        status: str,
        attempts: int,
        rating: int | None = None,
        *,
        reopen: bool = False,
    ) -> None:
        """Record the repair callback's progress; a repair that did not hold reopens."""
        values: dict[str, Any] = {"callback_status": status, "callback_attempts": attempts}
        if rating is not None:
            values["rating"] = rating
        if reopen:
            values.update(status="open", closed_at=None)
        async with self.engine.begin() as conn:
            await conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(**values))

    async def overdue_tickets(self, now: float) -> int:
        """Open tickets past their due time."""
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count()).where(
                            tickets.c.status == "open", tickets.c.due_at < utc(now)
                        )
                    )
                ).scalar_one()
            )

    # --- outages ------------------------------------------------------------
    async def declare_outage(
        self,
        *,
        regions: list[str],
        number_prefixes: list[str],
        message: str,
        prompt: str | None,
        expected_fix_at: float | None,
        now: float,
    ) -> Outage:
        async with self.engine.begin() as conn:
            outage_id = await _insert_id(
                conn,
                outages,
                regions=regions,
                number_prefixes=number_prefixes,
                message=message,
                prompt=prompt,
                declared_at=utc(now),
                expected_fix_at=utc(expected_fix_at) if expected_fix_at else None,
            )
        outage = await self.outage(outage_id)
        assert outage is not None
        return outage

    async def outage(self, outage_id: int) -> Outage | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(outages).where(outages.c.id == outage_id))).first()
        return _outage(row) if row else None

    async def outages(self, active_only: bool = False) -> list[Outage]:
        query = select(outages).order_by(outages.c.id.desc())
        if active_only:
            query = query.where(outages.c.resolved_at.is_(None))
        async with self.engine.connect() as conn:
            return [_outage(r) for r in await conn.execute(query)]

    @_port
    async def active_outage_for(self, region: str | None, number: str) -> Outage | None:
        """The newest unresolved outage covering this caller."""
        for outage in await self.outages(active_only=True):
            if outage.covers(region, number):
                return outage
        return None

    async def resolve_outage(self, outage_id: int, now: float) -> Outage | None:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(outages)
                .where(outages.c.id == outage_id, outages.c.resolved_at.is_(None))
                .values(resolved_at=utc(now))
            )
        return await self.outage(outage_id) if done.rowcount else None

    # --- callbacks ----------------------------------------------------------
    @_port
    async def add_callback(
        self,
        *,
        kind: str,
        number: str,
        call_id: str,
        now: float,
        outage_id: int | None = None,
        queue: str | None = None,
    ) -> int:
        async with self.engine.begin() as conn:
            return await _insert_id(
                conn,
                callbacks,
                kind=kind,
                number=number,
                call_id=call_id,
                outage_id=outage_id,
                queue=queue,
                status="pending",
                attempts=0,
                created_at=utc(now),
            )

    async def pending_callbacks(self, outage_id: int | None = None) -> list[Callback]:
        query = select(callbacks).where(callbacks.c.status == "pending").order_by(callbacks.c.id)
        if outage_id is not None:
            query = query.where(callbacks.c.outage_id == outage_id)
        async with self.engine.connect() as conn:
            return [
                Callback(
                    r.id, r.kind, r.number, r.call_id, r.outage_id, r.queue, r.status, r.attempts
                )
                for r in await conn.execute(query)
            ]

    async def set_callback(self, callback_id: int, status: str, attempts: int, now: float) -> None:
        values: dict[str, Any] = {"status": status, "attempts": attempts}
        if status != "pending":
            values["done_at"] = utc(now)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(callbacks).where(callbacks.c.id == callback_id).values(**values)
            )

    async def deflections_by_outage(self) -> dict[int, int]:
        """Callers who took a callback instead of waiting, per outage."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(callbacks.c.outage_id, func.count())
                .where(callbacks.c.kind == "outage")
                .group_by(callbacks.c.outage_id)
            )
            return {int(o): int(n) for o, n in rows if o is not None}

    async def callback_counts(self) -> dict[tuple[str, str], int]:
        """Callbacks by (kind, status)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(callbacks.c.kind, callbacks.c.status, func.count()).group_by(
                    callbacks.c.kind, callbacks.c.status
                )
            )
            return {(k, s): int(n) for k, s, n in rows}

    # --- surveys ------------------------------------------------------------
    @_port
    async def record_survey(
        self,
        *,
        call_id: str,
        kind: str,
        score: int,
        now: float,
        agent_id: str | None = None,
        queue: str | None = None,
        ticket_id: int | None = None,
    ) -> bool:
        async with self.engine.begin() as conn:
            if kind == "call":  # one post-call score a call
                taken = select(surveys.c.id).where(
                    surveys.c.call_id == call_id, surveys.c.kind == kind
                )
                if (await conn.execute(taken.limit(1))).first() is not None:
                    return False
            await conn.execute(
                insert(surveys).values(
                    call_id=call_id,
                    kind=kind,
                    agent_id=agent_id,
                    queue=queue,
                    ticket_id=ticket_id,
                    score=score,
                    at=utc(now),
                )
            )
        return True

    async def surveys(self, call_id: str | None = None) -> list[dict[str, Any]]:
        query = select(surveys).order_by(surveys.c.id)
        if call_id:
            query = query.where(surveys.c.call_id == call_id)
        async with self.engine.connect() as conn:
            return [
                {
                    "call_id": r.call_id,
                    "kind": r.kind,
                    "agent_id": r.agent_id,
                    "queue": r.queue,
                    "ticket_id": r.ticket_id,
                    "score": r.score,
                    "at": epoch_or_none(r.at),
                }
                for r in await conn.execute(query)
            ]
