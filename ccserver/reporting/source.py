"""Reading the event log for reports, and the report a user asks for.

Calls straddle interval and range edges, and a repeat call may come up to a
day later, so events are read from a margin before the range to a margin
after it; the fold then keeps each call in the interval it was offered in.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.service_level import SL_VARIANTS, SlVariant
from contracts import eventlog as el
from contracts.sink import CallEvent

from ..config import ReportsSection
from ..store.schema import agent_intervals as agent_intervals_table
from ..store.schema import call_events, call_records
from ..store.values import utc
from .aggregate import agent_report_sql, queue_report_sql
from .calls import (
    FOLDED_KINDS,
    CallRecord,
    StateSpan,
    agent_intervals,
    clip_intervals,
    finish_records,
    fold_call,
    name_transferred_agents,
    settle_records,
)
from .kpis import REPEAT_WINDOW_S, agent_report, local_time, queue_report
from .projector import RECORD_COLUMNS, ReportProjector, lag, record_of, row_event
from .quality import add_quality_scores

log = logging.getLogger(__name__)

MARGIN_S = 6 * 3600  # a call longer than this before the range is not in it
CATCH_UP_MAX = 100_000  # events a report folds into the projection itself before reading it
INTERVALS = {"15": 900, "30": 1800, "60": 3600, "day": 86400}


@dataclass(frozen=True)
class ReportRequest:
    """What a report covers and how its figures are computed."""

    kind: Literal["queues", "agents", "calls"]
    start: float
    end: float
    interval_s: int = 1800
    variant: SlVariant = "answered_only"
    short_abandon_s: float = 5.0
    repeat_window_s: float = REPEAT_WINDOW_S
    tz: tzinfo = UTC  # the center's time zone: intervals, days and local times


async def load_records(
    engine: AsyncEngine, start: float, end: float, short_abandon_s: float
) -> tuple[list[CallRecord], list[CallEvent]]:
    """Call records of the events with ``start <= at < end``, and the agent state events.

    Events are streamed in call order and folded call by call, so memory holds
    the records, not the events; only the kinds the fold reads are fetched.
    """
    query = (
        select(call_events)
        .where(
            call_events.c.at >= utc(start),
            call_events.c.at < utc(end),
            call_events.c.kind.in_(sorted(FOLDED_KINDS)),
        )
        .order_by(call_events.c.call_id, call_events.c.seq)
    )
    records: list[CallRecord] = []
    agent_states: list[CallEvent] = []
    current: list[CallEvent] = []
    async with engine.connect() as conn:
        rows = await conn.stream(query)
        async for row in rows:
            event = row_event(row)
            if event.kind == el.ACD_AGENT_STATE:
                agent_states.append(event)
                continue
            if current and current[0].call_id != event.call_id:
                records.append(fold_call(current[0].call_id, current))
                current = []
            if event.call_id:
                current.append(event)
    if current:
        records.append(fold_call(current[0].call_id, current))
    return finish_records(records, agent_states, short_abandon_s), agent_states


async def load_projected(
    engine: AsyncEngine, start: float, end: float, short_abandon_s: float
) -> tuple[list[CallRecord], list[StateSpan]]:
    """What :func:`load_records` gives, from the projector's tables: the calls that
    started in ``[start, end)`` and the agents' state spans that began in it.

    The records are the fold's (``fold_call``); the steps across calls are done here
    as the on-demand fold does them: a transferred call's agent by endpoint, each
    call's wrap-up (the sum of the closed ``wrap_up`` intervals the projector gave
    it, kept on its row), the dispositions with ``short_abandon_s``.
    """
    lo, hi = utc(start), utc(end)
    spans: list[StateSpan] = []
    states = agent_intervals_table.c
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(*(call_records.c[name] for name in (*RECORD_COLUMNS, "extra", "wrap_s"))).where(
                call_records.c.started_at >= lo, call_records.c.started_at < hi
            )
        )
        records = []
        for row in rows:
            records.append(rec := record_of(row))
            rec.wrap_s = row.wrap_s
        rows = await conn.execute(
            select(agent_intervals_table)
            .where(states.since_at >= lo, states.since_at < hi)
            .order_by(states.agent, states.since, states.seq)
        )
        for row in rows:
            spans.append(StateSpan(row.agent, row.state, row.reason, row.since, row.until))
    name_transferred_agents(records)
    return settle_records(records, short_abandon_s), spans


async def use_projection(engine: AsyncEngine, end: float) -> bool:
    """Whether to read the projection for a report reading events up to ``end``.

    Yes when the projector has folded every stored event, or events past ``end``;
    when it is a little behind (the active process polls every second, and the
    CLI has no projector), the report folds the rest into it first (a second
    projector is safe: see projector.py). No projection yet, or far behind: no.
    """
    state = await lag(engine, CATCH_UP_MAX)
    if state is None:
        return False
    behind, at = state
    if behind == 0 or (at is not None and at >= end):
        return True
    if behind > CATCH_UP_MAX:
        return False
    try:
        await ReportProjector(engine).catch_up()
    except Exception as exc:  # e.g. a read-only replica: the log is still there
        log.warning("report: cannot bring the projection up to date (%s): folding the log", exc)
        return False
    return True


async def build_report(
    engine: AsyncEngine,
    req: ReportRequest,
    threshold_s: Callable[[str], float],
    now: float | None = None,
    *,
    projection: bool | None = None,
) -> list[dict[str, Any]]:
    """The rows of one report: from the projection when it covers the range, else
    from the event log (``projection`` forces one or the other); the same rows.

    Agents' time ends at ``now`` (default: the clock) when the range reaches
    into the future: an agent on a call since 09:00 has not been on it until
    10:00 at 09:02.
    """
    lo, hi = req.start - MARGIN_S, req.end + max(MARGIN_S, req.repeat_window_s)
    until = max(req.start, min(req.end, time.time() if now is None else now))
    if projection is None:
        projection = await use_projection(engine, hi)
    if projection and engine.dialect.name == "postgresql" and req.kind != "calls":
        # a month of calls: PostgreSQL sums them into the same tallies (aggregate.py)
        if req.kind == "agents":
            rows = await agent_report_sql(
                engine, lo=lo, hi=hi, start=req.start, end=req.end, until=until,
                short_abandon_s=req.short_abandon_s,
            )  # fmt: skip
            return await add_quality_scores(engine, rows, req.start, req.end)  # reporting.quality
        return await queue_report_sql(
            engine, lo=lo, hi=hi, start=req.start, end=req.end, interval_s=req.interval_s,
            threshold_s=threshold_s, variant=req.variant, short_abandon_s=req.short_abandon_s,
            repeat_window_s=req.repeat_window_s, tz=req.tz,
        )  # fmt: skip
    if projection:
        records, spans = await load_projected(engine, lo, hi, req.short_abandon_s)
        intervals = clip_intervals(spans, req.start, until)
    else:
        records, agent_states = await load_records(engine, lo, hi, req.short_abandon_s)
        intervals = agent_intervals(agent_states, req.start, until)
    if req.kind == "calls":
        return [
            r.as_dict() | {"arrived_local": local_time(r.arrived_at, req.tz)}
            for r in records
            if r.arrived_at is not None and req.start <= r.arrived_at < req.end
        ]
    if req.kind == "agents":
        rows = agent_report(records, intervals, start=req.start, end=req.end)
        return await add_quality_scores(engine, rows, req.start, req.end)  # reporting.quality
    return queue_report(
        records,
        start=req.start,
        end=req.end,
        interval_s=req.interval_s,
        threshold_s=threshold_s,
        variant=req.variant,
        repeat_window_s=req.repeat_window_s,
        tz=req.tz,
    )


def report_body(req: ReportRequest, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A report as JSON: what it covers (epoch seconds and local times), then its rows."""
    return {
        "report": req.kind,
        "from": req.start,
        "to": req.end,
        "from_local": local_time(req.start, req.tz),
        "to_local": local_time(req.end, req.tz),
        "timezone": str(req.tz),
        "interval_s": req.interval_s,
        "service_level_variant": req.variant,
        "short_abandon_s": req.short_abandon_s,
        "rows": rows,
    }


