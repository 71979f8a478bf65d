"""The queue and agent reports summed by PostgreSQL from the projection (month scale).

A month holds some 600,000 calls: loading each as a record into Python takes
longer than the report may. Here PostgreSQL sums ``call_records`` and
``agent_intervals`` into the same tallies the Python fold makes
(:class:`QueueInterval`, :class:`AgentCalls`, state seconds), and the rows are
made from them by the same functions (``queue_rows``, ``agent_rows``). The
per-call quantities follow ``CallRecord`` exactly (wait, talk, handle, the
short-abandon rule, the repeat-call window); a call's wrap-up (the sum of the
``wrap_up`` intervals the projector gave it) and the arrival of its caller's
next call are kept on its row by the projector, so no query here joins the
intervals or sorts the month by caller. The reports are the same as the
fold's (``tests/integration/ccserver/test_report_projection.py``).

The queue report is two scans of the range, run at once on two connections:
the queue tallies (which need each queue's threshold: the names come from
``report_queues``, kept by the projector) and the IVR's by arrival. Survey
scores are tallied (count, sum, fours and fives), not collected into an array
per group: the arrays made the month's grouping spill to disk.

Interval edges are the Python ones: a call's interval is keyed by its local
offset and ``floor((t + offset) / interval)``, and ``interval_start`` of the
group's first call gives its start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from acd.service_level import SlVariant

from ..store.schema import report_queues
from ..store.values import utc
from .calls import StateInterval
from .kpis import ALL, AgentCalls, QueueInterval, agent_rows, interval_start, queue_rows

# one row per call in [lo, hi): the CallRecord quantities the reports sum
_CALLS = """
WITH base AS (
    SELECT r.*,
        CASE WHEN r.offered_at IS NULL OR coalesce(r.answered_at, r.ended_at) IS NULL THEN NULL
             ELSE greatest(0, coalesce(r.answered_at, r.ended_at) - r.offered_at) END AS wait_s,
        CASE WHEN r.answered_at IS NULL THEN 0
             ELSE greatest(0, coalesce(r.talk_end_at, r.ended_at, r.answered_at) - r.answered_at
                              - r.transfer_gap_s - r.hold_s) END AS talk_s
    FROM call_records r
    WHERE r.started_at >= :lo AND r.started_at < :hi
), calls AS (
    SELECT *,
        CASE WHEN disposition = 'abandoned' AND coalesce(wait_s, 0) < CAST(:short AS float8)
             THEN 'short_abandon' ELSE disposition END AS disp,
        {repeated} AS repeated
    FROM base
)
"""

# another call from the same number within the window after this one (kpis._repeats):
# the first one after it (kept by the projector) is
_REPEATED = """(caller <> '' AND arrived_at IS NOT NULL AND next_arrived_at IS NOT NULL
             AND next_arrived_at <= arrived_at + CAST(:window AS float8))"""

_SHIFT = "round(extract(epoch from (to_timestamp({t}) AT TIME ZONE CAST(:tz AS text))) - {t})"

_QUEUES = (
    _CALLS
    + """
, keyed AS (
    SELECT *, {shift} AS shift, {thresholds} AS threshold FROM calls
    WHERE offered_at >= CAST(:start AS float8) AND offered_at < CAST(:end AS float8)
      AND queue IS NOT NULL
      -- the stored disposition is the fold's without the short-abandon rule (the
      -- projector's): 'abandoned' there is abandoned or short_abandon here
      AND disposition IN ('answered', 'abandoned')
)
SELECT queue, shift, floor((offered_at + shift) / CAST(:interval AS float8)) AS bucket,
    min(offered_at) AS first_at,
    count(*) AS offered,
    count(*) FILTER (WHERE disposition = 'answered') AS answered,
    count(*) FILTER (WHERE disposition <> 'answered') AS abandoned,
    count(*) FILTER (WHERE disp = 'short_abandon') AS short_abandons,
    count(*) FILTER (WHERE disposition = 'answered' AND coalesce(wait_s, 0) <= threshold)
        AS answered_within,
    count(*) FILTER (WHERE disposition <> 'answered' AND coalesce(wait_s, 0) <= threshold)
        AS abandoned_within,
    coalesce(sum(coalesce(wait_s, 0)) FILTER (WHERE disposition = 'answered'), 0)
        AS wait_answered_s,
    coalesce(sum(coalesce(wait_s, 0)) FILTER (WHERE disposition <> 'answered'), 0)
        AS wait_abandoned_s,
    coalesce(max(coalesce(wait_s, 0)), 0) AS longest_wait_s,
    coalesce(sum(talk_s + hold_s + wrap_s) FILTER (WHERE disposition = 'answered'), 0)
        AS handle_s,
    coalesce(sum(talk_s) FILTER (WHERE disposition = 'answered'), 0) AS talk_s,
    coalesce(sum(hold_s) FILTER (WHERE disposition = 'answered'), 0) AS hold_s,
    coalesce(sum(wrap_s) FILTER (WHERE disposition = 'answered'), 0) AS wrap_s,
    count(*) FILTER (WHERE disposition = 'answered' AND repeated) AS repeat_calls,
    count(survey) FILTER (WHERE disposition = 'answered') AS surveys,
    coalesce(sum(survey) FILTER (WHERE disposition = 'answered'), 0) AS survey_sum,
    count(*) FILTER (WHERE disposition = 'answered' AND survey >= 4) AS survey_top2
