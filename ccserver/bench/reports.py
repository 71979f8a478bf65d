"""Reports at month scale: project a month of calls, then time 30-day queue and agent reports.

A seeded hotline's event log is generated (``--days`` × ``--calls-per-day``
calls, over 08:00-20:00 UTC of each day, as the tracker, the IVR and the ACD
log them: IVR, queueing, abandons, offers, answers, holds, surveys, agents'
states), loaded into ``call_events`` with ``COPY``, projected by the report
projector (``incremental_us_per_event``: its time per event read), and the
queue report (30-minute rows) and agent report over the whole range are timed
from the projection. ``ondemand_queue_report_1d_s`` is one day's queue report
folded from the raw log, for comparison. ``restore_floor_s`` is what a process
taking over at the last day's close spends reading back the calls still open
(through the projection), ``restore_floor_fold_s`` the same by folding the day's
log. Without ``--dsn`` a throwaway
PostgreSQL cluster is created for the run and dropped afterwards; with one,
the database should be a scratch one (its event log is emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ccserver.commands.common import positive
from ccserver.reporting.projector import ReportProjector
from ccserver.reporting.source import ReportRequest, build_report
from ccserver.routing.restore import load_floor
from ccserver.store import call_events, upgrade_database
from ccserver.store.codec import to_json
from ccserver.store.pgcluster import Cluster, NoPostgres
from ccserver.store.schema import agent_intervals, call_records, report_projection, report_queues
from ccserver.store.values import utc
from contracts.sink import CallEvent

QUEUES = ("general", "billing", "tech")
SCRATCH = (call_events, call_records, agent_intervals, report_projection, report_queues)  # emptied
OPEN_S, CLOSE_S = 8 * 3600, 20 * 3600  # the center's day, UTC
AHT_S, WRAP_S, PATIENCE_S = 180.0, 20.0, 90.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn", help="PostgreSQL URL of a scratch database (default: a throwaway cluster)"
    )
    parser.add_argument("--days", type=positive(int), default=30, help="days of calls (default 30)")
    parser.add_argument(
        "--calls-per-day", type=positive(int), default=20_000, help="calls a day (default 20,000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same run)")
    parser.add_argument("--batch-size", type=positive(int), default=50_000, help="projector batch")


def first_day(days: int) -> float:
    """Midnight UTC ``days`` days before today's: the generated month ends yesterday."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today.timestamp() - days * 86400


