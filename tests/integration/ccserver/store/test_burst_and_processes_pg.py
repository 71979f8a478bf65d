"""The event writer on PostgreSQL under the issue's two probes: two processes, one burst.

* Two ccserver processes on one database, both starting in the same clock
  second (the old ``ivr-<second>-<n>`` ids were equal, and ``ON CONFLICT DO
  NOTHING`` silently kept one of each pair): every event is stored once.
* A resync that closes 50,000 vanished calls emits 100,000 events in one go,
  without yielding: with the server's own store settings and the spool, none
  is dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.config import StoreConfig
from ccserver.store import EventWriter, call_events, upgrade_database
from contracts.sink import ListSink
from cti import events as ev
from cti.tracker import CallTracker

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[4]

# one ccserver process's IVR ids and writer: the app's own construction of EventIds
CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from ccserver.store import EventWriter
    from contracts.sink import CallEvent
    from ivr.caller import EventIds

    async def main(url, spool, second, n):
        ids = EventIds(f"ivr-{second}")
        writer = EventWriter(url, batch_size=500, flush_interval_s=0.01, spool_dir=spool)
        await writer.start()
        emitted = []
        for i in range(n):
            event = CallEvent(ids(), second + i / 1000, f"call-{i // 10}", "ivr.node", {"i": i})
            writer.emit(event)
            emitted.append(event.id)
            if i % 200 == 0:
                await asyncio.sleep(0)
        await writer.stop()
        print(json.dumps({"ids": emitted, "written": writer.written,
                          "conflicts": writer.conflicts, "dropped": writer.dropped}))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    """
)


async def count_rows(url: str) -> tuple[int, int]:
    """(rows, distinct ids) in call_events."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(call_events))).scalar()
            distinct = (
                await conn.execute(select(func.count(func.distinct(call_events.c.id))))
            ).scalar()
            return int(rows or 0), int(distinct or 0)
    finally:
        await engine.dispose()


async def test_two_processes_started_in_the_same_second_store_every_event_once(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = os.environ | {"PYTHONPATH": str(REPO)}
    second, n = int(time.time()), 3000
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            pg_url,
            str(tmp_path / f"spool-{k}"),
            str(second),
            str(n),
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        for k in range(2)
    ]
    async with asyncio.timeout(120):
        outputs = [await child.communicate() for child in children]
    assert [child.returncode for child in children] == [0, 0]
    reports = [json.loads(out) for out, _ in outputs]
    all_ids = reports[0]["ids"] + reports[1]["ids"]
    assert len(set(all_ids)) == 2 * n  # the ids themselves never collide
    assert all(r["ids"][0].startswith(f"ivr-{second}-") for r in reports)
    assert [(r["written"], r["conflicts"], r["dropped"]) for r in reports] == [(n, 0, 0)] * 2
    assert await count_rows(pg_url) == (2 * n, 2 * n)


async def test_a_resync_burst_of_100000_events_loses_none(pg_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    store = StoreConfig()  # the server's own sizes: queue 50,000, batches of 5,000
    writer = EventWriter(
        pg_url,
        batch_size=store.batch_size,
        flush_interval_s=store.flush_interval_s,
        queue_size=store.queue_size,
        spool_dir=tmp_path / "spool",
    )
    await writer.start()
    # 55,000 calls the tracker follows; then a resync finds none of them in Asterisk
    tracker = CallTracker(ListSink())
    for n in range(55_000):
        uid = f"1700000000.{n}"
        tracker.apply(ev.Newchannel(Channel=f"PJSIP/trunk-{n}", Uniqueid=uid, Linkedid=uid), 1e9)
    tracker.sink = writer
    started = time.perf_counter()
    tracker.reconcile([], 1e9 + 5)  # channel.vanished and call.ended for each, in one go
    total = 110_000
    emitted_s = time.perf_counter() - started
    assert writer.dropped == 0
    assert writer.queued <= store.queue_size and writer.spilled > 0
    async with asyncio.timeout(120):
        while writer.written < total:
            await asyncio.sleep(0.05)
    written_s = time.perf_counter() - started
    await writer.stop()
    assert writer.written == total and writer.dropped == 0 and writer.conflicts == 0
    assert await count_rows(pg_url) == (total, total)
    print(f"burst: {total} events emitted in {emitted_s:.2f} s, all stored after {written_s:.2f} s")