FROM keyed GROUP BY queue, shift, bucket
"""
)

# the IVR's calls by arrival: self-served and deflected need neither wrap-up nor wait;
# by queue too, so the same scan names the queues whose thresholds the queue query needs
_IVR = """
WITH keyed AS (
    SELECT queue, arrived_at, disposition, {shift} AS shift,
        ivr AND arrived_at >= CAST(:start AS float8) AND arrived_at < CAST(:end AS float8) AS mine
    FROM call_records WHERE started_at >= :lo AND started_at < :hi
)
SELECT queue, floor((arrived_at + shift) / CAST(:interval AS float8)) AS bucket,
    min(arrived_at) FILTER (WHERE mine) AS first_at,
    count(*) FILTER (WHERE mine) AS ivr_calls,
    count(*) FILTER (WHERE mine AND disposition = 'self_served') AS self_served,
    count(*) FILTER (WHERE mine AND disposition = 'deflected') AS deflected
FROM keyed GROUP BY queue, shift, bucket
"""

_SUMMED = (
    "offered", "answered", "abandoned", "short_abandons", "answered_within", "abandoned_within",
    "wait_answered_s", "wait_abandoned_s", "handle_s", "talk_s", "hold_s", "wrap_s",
    "repeat_calls", "surveys", "survey_sum", "survey_top2",
)  # fmt: skip


def _shift(t: str, tz: tzinfo, start: float, end: float) -> str:
    """The local offset of time ``t`` in SQL: a constant when ``tz`` keeps one offset over
    ``[start, end]`` (UTC, most of a year elsewhere), which spares converting each row.

    Offsets change on a quarter hour at the earliest (daylight saving), so a quarter-
    hourly look at the range sees any change.
    """
    step = 900
    offsets = {
        datetime.fromtimestamp(min(t0, end), tz).utcoffset()
        for t0 in range(int(start), int(end) + step, step)
    }
    if len(offsets) == 1 and (offset := offsets.pop()) is not None:
        return f"CAST({float(round(offset.total_seconds()))!r} AS float8)"
    return _SHIFT.format(t=t)


async def _hash_groups(conn: AsyncConnection) -> None:
    """Group by hashing, not sorting, in this transaction only.

    The planner expects a few hundred of a month's calls per group key
    (computed from the interval arithmetic) and sorts the whole month to
    group it, spilling to disk: summing in a hash table takes about half as
    long (``ccserver bench reports``).
    """
    await conn.execute(text("SET LOCAL enable_sort = off"))


async def _rows(engine: AsyncEngine, query: str, params: dict[str, Any]) -> list[Row[Any]]:
    """One grouping query's rows, on a connection of its own."""
    async with engine.connect() as conn:
        await _hash_groups(conn)
        return list((await conn.execute(text(query), params)).all())


