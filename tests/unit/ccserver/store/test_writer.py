"""The event writer on SQLite: spool first, batches, replay after a crash, drops counted."""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import EventWriter, SpoolError, call_events, spool_path, upgrade_database
from ccserver.store.codec import decode
from ccserver.store.spool import Spool
from contracts.sink import CallEvent


def event(n: int, **data: Any) -> CallEvent:
    return CallEvent(f"ev-{n:06d}", 1_700_000_000.0 + n, f"call-{n // 10}", "test.event", data)


@pytest.fixture
async def url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    await asyncio.to_thread(upgrade_database, url)
    return url


async def rows(url: str) -> list[tuple[str, int, Any]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        result = await conn.execute(
            select(call_events.c.id, call_events.c.seq, call_events.c.data).order_by(
                call_events.c.seq
            )
        )
        out = [(r.id, r.seq, r.data) for r in result]
    await engine.dispose()
    return out


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def crash(writer: EventWriter) -> None:
    """Stop the writer's tasks as a killed process would: no flush, no checkpoint."""
    for task in writer._tasks:
        task.cancel()
    await asyncio.gather(*writer._tasks, return_exceptions=True)
    assert writer.spool is not None
    writer.spool.close()  # only releases the lock: nothing is committed, nothing deleted
    await writer.engine.dispose()


async def test_events_are_written_once_in_emit_order_and_the_spool_empties(
    url: str, tmp_path: Path
) -> None:
    writer = EventWriter(url, batch_size=50, flush_interval_s=0.01, spool_dir=tmp_path / "spool")
    await writer.start()
    for n in range(500):
        writer.emit(event(n, i=n))
        if n % 100 == 0:
            await asyncio.sleep(0)
    await wait_for(lambda: writer.written == 500)
    assert writer.healthy and writer.spooled == 0 and writer.dropped == 0
    await writer.stop()
    stored = await rows(url)
    assert [r[0] for r in stored] == [f"ev-{n:06d}" for n in range(500)]
    assert [r[1] for r in stored] == list(range(1, 501))
    assert stored[7][2] == {"i": 7}
    assert writer.spool is not None and not writer.spool.path.exists()


async def test_a_crashed_writers_spool_is_replayed_at_start(url: str, tmp_path: Path) -> None:
    # a batch far away in time and size: events reach the spool, not the database
    writer = EventWriter(url, batch_size=10_000, flush_interval_s=60, spool_dir=tmp_path)
    await writer.start()
    odd = CallEvent('ev-"quoted"-Zoë', 1.25, "call\\1", "test.odd", {"text": "}\n{", "n": [1]})
    for n in range(300):
        writer.emit(odd if n == 150 else event(n, i=n))
    await wait_for(lambda: writer.spooled == 300)
    await crash(writer)
    assert await rows(url) == []

    again = EventWriter(url, spool_dir=tmp_path)
    await again.start()  # replays before it returns
    stored = await rows(url)
    expected = [odd.id if n == 150 else f"ev-{n:06d}" for n in range(300)]
    assert [r[0] for r in stored] == expected
    assert stored[150][2] == odd.data and stored[7][2] == {"i": 7}
    again.emit(event(300))
    await again.stop()
    stored = await rows(url)
    assert len(stored) == 301 and stored[-1] == ("ev-000300", 301, {})


async def test_a_spooled_row_the_database_refuses_is_dropped_not_retried_forever(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a line damaged on disk (say by a power cut) whose data is no longer JSON
    spool = Spool(spool_path(tmp_path, url))
    spool.open()
    good = '{{"seq":{0},"id":"ev-{0}","at":1.5,"call_id":"c","kind":"k","data":{{}}}}\n'
    bad = '{"seq":2,"id":"ev-2","at":1.5,"call_id":"c","kind":"k","data":{"x":\x00\x00}}\n'
    spool.append((good.format(1) + bad + good.format(3)).encode())
    spool.close()
    writer = EventWriter(url, spool_dir=tmp_path)
    await writer.start()
    await writer.stop()
    assert [r[0] for r in await rows(url)] == ["ev-1", "ev-3"]
    assert writer.dropped == 1 and writer.written == 2
    assert "'ev-2' refused by the database" in caplog.text


async def test_events_that_cannot_be_stored_are_dropped_not_retried_forever(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    writer = EventWriter(url, flush_interval_s=0.01, spool_dir=tmp_path)
    await writer.start()
    writer.emit(event(1))
    writer.emit(CallEvent("ev-nan", math.nan, "c", "test.event"))
    writer.emit(CallEvent("x" * 65, 1.0, "c", "test.event"))
    writer.emit(CallEvent("ev-circular", 1.0, "c", "test.event", circular))
    writer.emit(CallEvent("ev-nan-data", 1.0, "c", "test.event", {"x": math.inf}))
    writer.emit(event(2))
    await writer.stop()
    assert writer.dropped == 4 and "cannot be stored" in caplog.text
    assert [(r[0], r[1]) for r in await rows(url)] == [("ev-000001", 1), ("ev-000002", 2)]


async def test_a_memory_only_writer_grows_past_its_bound_and_loses_nothing(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = EventWriter(url, queue_size=100, flush_interval_s=0.01)
    await writer.start()
    with caplog.at_level(logging.WARNING):
        for n in range(350):  # no await: the intake cannot run, the queue outgrows its size
            writer.emit(event(n))
    assert writer.dropped == 0 and writer.queued == 350
    assert caplog.text.count("queue past its size") == 1  # once per episode, not per event
    await writer.stop()
    assert [r[0] for r in await rows(url)] == [f"ev-{n:06d}" for n in range(350)]


async def test_a_burst_past_the_queue_goes_to_the_spool_in_order(url: str, tmp_path: Path) -> None:
    writer = EventWriter(url, batch_size=500, queue_size=100, spool_dir=tmp_path)
    await writer.start()
    for n in range(5000):  # no await: emit itself spools the oldest events
        writer.emit(event(n))
        assert writer.queued <= 100
    assert writer.dropped == 0 and writer.spilled > 0 and writer.spooled >= 4900
    await wait_for(lambda: writer.written == 5000)
    await writer.stop()
    stored = await rows(url)
    assert [r[0] for r in stored] == [f"ev-{n:06d}" for n in range(5000)]
    assert [r[1] for r in stored] == list(range(1, 5001))


async def test_each_database_has_its_own_spool_and_one_writer(tmp_path: Path) -> None:
    urls = [f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in ("a", "b")]
    for u in urls:
        await asyncio.to_thread(upgrade_database, u)
    a, b = (EventWriter(u, spool_dir=tmp_path / "spool") for u in urls)
    await a.start()
    await b.start()  # another database: another sub-directory, no conflict
    assert spool_path(tmp_path / "spool", urls[0]) != spool_path(tmp_path / "spool", urls[1])
    twin = EventWriter(urls[0], spool_dir=tmp_path / "spool")
    with pytest.raises(SpoolError, match="in use by another event writer"):
        await twin.start()
    await a.stop()
    await b.stop()
    await twin.engine.dispose()


async def test_a_failing_spool_keeps_events_in_memory_and_reports_unhealthy(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = EventWriter(url, flush_interval_s=0.01, spool_dir=tmp_path)
    await writer.start()
    assert writer.spool is not None

    def full(blob: bytes) -> Any:
        raise SpoolError("spool write failed: No space left on device")

    monkeypatch.setattr(writer.spool, "append", full)
    for n in range(20):
        writer.emit(event(n))
    await wait_for(lambda: writer.written == 20)
    assert not writer.healthy and writer.spool_errors >= 1 and writer.spooled == 0
    monkeypatch.undo()
    writer.emit(event(20))
    await wait_for(lambda: writer.written == 21)
    assert writer.healthy
    await writer.stop()
    assert len(await rows(url)) == 21


async def test_the_backlog_beyond_the_hand_off_is_read_back_from_the_spool(
    url: str, tmp_path: Path
) -> None:
    # a hand-off of 100 events and 1,000 events before the committer runs: 900 of
    # them are on disk only, and must still arrive, in order
    writer = EventWriter(
        url, batch_size=64, flush_interval_s=0.01, queue_size=100, spool_dir=tmp_path
    )
    await writer.start()
    async with writer._commit_lock:  # the committer is held up, as by a slow database
        for n in range(1000):
            writer.emit(event(n))
            if n % 50 == 49:
                await asyncio.sleep(0)  # the intake spools
        await wait_for(lambda: writer.spooled == 1000)
        assert writer._handoff_events <= 100 + 50
    await wait_for(lambda: writer.written == 1000)
    await writer.stop()
    stored = await rows(url)
    assert [r[0] for r in stored] == [f"ev-{n:06d}" for n in range(1000)]
    assert writer.dropped == 0


async def test_spool_lines_are_copy_lines_with_the_event_fields(url: str, tmp_path: Path) -> None:
    writer = EventWriter(url, flush_interval_s=60, batch_size=10_000, spool_dir=tmp_path)
    await writer.start()
    writer.emit(CallEvent("ev-1", 1.5, "call-1", "call.started", {"caller": "5551234"}))
    writer.emit(CallEvent("ev\t2", 2.0, "call-1", "x", {"note": "a\\b\nc"}))
    await wait_for(lambda: writer.spooled == 2)
    assert isinstance(writer.spool, Spool) and writer.spool_bytes > 0
    # the very bytes COPY takes (PostgreSQL's text format), and the same event back
    raw, _ = writer.spool.read(writer.spool.checkpoint, 10, lambda line: line)
    assert raw[0] == (
        b'ev-1\t1970-01-01T00:00:01.500000+00:00\tcall-1\tcall.started\t{"caller":"5551234"}\t1\n'
    )
    assert raw[1].startswith(b"ev\\t2\t") and b'{"note":"a\\\\\\\\b\\\\nc"}' in raw[1]
    items, _ = writer.spool.read(writer.spool.checkpoint, 10, decode)
    assert items == [
        (1, "ev-1", 1.5, "call-1", "call.started", '{"caller":"5551234"}'),
        (2, "ev\t2", 2.0, "call-1", "x", '{"note":"a\\\\b\\nc"}'),
    ]
    await writer.stop()
