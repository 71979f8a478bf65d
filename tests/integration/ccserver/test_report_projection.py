"""The reports' projection (call_records, agent_intervals) against the on-demand fold.

The same events, written through the real event writer, are projected
incrementally (in uneven batches, with a chunk written twice and projectors
restarted in the middle) and folded on demand: every report must be identical.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from support import write_events

from ccserver.bench import reports as bench
from ccserver.reporting.projector import ReportProjector, lag
from ccserver.reporting.source import ReportRequest, build_report, use_projection
from ccserver.store import upgrade_database
from ccserver.store.schema import call_records
from contracts.sink import CallEvent

START = datetime(2026, 10, 30, tzinfo=UTC).timestamp()  # two months: October and November
DAYS = 3


def thresholds(queue: str) -> float:
    return {"general": 20.0, "billing": 30.0}.get(queue, 15.0)


def transferred_call(at: float) -> list[CallEvent]:
    """A blind transfer from a00 to a01's endpoint (named by endpoint only), with hold."""

    def ev(t: float, event_kind: str, **data: object) -> CallEvent:
        return CallEvent(f"x-{event_kind}-{t}", at + t, "x1", event_kind, data)

    trunk, first, second = "PJSIP/trunk-x", "PJSIP/a00-x", "PJSIP/a01-y"
    return [
        ev(0, "call.started", caller="5550001111", channel=trunk),
        ev(1, "acd.queued", queue="general"),
        ev(2, "acd.offer", agent="a00", endpoint="a00"),
        ev(2, "dial.begin", channel=trunk, dest=first),
        ev(4, "dial.end", channel=trunk, dest=first, status="ANSWER"),
        ev(4, "acd.connected", agent="a00"),
        ev(4.5, "call.recording", file="2026/x1.wav", channel=first),
        ev(30, "channel.hold", channel=first),
        ev(40, "channel.unhold", channel=first),
        ev(60, "call.transferred", kind="blind", result="Success", to="a01"),
        ev(60, "channel.unbridged", channel=first),
        ev(65, "dial.end", channel=trunk, dest=second, status="ANSWER"),
        ev(125, "channel.hungup", channel=second),
        ev(126, "channel.hungup", channel=trunk),
        ev(126, "call.ended"),
        # filed on the desk after the call (late events update its record)
        ev(130, "call.disposition", agent="a01", code="billing", text=""),
        ev(131, "call.note", agent="a01", text="moved to the new plan"),
    ]


def month_of_events() -> list[CallEvent]:
    events = list(bench.hotline_events(DAYS, 300, seed=3, start=START))
    events += transferred_call(START + 86400 + 12 * 3600 + 7)
    events.sort(key=lambda e: e.at)
    return events


async def write(url: str, events: list[CallEvent]) -> None:
    """Through the event writer, as the server stores them (a replay is stored once)."""
    await write_events(url, events, batch_size=997)


async def all_reports(engine: AsyncEngine, *, projection: bool) -> dict[str, object]:
    end = START + DAYS * 86400
    out: dict[str, object] = {}
    for kind, interval, tz in [
        ("queues", 900, UTC),
        ("queues", 1800, ZoneInfo("Asia/Shanghai")),
        ("queues", 86400, ZoneInfo("America/New_York")),
        ("agents", 1800, UTC),
        ("calls", 1800, UTC),
    ]:
        for lo, hi in [(START, end), (START + 86400, START + 2 * 86400)]:
            req = ReportRequest(kind, lo, hi, interval, "abandons_against", tz=tz)  # type: ignore[arg-type]
            rows = await build_report(engine, req, thresholds, now=end, projection=projection)
            out[f"{kind}-{interval}-{tz}-{lo}"] = rows
    return out


async def project_in_pieces(url: str, events: list[CallEvent], rng: random.Random) -> int:
    """Write the events in uneven chunks (one twice), projecting as they land."""
    engine = create_async_engine(url)
    try:
        projector = ReportProjector(engine, batch_size=rng.randint(50, 3000))
        i, chunks = 0, 0
        while i < len(events):
            n = rng.randint(1, 1500)
            chunk = events[i : i + n]
            await write(url, chunk)
            if chunks == 2:
                await write(url, chunk)  # replayed: stored once, projected once
            for _ in range(rng.randint(0, 3)):
                await projector.step()
            if chunks % 3 == 1:  # a restart: a new projector resumes from the checkpoint
                projector = ReportProjector(engine, batch_size=rng.randint(50, 3000))
            i += n
            chunks += 1
        await projector.catch_up()
        return chunks
    finally:
        await engine.dispose()


