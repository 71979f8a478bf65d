"""The event writer on PostgreSQL: COPY exactly once, a database restart, a killed ccserver."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import EventWriter, Spool, call_events, spool_path, upgrade_database
from ccserver.store.codec import decode
from contracts.sink import CallEvent

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[4]


def event(n: int, prefix: str = "ev") -> CallEvent:
    return CallEvent(
        f"{prefix}-{n:07d}",
        1_700_000_000.0 + n / 1000,
        f"call-{n // 20}",
        "channel.state",
        {"channel": f"PJSIP/{1000 + n % 50}-{n:08x}", "n": n, "name": "Zoë"},
    )


async def stored(url: str) -> list[tuple[str, int, Any]]:
    """(id, seq, data) of every row, in seq order."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                select(call_events.c.id, call_events.c.seq, call_events.c.data).order_by(
                    call_events.c.seq
                )
            )
            return [(r.id, r.seq, r.data) for r in result]
    finally:
        await engine.dispose()


async def wait_for(predicate: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_copy_writes_every_event_once_and_a_replay_adds_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    events = [event(n) for n in range(5000)]
    writer = EventWriter(pg_url, batch_size=700, flush_interval_s=0.01, spool_dir=tmp_path)
    await writer.start()
    for i, e in enumerate(events):
        writer.emit(e)
        if i == 100:
            writer.emit(events[50])  # a duplicate id inside one batch: kept once
        if i % 500 == 0:
            await asyncio.sleep(0)
    await writer.stop()
    rows = await stored(pg_url)
    assert [r[0] for r in rows] == [e.id for e in events]
    assert rows[1234][2] == dict(events[1234].data)  # data round-trips through json
    assert all(a[1] < b[1] for a, b in itertools.pairwise(rows))
    assert writer.dropped == 0 and writer.spool is not None and not writer.spool.path.exists()

    # every event again, through a new writer (as after a crash): nothing is added
    replay = EventWriter(pg_url, batch_size=1000, spool_dir=tmp_path)
    await replay.start()
    for e in reversed(events):
        replay.emit(e)
    await replay.stop()
    assert replay.written == len(events) and replay.healthy
    assert replay.duplicates == len(events) and replay.conflicts == 0
    assert writer.duplicates == 1 and writer.conflicts == 0  # the one emitted twice
    assert await stored(pg_url) == rows


async def test_a_row_postgres_refuses_is_dropped_and_the_rest_of_its_batch_written(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    # spooled lines (as a crashed writer leaves them), one of them damaged on disk
    spool = Spool(spool_path(tmp_path, pg_url))
    spool.open()
    line = '{{"seq":{0},"id":"ev-{0}","at":1.5,"call_id":"c","kind":"k","data":{1}}}\n'
    lines = [line.format(n, "{}" if n != 37 else '{"x":\x00}') for n in range(1, 101)]
    spool.append("".join(lines).encode())
    spool.close()
    writer = EventWriter(pg_url, spool_dir=tmp_path)
    await writer.start()
    await writer.stop()
    assert [r[0] for r in await stored(pg_url)] == [f"ev-{n}" for n in range(1, 101) if n != 37]
    assert writer.dropped == 1 and "'ev-37' refused by the database" in caplog.text


async def test_postgres_stopped_mid_traffic_and_restarted(own_cluster: Any, tmp_path: Path) -> None:
    url = own_cluster.create_database("restart")
    await asyncio.to_thread(upgrade_database, url)
    # a hand-off of 500 events: the outage's backlog is mostly on disk only
    writer = EventWriter(
        url,
        batch_size=200,
        flush_interval_s=0.02,
        queue_size=500,
        retry_max_s=0.2,
        spool_dir=tmp_path,
    )
    await writer.start()
    emitted: list[str] = []
    running = True

    async def traffic() -> None:
        n = 0
        while running:
            for _ in range(10):
                e = event(n)
                writer.emit(e)
                emitted.append(e.id)
                n += 1
            await asyncio.sleep(0.002)

    producer = asyncio.create_task(traffic())
    try:
        await wait_for(lambda: writer.written > 500, 10)
        await asyncio.to_thread(own_cluster.stop)
        try:
            await wait_for(lambda: not writer.healthy, 10)
            await wait_for(lambda: writer.spooled > 2000, 20)  # well past the memory bound
            assert writer.oldest_pending_at is not None
            assert writer._handoff_events <= 500 + 1000
        finally:
            await asyncio.to_thread(own_cluster.start)
        await asyncio.sleep(0.5)
    finally:
        running = False
        await producer
    await wait_for(lambda: writer.written >= len(emitted), 60)
    assert writer.healthy and writer.spooled == 0 and writer.dropped == 0
    await writer.stop()
    rows = await stored(url)
    assert [r[0] for r in rows] == emitted  # each once, in seq order = emit order
    assert writer.failures > 0


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from ccserver.store import EventWriter
    from contracts.sink import CallEvent

    async def main(url, spool):
        # commits every half second: at any moment the last events are spooled only
        writer = EventWriter(url, batch_size=100_000, flush_interval_s=0.5, spool_dir=spool)
        await writer.start()
        print("started", flush=True)
        n = 0
        while True:
            for _ in range(20):
                writer.emit(CallEvent(f"k-{n:07d}", 1.7e9 + n, f"c{n}", "test.tick", {"n": n}))
                n += 1
            await asyncio.sleep(0.005)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def spooled_ids(folder: Path) -> list[str]:
    """The ids of the whole lines in a spool's segments (a torn last line is not written)."""
    ids = []
    for segment in sorted(folder.glob("*.jsonl")):
        for line in segment.read_bytes().splitlines(keepends=True):
            if line.endswith(b"\n"):
                ids.append(decode(line)[1])
    return ids


async def test_ccserver_killed_mid_traffic_and_restarted(pg_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade_database, pg_url)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    spool_root = tmp_path / "spool"
    env = os.environ | {"PYTHONPATH": str(REPO)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(script), pg_url, str(spool_root),
        stdout=asyncio.subprocess.PIPE, env=env, cwd=REPO,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        async with asyncio.timeout(30):
            assert (await child.stdout.readline()).strip() == b"started"
        # kill it a fifth of a second after a commit, well before the next one
        deadline = time.monotonic() + 20
        while not await stored(pg_url):
            assert time.monotonic() < deadline and child.returncode is None
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    before = {r[0] for r in await stored(pg_url)}
    spooled = spooled_ids(spool_path(spool_root, pg_url))
    assert before and set(spooled) - before, "the kill should leave events in the spool only"

    writer = EventWriter(pg_url, spool_dir=spool_root)  # the same spool: it replays
    await writer.start()
    await writer.stop()
    rows = await stored(pg_url)
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) and writer.conflicts == 0
    assert set(ids) == set(spooled) and before <= set(ids)
    # nothing missing in between, and seq order is emit order
    assert ids == [f"k-{n:07d}" for n in range(len(ids))]
