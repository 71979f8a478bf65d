"""The facts the projector keeps on a call's row for the month-scale reports (0011).

``wrap_s`` (the call's closed wrap-ups) and ``next_arrived_at`` (the caller's
next call) must be what the fold would give, whatever order the calls reach the
projector in and when a late event re-folds a call.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from support import write_events

from ccserver.reporting.projector import ReportProjector
from ccserver.reporting.source import ReportRequest, build_report
from ccserver.store import upgrade_database
from ccserver.store.schema import call_records
from contracts.sink import CallEvent

T = datetime(2026, 11, 2, 8, tzinfo=UTC).timestamp()
CALLER = "5550002222"


def answered(call: str, at: float, agent: str, wrap_s: float) -> list[CallEvent]:
    """A call answered by ``agent``, then ``wrap_s`` of wrap-up."""

    def ev(t: float, kind: str, **data: object) -> CallEvent:
        return CallEvent(
            f"{call}-{kind}-{t}", at + t, call if kind != "acd.agent_state" else "", kind, data
        )

    def state(t: float, name: str) -> CallEvent:
        return ev(t, "acd.agent_state", agent=agent, state=name, code=None, until=None)

    trunk, leg = f"PJSIP/trunk-{call}", f"PJSIP/{agent}-{call}"
    return [
        ev(0, "call.started", caller=CALLER, channel=trunk),
        ev(1, "acd.queued", queue="general"),
        state(2, "offered"),
        ev(2, "acd.offer", agent=agent, endpoint=agent),
        ev(2, "dial.begin", channel=trunk, dest=leg),
        ev(5, "dial.end", channel=trunk, dest=leg, status="ANSWER"),
        ev(5, "acd.connected", agent=agent, waited_s=4.0),
        state(5.001, "on_call"),
        ev(65, "channel.hungup", channel=leg),
        state(65.001, "wrap_up"),
        ev(65.5, "channel.hungup", channel=trunk),
        ev(65.5, "call.ended"),
        state(65.001 + wrap_s, "available"),
    ]


def abandoned(call: str, at: float) -> list[CallEvent]:
    trunk = f"PJSIP/trunk-{call}"
    return [
        CallEvent(f"{call}-s", at, call, "call.started", {"caller": CALLER, "channel": trunk}),
        CallEvent(f"{call}-q", at + 1, call, "acd.queued", {"queue": "general"}),
        CallEvent(f"{call}-a", at + 40, call, "acd.abandoned", {"queue": "general"}),
        CallEvent(f"{call}-e", at + 40, call, "call.ended", {}),
    ]


async def write(url: str, events: list[CallEvent]) -> None:
    await write_events(url, events, batch_size=100)


async def check_facts(url: str) -> None:
    await asyncio.to_thread(upgrade_database, url)
    engine = create_async_engine(url)

    async def facts() -> dict[str, tuple[float, float | None]]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    call_records.c.call_id, call_records.c.wrap_s, call_records.c.next_arrived_at
                )
            )
            return {r.call_id: (r.wrap_s, r.next_arrived_at) for r in rows}

    async def reports(projection: bool) -> list[object]:
        return [
            await build_report(
                engine,
                ReportRequest(kind, T - 3600, T + 86400, 3600),
                lambda q: 20.0,
                now=T + 86400,
                projection=projection,
            )
            for kind in ("queues", "agents")
        ]

    try:
        projector = ReportProjector(engine)
        # the later call reaches the projector first (a late batch), the earlier ones after
        await write(url, answered("b", T + 1000, "a00", wrap_s=20.0))
        await projector.catch_up()
        assert await facts() == {"b": (pytest.approx(20.0), None)}
        await write(url, abandoned("a", T + 100))
        await projector.catch_up()
        assert (await facts())["a"] == (0.0, T + 1000)
        await write(url, answered("c", T + 500, "a01", wrap_s=12.5))
        await projector.catch_up()
        got = await facts()
        assert got["a"] == (0.0, T + 500) and got["c"] == (pytest.approx(12.5), T + 1000)
        # a late event re-folds b (deleted, inserted): its wrap-up stays
        note = CallEvent("b-note", T + 1200, "b", "call.note", {"agent": "a00", "text": "ok"})
        await write(url, [note])
        await ReportProjector(engine).catch_up()  # and after a restart
        assert (await facts())["b"] == (pytest.approx(20.0), None)

        projected, folded = await reports(True), await reports(False)
        assert projected == folded
        queue_rows = projected[0]
        assert isinstance(queue_rows, list)
        # c (answered, b within a day after it) is a repeat call; b is not
        total = [r for r in queue_rows if r["queue"] == "*" and r["answered"]]
        assert sum(r["repeat_call_rate"] * r["answered"] for r in total) == 1
        assert sum(r["avg_wrap_s"] * r["answered"] for r in total) == pytest.approx(32.5)
    finally:
        await engine.dispose()


async def test_call_facts_sqlite(tmp_path: Path) -> None:
    await check_facts(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")


@pytest.mark.postgres
async def test_call_facts_postgres(pg_url: str) -> None:
    await check_facts(pg_url)