def report_request(
    kind: str, params: Mapping[str, str | None], settings: ReportsSection
) -> ReportRequest:
    """A report request from user parameters (API query or CLI); ValueError names the problem."""
    if kind not in ("queues", "agents", "calls"):
        raise ValueError(f"unknown report {kind!r}: use queues, agents or calls")
    if not params.get("from") or not params.get("to"):
        raise ValueError("from and to are required (ISO 8601 or epoch seconds)")
    tz = settings.zone()
    try:
        start = parse_time(params["from"] or "", tz)
        end = parse_time(params["to"] or "", tz)
    except ValueError:
        raise ValueError("from/to: use ISO 8601 (2026-11-22T08:00) or epoch seconds") from None
    if end <= start:
        raise ValueError("to must be after from")
    if end - start > settings.max_range_days * 86400:
        raise ValueError(f"a report covers at most {settings.max_range_days} days")
    interval = params.get("interval") or "30"
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)} (minutes, or day)")
    variant = params.get("variant") or settings.service_level_variant
    if variant not in SL_VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(SL_VARIANTS)}")
    return ReportRequest(
        kind,  # type: ignore[arg-type]
        start,
        end,
        INTERVALS[interval],
        variant,
        settings.short_abandon_s,
        settings.repeat_window_h * 3600,
        tz,
    )


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV; nested values (state times) as ``key=value;...``."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: ";".join(f"{a}={b}" for a, b in v.items())
                if isinstance(v, dict)
                else "|".join(map(str, v))
                if isinstance(v, list)
                else v
                for k, v in row.items()
            }
        )
    return buf.getvalue()


def parse_time(text: str, tz: tzinfo = UTC) -> float:
    """ISO 8601 (in ``tz`` unless it gives an offset) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.timestamp()
