"""What a restarted ccserver reads back from its store before it routes again.

A hotline cannot ask every agent to log in again after a crash, nor make the
callers who were holding start their wait anew. At start the server reads:

- each agent's last state (``agent_states``, kept by the event writer in the
  same transaction as the ``acd.agent_state`` events): logged in or not, ready
  or not ready with the reason, wrap-up and when it ends;
- the calls the event log says are still open (started, not ended) in the
  last ``lookback_s``: when each entered its queue and which queue it is in
  now (overflow included), folded by the reports' own :func:`fold_call`
  (only the calls the report projection has open, or has not folded yet: a
  takeover reads a few thousand calls, not a day of them).

The orchestrator restores the agents at once, then, at the first resync,
queues the callers Asterisk still has holding with their original wait
start, and :func:`orphan_endings` closes the calls Asterisk no longer has.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts import eventlog as el
from contracts.sink import CallEvent
from cti.astdb import CallNotes

from ..reporting.calls import fold_call
from ..reporting.projector import NAME as PROJECTION
from ..reporting.projector import row_event
from ..store import StoredAgentState, load_agent_states
from ..store.schema import call_events, call_records, report_projection
from ..store.values import chunks, utc

log = logging.getLogger(__name__)

OPEN_CALL_KINDS = (
    el.CALL_STARTED,
    el.CALL_ENDED,
    el.ACD_QUEUED,
    el.ACD_OVERFLOWED,
    el.ACD_CONNECTED,
    el.ACD_ADOPTED,
    el.ACD_TRANSFERRED,
)
LOOKBACK_S = 24 * 3600.0  # no hotline call lasts longer than a day


@dataclass(frozen=True)
class OpenCall:
    """A call the event log has seen start and not end."""

    call_id: str
    started_at: float
    queued_at: float | None  # when it first entered a queue (its wait start)
    queue: str | None  # the queue it is in now
    answered_at: float | None = None  # an agent answered (the logged time)
    agent: str | None = None  # that agent


@dataclass(frozen=True)
class Logged:
    """What the event log has now of some calls: the ones it knows, and those still open."""

    known: set[str] = field(default_factory=set)
    open_calls: dict[str, OpenCall] = field(default_factory=dict)


@dataclass
class Floor:
    """The floor as the store last saw it."""

    agents: dict[str, StoredAgentState] = field(default_factory=dict)
    open_calls: dict[str, OpenCall] = field(default_factory=dict)
    since: float = float("inf")  # the lookback's start (none read: no line is taken as unseen)
    # what the event log has now (from ``since`` on) of the given call ids: a line Asterisk
    # noted that it lacks began and ended while no ccserver listened; one it has open
    # came in after the floor was read (the process before wrote it late: its spool after
    # a database outage) and ended meanwhile (None: no store)
    logged: Callable[[Collection[str]], Awaitable[Logged]] | None = None


async def load_floor(
    engine: AsyncEngine, now: float, lookback_s: float = LOOKBACK_S, *, projection: bool = True
) -> Floor:
    """Agent states and the calls still open in the event log (``projection=False``: found
    by folding the whole lookback, as without a projection; for comparison)."""
    agents = await load_agent_states(engine)
    since = now - lookback_s
    open_calls: dict[str, OpenCall] = {}
    async with engine.connect() as conn:
        ids = await _candidates(conn, since) if projection else None
        if ids is None:  # no projection (SQLite, a new store): fold the whole lookback
            await _fold_open(conn, _open_kinds(since), open_calls)
        else:
            for chunk in chunks(sorted(ids)):
                query = _open_kinds(since).where(call_events.c.call_id.in_(chunk))
                await _fold_open(conn, query, open_calls)
    log.info(
        "restored from the store: %d agent states, %d calls open in the event log",
        len(agents),
        len(open_calls),
    )
    return Floor(agents, open_calls, since, partial(logged_calls, engine, since))


async def _candidates(conn: AsyncConnection, since: float) -> set[str] | None:
    """The calls that may be open: those the report projection has open in the lookback,
    and those with events it has not folded yet (None: there is no projection).

    A busy day's log is millions of calls: folding all of them made a takeover
    last minutes. The projection folded them already; the candidates are folded
    again from the log, so a record the projector has not caught up with
    (a late-committed end) is read as the log says. Not candidates: a call whose
    record ended with the caller's hang-up while an agent's leg was still up
    (its ``call.ended`` comes live, if that leg is still there, or never: the
    record is whole without it), and a call whose every event was committed
    below the projector's checkpoint after it passed (two writers at once: a
    caller still holding is found by the resync, with Asterisk's ``CC_QUEUED``).
    """
    where = report_projection.c.name == PROJECTION
    checkpoint = (await conn.execute(select(report_projection.c.seq).where(where))).scalar()
    if checkpoint is None:
        return None
    opened = await conn.execute(
        select(call_records.c.call_id).where(
            call_records.c.ended_at.is_(None), call_records.c.started_at >= utc(since)
        )
    )
    tail = await conn.execute(
        select(call_events.c.call_id)
        .where(call_events.c.seq > checkpoint, call_events.c.kind.in_(OPEN_CALL_KINDS))
        .distinct()
    )
    return {r[0] for r in opened} | {r[0] for r in tail if r[0]}


def _open_kinds(since: float) -> Select[Any]:
    return (
        select(call_events)
        .where(
            call_events.c.at >= utc(since),
            call_events.c.kind.in_(OPEN_CALL_KINDS),
        )
        .order_by(call_events.c.call_id, call_events.c.seq)
    )


async def _fold_open(
    conn: AsyncConnection,
    query: Select[Any],
    open_calls: dict[str, OpenCall],
    seen: set[str] | None = None,
) -> None:
    """Fold each call the query's events (by call, in log order) name; keep the open ones
    (and, into ``seen``, every call named)."""

    def close(events: list[CallEvent]) -> None:
        if seen is not None:
            seen.add(events[0].call_id)
        rec = fold_call(events[0].call_id, events)
        if rec.ended_at is None and rec.arrived_at is not None:
            opened = OpenCall(
                rec.call_id, rec.arrived_at, rec.offered_at, rec.queue,
                rec.answered_at, rec.agent,
            )  # fmt: skip
            open_calls[rec.call_id] = opened

    current: list[CallEvent] = []
    async for row in await conn.stream(query):
        event = row_event(row)
        if not event.call_id:
            continue
        if current and current[0].call_id != event.call_id:
            close(current)
            current = []
        current.append(event)
    if current:
        close(current)


async def logged_calls(engine: AsyncEngine, since: float, ids: Collection[str]) -> Logged:
    """What the event log has of ``ids`` from ``since`` on, each call folded as it is now."""
    logged = Logged()
    async with engine.connect() as conn:
        for chunk in chunks(sorted(ids)):
            query = _open_kinds(since).where(call_events.c.call_id.in_(chunk))
            await _fold_open(conn, query, logged.open_calls, logged.known)
    return logged


def orphan_endings(
    gone: Iterable[OpenCall],
    ended_at: Mapping[str, float],
    now: float,
    ids: Callable[[], str],
    queued_at: Mapping[str, float] | None = None,
    default_queue: str = "",
) -> list[CallEvent]:
    """``call.ended`` for each open call Asterisk no longer has.

    Such a call ended while no ccserver was listening: at the time Asterisk
    noted for the caller's line (``ended_at``, from AstDB), else at the moment
    its absence was seen (the first resync after the restart); the ``detail``
    says so. A caller the log never saw queued whose line's note says they had
    reached the queue (``queued_at``: the dialplan's ``CC_QUEUED``) first gets
    the ``acd.queued`` Asterisk timed, so the record says abandoned in the queue
    with the right wait, not hung up in the IVR.
    """
    out = []
    for call in gone:
        at = min(ended_at.get(call.call_id, now), now)
        queued = (queued_at or {}).get(call.call_id)
        if call.queued_at is None and queued is not None and queued <= at:
            out.append(noted_queued(ids(), call.call_id, queued, call.queue or default_queue))
        out.append(vanished(ids(), at, call.call_id, call.started_at, call.call_id in ended_at))
    return out


def vanished(
    event_id: str, at: float, call_id: str, started_at: float, noted: bool, **extra: str
) -> CallEvent:
    """The ``call.ended`` of a line that ended while no ccserver was listening."""
    data = {
        **extra,
        "reason": "vanished",
        "detail": "while_ccserver_was_down",
        "duration_s": round(at - started_at, 3),
        "noted": noted,
    }
    return CallEvent(event_id, at, call_id, el.CALL_ENDED, data)


def unseen_lines(
    notes: CallNotes,
    known: Callable[[str], bool],
    since: float,
    ids: Callable[[], str],
    default_queue: str = "",
) -> list[CallEvent]:
    """The record of each line that began and ended while no ccserver listened.

    A caller who rang while ccserver was down or taking over (the FastAGI IVR
    unreachable, so the dialplan sends them straight to the queue) and hung up
    before it was back left only the line's ended note. From it: ``call.started``
    at ``CC_ENTERED`` with the caller's number, the ``acd.queued`` Asterisk timed if
    they reached the queue, and ``call.ended``, so the caller counts (abandoned in
    the queue, with their wait). ``known`` says which lines a ccserver did see;
    notes older than ``since`` (the log's lookback) are left alone.
    """
    out = []
    for uid, (entered, caller) in sorted(notes.entered.items(), key=lambda kv: kv[1][0]):
        ended = notes.ended[uid]
        if entered < since or known(uid):
            continue
        start = {"caller": caller, "channel": "", "started_at": entered, "adopted": False}
        out.append(CallEvent(ids(), entered, uid, el.CALL_STARTED, dict(start, noted=True)))
        queued = notes.queued.get(uid)
        if queued is not None:
            out.append(noted_queued(ids(), uid, queued, default_queue))
        out.append(vanished(ids(), ended, uid, entered, True, caller=caller))
    return out


def noted_queued(event_id: str, call_id: str, queued_at: float, queue: str) -> CallEvent:
    """The ``acd.queued`` of a caller who entered the queue while ccserver could not see it
    (link down, restart) and whose line ended before it could: Asterisk's note has when."""
    return CallEvent(
        event_id,
        queued_at,
        call_id,
        el.ACD_QUEUED,
        {
            "reason": "entered the queue unseen (noted by Asterisk)",
            "agent": None,
            "queue": queue,
            "priority": 0.0,
            "enqueued_at": queued_at,
        },
    )
