"""The floor a process taking over reads back: the calls still open in the event log.

On PostgreSQL it asks the report projection which calls may be open (a day's
log is millions of calls) and folds only those, with the events the projector
has not reached yet; it must find exactly what folding the whole day finds.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import create_async_engine
from support import write_events

from ccserver.bench import reports as bench
from ccserver.reporting.projector import ReportProjector
from ccserver.routing.restore import load_floor
from ccserver.store import upgrade_database
from ccserver.store.schema import report_projection
from contracts import eventlog as el
from contracts.sink import CallEvent

NOW = 1_800_000_000.0


def call(call_id: str, at: float, *kinds: str) -> list[CallEvent]:
    """A call's events one second apart: started, then ``kinds``."""
    data = {
        el.CALL_STARTED: {"caller": "5550001", "channel": f"PJSIP/trunk-{call_id}"},
        el.ACD_QUEUED: {"queue": "general"},
        el.ACD_CONNECTED: {"agent": "a01"},
        el.CALL_ENDED: {},
    }
    return [
        CallEvent(f"{call_id}-{n}", at + n, call_id, kind, dict(data[kind]))
        for n, kind in enumerate((el.CALL_STARTED, *kinds))
    ]


async def test_the_open_calls_read_through_the_projection_are_the_whole_days_fold(
    pg_url: str,
) -> None:
    day = list(bench.hotline_events(1, 300, seed=5, start=NOW - 20 * 3600))  # all ended
    early = [
        *call("holding", NOW - 60, el.ACD_QUEUED),
        *call("talking", NOW - 300, el.ACD_QUEUED, el.ACD_CONNECTED),
        *call("ends-late", NOW - 120, el.ACD_QUEUED),
    ]
    await asyncio.to_thread(upgrade_database, pg_url)
    await write_events(pg_url, [*day, *early])
    engine = create_async_engine(pg_url)
    try:
        assert await ReportProjector(engine).catch_up() > 0
        # after the projector's checkpoint: one call ends, another begins
        late = [
            CallEvent("ends-late-9", NOW - 10, "ends-late", el.CALL_ENDED, {}),
            *call("new", NOW - 5, el.ACD_QUEUED),
        ]
        await write_events(pg_url, late)
        through_projection = await load_floor(engine, NOW)
        whole_day = await load_floor(engine, NOW, projection=False)
        async with engine.begin() as conn:  # no projection (SQLite): the whole day is folded
            await conn.execute(delete(report_projection))
        assert (await load_floor(engine, NOW)).open_calls == whole_day.open_calls

        assert through_projection.open_calls == whole_day.open_calls
        assert set(whole_day.open_calls) == {"holding", "talking", "new"}
        talking = whole_day.open_calls["talking"]
        assert (talking.queued_at, talking.answered_at, talking.agent) == (
            NOW - 299,
            NOW - 298,
            "a01",
        )
        # the lines a resync finds noted are looked up in the log, not held in memory,
        # folded as the log has them now (an open one came in after the floor was read)
        ended = next(e.call_id for e in reversed(day) if e.call_id)
        assert through_projection.logged is not None
        logged = await through_projection.logged(["holding", ended, "never-seen"])
        assert logged.known == {"holding", ended}
        assert logged.open_calls == {"holding": whole_day.open_calls["holding"]}
    finally:
        await engine.dispose()