async def queue_report_sql(
    engine: AsyncEngine,
    *,
    lo: float,
    hi: float,
    start: float,
    end: float,
    interval_s: int,
    threshold_s: Callable[[str], float],
    variant: SlVariant,
    short_abandon_s: float,
    repeat_window_s: float,
    tz: tzinfo,
) -> list[dict[str, Any]]:
    """``queue_report`` over the projected calls that started in ``[lo, hi)``, summed in SQL."""
    params: dict[str, Any] = {
        "lo": utc(lo), "hi": utc(hi), "start": start, "end": end, "interval": interval_s,
        "short": short_abandon_s, "window": float(repeat_window_s), "tz": str(tz),
    }  # fmt: skip
    rows: dict[tuple[str, float], QueueInterval] = {}

    def row(queue: str, first_at: float) -> QueueInterval:
        key = (queue, interval_start(first_at, interval_s, tz))
        if key not in rows:
            rows[key] = QueueInterval(queue=queue, start=key[1])
        return rows[key]

    def query(names: Iterable[str]) -> tuple[str, dict[str, Any]]:
        """The queue query with each named queue's threshold (unnamed: none counted)."""
        named, cases = dict(params), []
        for n, queue in enumerate(sorted(names)):
            named[f"q{n}"], named[f"t{n}"] = queue, float(threshold_s(queue))
            cases.append(f"WHEN CAST(:q{n} AS text) THEN CAST(:t{n} AS float8)")
        thresholds = f"CASE queue {' '.join(cases)} END" if cases else "0.0"
        shift = _shift("offered_at", tz, start, end)
        return _QUEUES.format(shift=shift, thresholds=thresholds, repeated=_REPEATED), named

    async with engine.connect() as conn:
        known = set((await conn.execute(select(report_queues.c.queue))).scalars())
    # the queue names the projector keeps (migration 0012) let the two scans run at
    # once, on two connections; the IVR scan still names the queues it meets, so a
    # name missing there (rows projected before it was kept) costs a second queue scan
    ivr_query = _IVR.format(shift=_shift("arrived_at", tz, start, end))
    ivr, groups = await asyncio.gather(
        _rows(engine, ivr_query, params), _rows(engine, *query(known))
    )
    queues = {g.queue for g in ivr if g.queue is not None}
    if not queues <= known:
        groups = await _rows(engine, *query(queues | known))
    for g in groups:
        for q in (row(g.queue, g.first_at), row(ALL, g.first_at)):
            for name in _SUMMED:
                setattr(q, name, getattr(q, name) + getattr(g, name))
            q.longest_wait_s = max(q.longest_wait_s, g.longest_wait_s)
    for g in ivr:
        if g.ivr_calls:
            q = row(ALL, g.first_at)
            q.ivr_calls += g.ivr_calls
            q.self_served += g.self_served
            q.deflected += g.deflected
    return queue_rows(rows.values(), variant, tz)


_AGENT_CALLS = (
    _CALLS
    + """
SELECT agent, count(*) AS calls, sum(talk_s) AS talk_s, sum(hold_s) AS hold_s,
    sum(wrap_s) AS wrap_s, sum(talk_s + hold_s + wrap_s) AS handle_s,
    array_agg(survey) FILTER (WHERE survey IS NOT NULL) AS scores
FROM calls
WHERE agent IS NOT NULL AND agent <> ''
    AND answered_at >= CAST(:start AS float8) AND answered_at < CAST(:end AS float8)
GROUP BY agent
"""
)

# each agent's time by state and reason in [start, until), as clip_intervals clips it
_AGENT_STATES = """
SELECT agent, state, reason,
    sum(greatest(0, least(coalesce("until", CAST(:until AS float8)), CAST(:until AS float8))
                    - greatest(since, CAST(:start AS float8)))) AS s
FROM agent_intervals WHERE since_at >= :lo AND since_at < :hi
GROUP BY agent, state, reason
"""


async def agent_report_sql(
    engine: AsyncEngine,
    *,
    lo: float,
    hi: float,
    start: float,
    end: float,
    until: float,
    short_abandon_s: float,
) -> list[dict[str, Any]]:
    """``agent_report`` over the projection in ``[lo, hi)``, summed in SQL."""
    params: dict[str, Any] = {
        "lo": utc(lo), "hi": utc(hi), "start": start, "end": end, "until": until,
        "short": short_abandon_s, "window": 0.0,
    }  # fmt: skip
    calls: dict[str, AgentCalls] = {}
    intervals: dict[str, list[StateInterval]] = {}
    async with engine.connect() as conn:
        await _hash_groups(conn)
        for g in await conn.execute(text(_AGENT_CALLS.format(repeated="false")), params):
            calls[g.agent] = AgentCalls(
                g.calls, g.talk_s, g.hold_s, g.wrap_s, g.handle_s, list(g.scores or [])
            )
        for g in await conn.execute(text(_AGENT_STATES), params):
            spans = intervals.setdefault(g.agent, [])
            if g.s > 0:  # one interval per state and reason: the agent report sums them
                spans.append(StateInterval(g.agent, g.state, g.reason, 0.0, g.s))
    return agent_rows(calls, intervals)