async def check_identical(url: str) -> AsyncEngine:
    await asyncio.to_thread(upgrade_database, url)
    engine = create_async_engine(url)
    await write(url, [CallEvent("e0", START, "c0", "call.started", {"caller": "1"})])
    # no projector has run: the reports fold the log on demand
    assert not await use_projection(engine, START)
    events = month_of_events()
    chunks = await project_in_pieces(url, events[:-40], random.Random(5))
    assert chunks > 5
    await write(url, events[-40:])  # not projected yet: a report folds them in first
    assert await lag(engine, 10) == (11, events[-41].at)
    assert await use_projection(engine, START + 10 * 86400)
    assert await lag(engine, 10) == (0, events[-1].at)
    projected = await all_reports(engine, projection=True)
    on_demand = await all_reports(engine, projection=False)
    for key, rows in on_demand.items():
        assert rows, key
        assert projected[key] == rows, key
    calls = {r["call_id"]: r for r in on_demand[f"calls-1800-UTC-{START}"]}  # type: ignore[union-attr]
    assert calls["x1"]["agent"] == "a01" and calls["x1"]["hold_s"] == 10  # the transfer
    assert calls["x1"]["disposition_code"] == "billing" and calls["x1"]["notes"]
    dispositions = {r["disposition"] for r in calls.values()}
    assert {"answered", "abandoned", "short_abandon", "self_served"} <= dispositions
    assert any(r["wrap_s"] > 0 for r in calls.values())
    queues = on_demand[f"queues-900-UTC-{START}"]
    assert isinstance(queues, list) and any(r["repeat_call_rate"] for r in queues)
    # the survey tallies (count, mean, top-2 share) are compared too, not only zeros
    assert any(r["surveys"] and r["csat_top2_share"] not in (0, 1) for r in queues)
    return engine


async def test_incremental_projection_equals_on_demand_fold_sqlite(tmp_path: Path) -> None:
    engine = await check_identical(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    await engine.dispose()


@pytest.mark.postgres
async def test_incremental_projection_equals_on_demand_fold_postgres(pg_url: str) -> None:
    engine = await check_identical(pg_url)
    try:
        async with engine.connect() as conn:
            for table in ("call_records", "agent_intervals"):
                rows = await conn.execute(
                    text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")
                )
                where = dict(rows.all())
                # the rows are in their months' partitions, none in the default one
                assert set(where) == {f"{table}_p202610", f"{table}_p202611"}, where
                assert all(n > 100 for n in where.values())
            stored = (await conn.execute(select(func.count()).select_from(call_records))).scalar()
            assert stored == DAYS * 300 + 2  # and the transfer, and c0
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_bench_reports_runs_tiny(pg_url: str) -> None:
    args = argparse.Namespace(
        dsn=pg_url.replace("+asyncpg", ""), days=2, calls_per_day=150, seed=1, batch_size=700
    )
    figures = bench.measure(args)
    assert figures["calls"] == 300 and figures["events"] > 300 * 5
    reports = ("queue_report_2d_s", "agent_report_2d_s", "incremental_us_per_event")
    for key in (*reports, "restore_floor_s", "restore_floor_fold_s"):
        assert figures[key] > 0, key  # timed (how fast depends on the machine)
    assert figures["queue_report_rows"] > 2 * 24 and figures["agent_report_rows"] >= 2


async def test_projection_of_a_simulated_hotline_run_equals_on_demand_fold(hotline) -> None:
    """Real event shapes: a hotline's calls through the IVR and to the agent."""
    began = time.time() - 1
    calls = [
        await hotline.sim.place_call("5550100001", dtmf="11" + "1234"),  # self-served
        await hotline.sim.place_call("5559990001", dtmf="10w"),  # to the agent
        await hotline.sim.place_call("5559990002", dtmf="10w"),
        await hotline.sim.place_call("5559990001", dtmf="10w"),  # calls again
    ]
    for call in calls:
        await hotline.finish(call, timeout=30)
    await hotline.server.writer.flush()
    url = hotline.server.settings.store.url
    engine = create_async_engine(url)
    try:
        projector = ReportProjector(engine, batch_size=7)  # many small batches
        assert await projector.catch_up() > 20
        end = time.time() + 1
        for kind in ("queues", "agents", "calls"):
            req = ReportRequest(kind, began, end, 900)  # type: ignore[arg-type]
            projected = await build_report(engine, req, thresholds, now=end, projection=True)
            on_demand = await build_report(engine, req, thresholds, now=end, projection=False)
            assert projected == on_demand and projected, kind
        rows = {r["call_id"]: r for r in on_demand}
        assert sorted(r["disposition"] for r in rows.values()).count("answered") == 3
    finally:
        await engine.dispose()