def hotline_events(
    days: int, calls_per_day: int, *, seed: int = 7, start: float | None = None
) -> Iterator[CallEvent]:
    """A seeded hotline's event log, day by day, each day's events in time order."""
    rng = random.Random(seed)
    start = first_day(days) if start is None else start
    load = calls_per_day * (AHT_S + WRAP_S) / (CLOSE_S - OPEN_S)
    n_agents = max(2, math.ceil(load * 0.95))  # a little short: some wait, some give up
    callers = [f"555{rng.randrange(10**7):07d}" for _ in range(max(1, calls_per_day * 4 // 5))]
    for day in range(days):
        midnight = start + day * 86400
        yield from sorted(_day(rng, day, midnight, calls_per_day, n_agents, callers), key=_at)


def _at(e: CallEvent) -> float:
    return e.at


def _day(
    rng: random.Random,
    day: int,
    midnight: float,
    calls: int,
    n_agents: int,
    callers: list[str],
) -> Iterator[CallEvent]:
    opens, closes = midnight + OPEN_S, midnight + CLOSE_S
    agents = [f"a{i:03d}" for i in range(n_agents)]
    serial = 0

    def event(at: float, call: str, kind: str, **data: Any) -> CallEvent:
        nonlocal serial
        serial += 1
        return CallEvent(f"d{day}-{serial}", round(at, 6), call, kind, data)

    def state(at: float, agent: str, name: str, code: str | None = None) -> CallEvent:
        return event(at, "", "acd.agent_state", agent=agent, state=name, code=code, until=None)

    free = [(opens, agent) for agent in agents]  # (free from, agent): the earliest first
    for agent in agents:
        yield state(opens - 60 + rng.random() * 50, agent, "available")
    arrivals = sorted(opens + rng.random() * (closes - opens - 1800) for _ in range(calls))
    for n, arrived in enumerate(arrivals):
        call, trunk = f"d{day}-c{n}", f"PJSIP/trunk-{day}-{n}"
        yield event(arrived, call, "call.started", caller=rng.choice(callers), channel=trunk)
        t = arrived
        if rng.random() < 0.7:
            yield event(t + 0.2, call, "ivr.started", channel=trunk)
            t += 10 + rng.random() * 40
            if rng.random() < 0.2:
                outcome = "self_served" if rng.random() < 0.8 else "hangup"
                yield event(t, call, "ivr.ended", outcome=outcome, path=["language", "main"])
                yield event(t + 1, call, "channel.hungup", channel=trunk)
                yield event(t + 1, call, "call.ended")
                continue
            path = ["language", "main", "agent"]
            yield event(t, call, "ivr.ended", outcome="handoff", path=path)
        queue = rng.choice(QUEUES)
        offered = t + 0.1
        yield event(offered, call, "acd.queued", queue=queue)
        free_at, agent = heapq.heappop(free)
        ring = 2 + rng.random() * 4
        answered = max(offered, free_at) + ring
        patience = rng.expovariate(1 / PATIENCE_S)
        if answered - offered > patience:
            heapq.heappush(free, (free_at, agent))
            gone = offered + patience
            yield event(gone, call, "acd.abandoned", queue=queue)
            yield event(gone, call, "channel.hungup", channel=trunk)
            yield event(gone, call, "call.ended")
            continue
        leg = f"PJSIP/{agent}-{day}-{n}"
        rang = answered - ring
        yield state(rang, agent, "offered")
        yield event(rang, call, "acd.offer", agent=agent, endpoint=agent)
        yield event(rang, call, "dial.begin", channel=trunk, dest=leg)
        yield event(answered, call, "dial.end", channel=trunk, dest=leg, status="ANSWER")
        yield event(answered, call, "acd.connected", agent=agent, waited_s=answered - offered)
        yield state(answered + 0.001, agent, "on_call")
        talk = 20 + rng.expovariate(1 / (AHT_S - 20))
        if rng.random() < 0.1:
            held = answered + talk / 3
            yield event(held, call, "channel.hold", channel=leg)
            yield event(held + 5 + rng.random() * 30, call, "channel.unhold", channel=leg)
            talk += 40
        talk_end = answered + talk
        yield event(talk_end, call, "channel.hungup", channel=leg)
        yield state(talk_end + 0.001, agent, "wrap_up")
        end = talk_end + 0.5
        if rng.random() < 0.2:
            end += 8
            yield event(end - 1, call, "survey.score", survey="call", score=rng.randint(1, 5))
        yield event(end, call, "channel.hungup", channel=trunk)
        yield event(end, call, "call.ended")
        done = talk_end + WRAP_S * (0.5 + rng.random())
        if rng.random() < 0.05:  # a break now and then
            yield state(done, agent, "not_ready", rng.choice(["lunch", "break", "training"]))
            done += 300 + rng.random() * 600
        yield state(done, agent, "available")
        heapq.heappush(free, (done, agent))
    for free_at, agent in free:
        yield state(max(closes, free_at) + 1, agent, "logged_out")


async def load_events(engine: AsyncEngine, events: Iterator[CallEvent], first_seq: int = 1) -> int:
    """Store events in ``call_events`` (COPY on PostgreSQL), seq from ``first_seq``; how many."""
    n, chunk = 0, []
    for event in events:
        chunk.append(_row(first_seq + n, event))
        n += 1
        if len(chunk) >= 50_000:
            await _store(engine, chunk)
            chunk = []
    if chunk:
        await _store(engine, chunk)
    return n


def _row(seq: int, e: CallEvent) -> tuple[Any, ...]:
    return (e.id, utc(e.at), e.call_id, e.kind, to_json(e.data), seq)


async def _store(engine: AsyncEngine, rows: list[tuple[Any, ...]]) -> None:
    columns = ("id", "at", "call_id", "kind", "data", "seq")
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            raw = await conn.get_raw_connection()
            pg: Any = raw.driver_connection
            await pg.copy_records_to_table("call_events", records=rows, columns=columns)
        else:
            dicts = [dict(zip(columns, row, strict=True)) for row in rows]
            for d in dicts:
                d["data"] = json.loads(d["data"])  # the JSON column encodes it again
            await conn.execute(insert(call_events), dicts)


async def bench(url: str, days: int, per_day: int, seed: int, batch: int) -> dict[str, Any]:
    await asyncio.to_thread(upgrade_database, url)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for table in SCRATCH:
                await conn.execute(delete(table))
        start = first_day(days)
        t0 = time.perf_counter()
        events = await load_events(engine, hotline_events(days, per_day, seed=seed, start=start))
        load_s = time.perf_counter() - t0
        projector = ReportProjector(engine, batch_size=batch)
        t0 = time.perf_counter()
        await projector.catch_up()
        project_s = time.perf_counter() - t0
        async with engine.connect() as conn:
            calls = (await conn.execute(select(func.count()).select_from(call_records))).scalar()
        if engine.dialect.name == "postgresql":  # as autovacuum would have by then
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE call_records"))
                await conn.execute(text("ANALYZE agent_intervals"))
        end = start + days * 86400
        figures: dict[str, Any] = {
            "calls": int(calls or 0),
            "events": events,
            "load_s": round(load_s, 2),
            "incremental_us_per_event": round(project_s / max(1, events) * 1e6, 2),
        }
        for kind in ("queues", "agents"):
            req = ReportRequest(kind, start, end, interval_s=1800)
            t0 = time.perf_counter()
            rows = await build_report(engine, req, lambda q: 20.0, now=end)
            figures[f"{kind[:-1]}_report_{days}d_s"] = round(time.perf_counter() - t0, 3)
            figures[f"{kind[:-1]}_report_rows"] = len(rows)
        req = ReportRequest("queues", start, start + 86400, interval_s=1800)
        t0 = time.perf_counter()
        await build_report(engine, req, lambda q: 20.0, now=end, projection=False)
        figures["ondemand_queue_report_1d_s"] = round(time.perf_counter() - t0, 3)
        # a process taking over at the last day's close: the floor it reads back, through
        # the projection and by folding the day's log (as it did before the projection)
        close = start + (days - 1) * 86400 + CLOSE_S
        for name, projection in (("restore_floor_s", True), ("restore_floor_fold_s", False)):
            t0 = time.perf_counter()
            await load_floor(engine, close, projection=projection)
            figures[name] = round(time.perf_counter() - t0, 3)
        return figures
    finally:
        await engine.dispose()


def _asyncpg_url(dsn: str) -> str:
    url = make_url(dsn)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"--dsn must be a PostgreSQL URL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, load, project and report; the figures (see the module)."""
    days, per_day = args.days, args.calls_per_day
    if args.dsn:
        url = _asyncpg_url(args.dsn)
        return asyncio.run(bench(url, days, per_day, args.seed, args.batch_size))
    try:
        cluster = Cluster.create("ccs_bench_")
    except NoPostgres as exc:
        raise SystemExit(str(exc)) from None
    try:
        url = cluster.create_database("bench")
        return asyncio.run(bench(url, days, per_day, args.seed, args.batch_size))
    finally:
        cluster.drop()
