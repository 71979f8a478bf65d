"""The reports' projection: call records and agent intervals kept as events land.

A report over a month cannot fold the raw event log on demand (minutes), so the
projector follows the log and keeps ``call_records`` (one row per call) and
``agent_intervals`` (each agent's state from one change to the next), which the
reports read (``source.py``). It folds with the reports' own code
(``calls.py``): a call's record is :func:`fold_call` over all of the call's
events, so an incremental projection and the on-demand fold are one code path;
the cross-call steps (a transferred call's agent by endpoint, the wrap-up rule)
are the same functions, fed in log order.

How it follows the log: it polls ``call_events`` by ``seq`` (the order the writer
commits in) from its checkpoint (``report_projection``), ``batch_size`` events at
a time. Each batch re-folds every call it touches from all of that call's events
(the call's earlier events come from a small cache of open calls, else from the
log), so a late event updates its call's record, and deletes and inserts their
rows; agent state events close the agent's open interval and open the next.
Rows and the checkpoint move in one transaction: a batch is projected once or
not at all, so a restart (or a crash) resumes after the last batch without
counting anything twice, and a replayed event (stored once, by its id) changes
nothing.

Active/standby: only the active process runs a projector (``app.py`` starts it
with the writer). A second one (an old active still stopping) is harmless: each
batch locks the checkpoint row, and a projector that finds the checkpoint moved
by someone else drops what it had in memory and reloads it from the tables.

Limits: a writer's ``seq`` is given in emit order, so events committed with a
``seq`` below the checkpoint (two writers at once) are folded only when their
call is touched again; the records of ended calls are not re-read by the wrap-up
rule after a restart beyond ``MARGIN_S`` back; a wrap-up stored more than
``LATE_S`` behind the log's time goes to the last call its agent answered before that.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import eventlog as el
from contracts.sink import CallEvent

from ..store.partitions import add_months, ensure_month_partitions, month_start
from ..store.schema import agent_intervals, call_events, call_records, report_projection
from ..store.values import aware, chunks, epoch, utc
from .calls import (
    FOLDED_KINDS,
    CallRecord,
    WrapUps,
    disposition,
    fold_call,
    learn_endpoint,
    name_by_endpoint,
)

log = logging.getLogger(__name__)

NAME = "reports"  # the checkpoint row
MARGIN_S = 6 * 3600  # answered calls reloaded at a restart, for wrap-ups still running
# how far behind the log's time an agent's state change may still be folded with its
# own call (the log is in emit order, a few seconds at most apart in time; a dead
# process's spool replayed when it is restarted may be later: its wrap-up goes to the
# last call the agent answered before this); the wrap-up rule's memory is this many
# seconds of answered calls (6,000 at 50 calls a second)
LATE_S = 120
# the projector runs in the routing process: its folding is CPU on the same event loop,
# so it lets routing in this often (a 60 s database outage leaves a backlog whose fold
# would otherwise hold the loop for most of a second: hold-to-ring p99 39 ms, not 8)
_YIELD_EVERY = 200
_MONTHS_AHEAD = 1
_MONTHS_BACK = 24  # months before this one that get partitions of their own


def row_event(row: Any) -> CallEvent:
    """A ``call_events`` row as the event it records."""
    return CallEvent(row.id, epoch(row.at), row.call_id, row.kind, row.data)


def record_row(rec: CallRecord, started: float, seq: int) -> dict[str, Any]:
    """The ``call_records`` row of a record (without the short-abandon rule, see schema)."""
    return {
        "call_id": rec.call_id,
        "started_at": utc(started),
        "seq": seq,
        "caller": rec.caller,
        "arrived_at": rec.arrived_at,
        "ended_at": rec.ended_at,
        "ivr": rec.ivr,
        "ivr_outcome": rec.ivr_outcome,
        "ivr_path": list(rec.ivr_path),
        "queue": rec.queue,
        "queues": list(rec.queues),
        "offered_at": rec.offered_at,
        "answered_at": rec.answered_at,
        "talk_end_at": rec.talk_end_at,
        "agent": rec.agent,
        "ring_s": rec.ring_s,
        "hold_s": rec.hold_s,
        "overflowed": rec.overflowed,
        "callback": rec.callback,
        "callback_failed": rec.callback_failed,
        "abandoned": rec.abandoned,
        "vip": rec.vip,
        "ticket": rec.ticket,
        "survey": rec.survey,
        "disposition": disposition(rec, 0.0),
        "endpoint": rec.endpoint,
        "agents": list(rec.agents),
        "transfers": rec.transfers,
        "transfer_gap_s": rec.transfer_gap_s,
        "extra": {name: getattr(rec, name) for name in EXTRA_FIELDS},
    }


RECORD_COLUMNS = (
    "call_id", "caller", "arrived_at", "ended_at", "ivr", "ivr_outcome", "ivr_path", "queue",
    "queues", "offered_at", "answered_at", "talk_end_at", "agent", "ring_s", "hold_s",
    "overflowed", "callback", "callback_failed", "abandoned", "vip", "ticket", "survey",
    "endpoint", "agents", "transfers", "transfer_gap_s",
)  # fmt: skip


# the record's other fields (the recording, the desk's disposition and notes...), kept
# as they are in ``extra``: a field added to CallRecord is stored without a migration
EXTRA_FIELDS = tuple(
    f.name
    for f in fields(CallRecord)
    if f.name not in RECORD_COLUMNS and f.name not in ("wrap_s", "disposition")
)


def record_of(row: Any) -> CallRecord:
    """A stored row as the record the fold made (wrap-up and disposition: the reader's)."""
    extra = {k: v for k, v in (row.extra or {}).items() if k in EXTRA_FIELDS}
    rec = CallRecord(**{name: getattr(row, name) for name in RECORD_COLUMNS}, **extra)
    rec.ivr_path = list(rec.ivr_path or [])
    rec.queues = list(rec.queues or [])
    rec.agents = list(rec.agents or [])
    return rec


@dataclass
class _Open:
    """An agent's interval still open (its row's key, and whether the row is stored yet)."""

    since_at: datetime
    seq: int
    state: str


class ReportProjector:
    """Follows the event log into ``call_records`` and ``agent_intervals`` (see the module)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_size: int = 2_000,
        poll_s: float = 1.0,
        cache_calls: int = 20_000,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.cache_calls = cache_calls
        self.events_folded = 0
        self._seq: int | None = None  # the checkpoint as this projector last saw it
        self._calls: OrderedDict[str, list[CallEvent]] = OrderedDict()  # open calls' events
        self._wrap = WrapUps()
        # calls fed to the wrap-up rule (-> when answered), in the order they were fed
        self._answered: OrderedDict[str, float] = OrderedDict()
        self._endpoints: dict[str, str] = {}  # endpoint -> agent, from routed calls
        self._open: dict[str, _Open] = {}  # agent -> its open interval
        self._months: dict[str, set[datetime]] = {"call_records": set(), "agent_intervals": set()}
        self._queues: set[str] = set()  # names known to be in report_queues

    async def run(self) -> None:
        """Project until cancelled; a failing database is retried after ``poll_s``."""
        failures = 0
        while True:
            try:
                n = await self.step()
                failures = 0
            except Exception as exc:  # the database may be down: retry, backing off
                failures += 1
                if failures == 1 or failures % 20 == 0:  # say so once in a while, not every poll
                    log.warning("report projection: %s (failed %d times)", exc, failures)
                await asyncio.sleep(min(30.0, self.poll_s * 2 ** min(failures, 5)))
                continue
            if n < self.batch_size:
                await asyncio.sleep(self.poll_s)

    async def catch_up(self) -> int:
        """Project everything stored so far; the number of events read."""
        total = 0
        while (n := await self.step()) > 0:
            total += n
        return total

    async def step(self) -> int:
        """Project one batch of events; how many were read (0: caught up)."""
        try:
            async with self.engine.begin() as conn:
                checkpoint = await self._checkpoint(conn)
                if checkpoint != self._seq:
                    await self._reload(conn, checkpoint)
                rows = (
                    await conn.execute(
                        select(call_events)
                        .where(call_events.c.seq > checkpoint)
                        .order_by(call_events.c.seq)
                        .limit(self.batch_size)
                    )
                ).all()
                if not rows:
                    return 0
                last = await self._project(conn, checkpoint, rows)
                await conn.execute(
                    update(report_projection)
                    .where(report_projection.c.name == NAME)
                    .values(seq=last[0], at=last[1], updated_at=datetime.now(UTC))
                )
        except BaseException:
            self._seq = None  # memory may be ahead of the tables: reload next time
            raise
        self._seq = last[0]
        self.events_folded += len(rows)
        self._trim(last[1])
        return len(rows)

    async def _checkpoint(self, conn: AsyncConnection) -> int:
        query = select(report_projection.c.seq).where(report_projection.c.name == NAME)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # one projector at a time moves it
        seq = (await conn.execute(query)).scalar()
        if seq is None:
            await conn.execute(
                insert(report_projection).values(
                    name=NAME, seq=0, at=None, updated_at=datetime.now(UTC)
                )
            )
            return 0
        return int(seq)

    async def _reload(self, conn: AsyncConnection, checkpoint: int) -> None:
        """Memory from the tables: at a start, or after another projector moved on."""
        self._calls.clear()
        self._answered.clear()
        self._endpoints.clear()
        self._open.clear()
        self._queues.clear()
        self._wrap = WrapUps()
        where = report_projection.c.name == NAME
        at = (await conn.execute(select(report_projection.c.at).where(where))).scalar()
        if at is not None:
            recent = await conn.execute(
                select(call_records)
                .where(
                    call_records.c.started_at >= utc(at - 2 * MARGIN_S),
                    call_records.c.answered_at >= at - MARGIN_S,
                    call_records.c.agent.is_not(None),
                )
                .order_by(call_records.c.answered_at)
            )
            for row in recent:
                rec = record_of(row)
                learn_endpoint(rec, self._endpoints)
                self._wrap.answered(rec)
                self._answered[rec.call_id] = rec.answered_at or 0.0
        opened = await conn.execute(
            select(agent_intervals)
            .where(agent_intervals.c.until.is_(None))
            .order_by(agent_intervals.c.since, agent_intervals.c.seq)
        )
        for row in opened:
            self._open[row.agent] = _Open(aware(row.since_at), row.seq, row.state)
            self._wrap.resume(row.agent, row.state, row.since)
        self._seq = checkpoint

    async def _project(
        self, conn: AsyncConnection, checkpoint: int, rows: Sequence[Any]
    ) -> tuple[int, float]:
        """Fold one batch into row changes and write them; the batch's last (seq, at)."""
        touched: dict[str, list[CallEvent]] = {}
        states: list[tuple[int, CallEvent]] = []
        last_seq, last_at = checkpoint, 0.0
        for n, row in enumerate(rows, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let routing in
            last_seq = max(last_seq, int(row.seq))
            if row.kind not in FOLDED_KINDS:
                continue
            event = row_event(row)
            last_at = max(last_at, event.at)
            if event.kind == el.ACD_AGENT_STATE:
                states.append((int(row.seq), event))
            elif event.call_id:
                touched.setdefault(event.call_id, []).append(event)
        await self._load_calls(conn, checkpoint, [c for c in touched if c not in self._calls])

        records: list[dict[str, Any]] = []
        for n, (call_id, new) in enumerate(touched.items(), 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let routing in
            events = self._calls.setdefault(call_id, [])
            self._calls.move_to_end(call_id)
            events.extend(new)
            rec = fold_call(call_id, events)
            learn_endpoint(rec, self._endpoints)
            name_by_endpoint(rec, self._endpoints)
            if rec.answered_at is not None and rec.agent and call_id not in self._answered:
                self._answered[call_id] = rec.answered_at
                self._wrap.answered(rec)
            started = rec.arrived_at or rec.offered_at or min(e.at for e in events)
            records.append(record_row(rec, started, last_seq))
        opened, closed = self._fold_states(states)

        await self._ensure_months(conn, "call_records", (r["started_at"] for r in records))
        await self._ensure_months(conn, "agent_intervals", (r["since_at"] for r in opened))
        ids = list(touched)
        for chunk in chunks(ids):
            await conn.execute(delete(call_records).where(call_records.c.call_id.in_(chunk)))
        if records:
            await conn.execute(insert(call_records), records)
            await self._name_queues(conn, {r["queue"] for r in records if r["queue"]})
        for key, until, owner in closed:
            await conn.execute(
                update(agent_intervals)
                .where(
                    and_(
                        agent_intervals.c.agent == key[0],
                        agent_intervals.c.since_at == key[1],
                        agent_intervals.c.seq == key[2],
                    )
                )
                .values(until=until, call_id=owner)
            )
        if opened:
            await conn.execute(insert(agent_intervals), opened)
        # the facts the reports sum (schema, migration 0011): the wrap-ups of the calls
        # re-inserted or credited now, and the next-call arrivals these calls change
        owners = {owner for _, _, owner in closed if owner}
        owners.update(r["call_id"] for r in opened if r["call_id"])
        owners.update(r["call_id"] for r in records if r["agent"])
        await _sum_wrap_ups(conn, sorted(owners))
        await _link_callers(conn, records)
        return last_seq, last_at

    def _fold_states(
        self, states: list[tuple[int, CallEvent]]
    ) -> tuple[list[dict[str, Any]], list[tuple[tuple[str, datetime, int], float, str | None]]]:
        """Agent state events in log order: new interval rows, and stored ones they close."""
        opened: dict[tuple[str, datetime, int], dict[str, Any]] = {}
        closed: list[tuple[tuple[str, datetime, int], float, str | None]] = []
        for seq, event in states:
            agent = event.data.get("agent")
            if not agent:
                continue
            agent = str(agent)
            self._wrap.agent_state(event)
            owner = self._wrap.credited.call_id if self._wrap.credited is not None else None
            before = self._open.get(agent)
            if before is not None:
                key = (agent, before.since_at, before.seq)
                if key in opened:
                    opened[key].update(until=event.at, call_id=owner)
                else:
                    closed.append((key, event.at, owner))
            since_at = utc(event.at)
            state = str(event.data.get("state"))
            opened[(agent, since_at, seq)] = {
                "agent": agent,
                "since_at": since_at,
                "seq": seq,
                "since": event.at,
                "until": None,
                "state": state,
                "reason": event.data.get("code"),
                "call_id": None,
            }
            self._open[agent] = _Open(since_at, seq, state)
        return list(opened.values()), closed

    async def _name_queues(self, conn: AsyncConnection, queues: set[str]) -> None:
        """``report_queues`` gets the queues it lacks (a statement only for a new name)."""
        new = sorted(queues - self._queues)
        if new:
            await conn.execute(_QUEUE, [{"queue": q} for q in new])
            self._queues.update(new)  # dropped by _reload if this transaction fails

    async def _load_calls(self, conn: AsyncConnection, checkpoint: int, ids: list[str]) -> None:
        """The folded events already stored for calls not in memory (late events, a restart)."""
        for chunk in chunks(ids):
            result = await conn.execute(
                select(call_events)
                .where(
                    call_events.c.call_id.in_(chunk),
                    call_events.c.seq <= checkpoint,
                    call_events.c.kind.in_(sorted(FOLDED_KINDS - {el.ACD_AGENT_STATE})),
                )
                .order_by(call_events.c.seq)
            )
            for row in result:
                self._calls.setdefault(row.call_id, []).append(row_event(row))

    async def _ensure_months(
        self, conn: AsyncConnection, table: str, moments: Iterable[datetime]
    ) -> None:
        """Monthly partitions (PostgreSQL) for the months these rows fall in."""
        if conn.dialect.name != "postgresql":
            return
        known = self._months[table]
        # a time from years ago (a bad clock) goes to the default partition, not to
        # a partition for each month since
        oldest = add_months(month_start(datetime.now(UTC)), -_MONTHS_BACK)
        for month in sorted({month_start(m) for m in moments} - known):
            if month >= oldest:
                await conn.run_sync(ensure_month_partitions, table, _MONTHS_AHEAD, since=month)
            known.add(month)

    def _trim(self, at: float) -> None:
        """Forget ended calls (a late event reads them back) and keep memory bounded."""
        # the wrap-up rule needs an agent's calls from a little before the log's time
        # on (a batch may hold many of an agent's calls before their wrap-ups: no
        # count bound); at 50 calls a second, 6 hours of them were a million records
        self._wrap.forget_before(at - LATE_S)
        for call_id in [c for c, evs in self._calls.items() if _ended(evs)]:
            del self._calls[call_id]
        while len(self._calls) > self.cache_calls:
            self._calls.popitem(last=False)
        # as long as the wrap-up rule keeps them (fed again, a call is only a duplicate
        # of itself there: the same call owns the same wrap-up)
        answered = self._answered
        while answered and next(iter(answered.values())) < at - LATE_S:
            answered.popitem(last=False)


# PostgreSQL and SQLite (3.24+) both say it so
_QUEUE = text("INSERT INTO report_queues (queue) VALUES (:queue) ON CONFLICT DO NOTHING")

_WRAP_S = text(
    'UPDATE call_records SET wrap_s = coalesce((SELECT sum(a."until" - a.since) '
    "FROM agent_intervals a WHERE a.call_id = call_records.call_id "
    'AND a."until" > a.since), 0) WHERE call_id IN :ids'
).bindparams(bindparam("ids", expanding=True))

# a call's own next: the caller's first call that arrived after it
_NEXT = text(
    "UPDATE call_records SET next_arrived_at = (SELECT min(o.arrived_at) FROM call_records o "
    "WHERE o.caller = call_records.caller AND o.arrived_at > call_records.arrived_at) "
    "WHERE call_id IN :ids"
).bindparams(bindparam("ids", expanding=True))

# the caller's calls before it whose next it now is (only the latest: the others'
# next is at most that one's arrival)
_PREVIOUS = text(
    "UPDATE call_records SET next_arrived_at = :at WHERE caller = :caller "
    "AND arrived_at < :at AND (next_arrived_at IS NULL OR next_arrived_at > :at)"
)


async def _sum_wrap_ups(conn: AsyncConnection, ids: list[str]) -> None:
    """Each call's ``wrap_s``: its closed wrap-up intervals, as the fold credits them."""
    for chunk in chunks(ids):
        await conn.execute(_WRAP_S, {"ids": chunk})


async def _link_callers(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
    """``next_arrived_at`` of these calls and of the calls before them from their callers.

    A call arriving out of order (a late batch) is linked both ways all the same.
    """
    linked = [r for r in records if r["caller"] and r["arrived_at"] is not None]
    ids = [r["call_id"] for r in linked]
    for chunk in chunks(ids):
        await conn.execute(_NEXT, {"ids": chunk})
    if linked:
        await conn.execute(
            _PREVIOUS, [{"caller": r["caller"], "at": r["arrived_at"]} for r in linked]
        )


def _ended(events: list[CallEvent]) -> bool:
    return any(e.kind == el.CALL_ENDED for e in events)


async def lag(engine: AsyncEngine, most: int) -> tuple[int, float | None] | None:
    """Events stored but not projected yet (counted up to ``most + 1``), and the latest
    event time projected; None if no projector ever ran on this store."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(report_projection.c.seq, report_projection.c.at).where(
                    report_projection.c.name == NAME
                )
            )
        ).first()
        if row is None:
            return None
        behind = (
            select(call_events.c.seq).where(call_events.c.seq > row.seq).limit(most + 1)
        ).subquery()
        n = (await conn.execute(select(func.count()).select_from(behind))).scalar()
        return int(n or 0), row.at
