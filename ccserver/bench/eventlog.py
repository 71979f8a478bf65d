"""Event-log throughput: call events per second from emit() to committed in PostgreSQL.

The real ``EventWriter`` (spool on, in a temporary directory) takes ``--events``
events as fast as it accepts them; the clock runs from the first ``emit`` until
the last event is committed, and the rows are counted in the database. The
baseline is the naive writer: one INSERT and one commit per event, over
``--baseline-events`` events, extrapolated to a rate.

The limit is what PostgreSQL itself takes: the same rows, encoded before the
clock starts, sent with asyncpg's binary ``copy_records_to_table`` in batches
of the same size into a scratch table shaped like ``call_events`` (same
columns, keys and indexes, partitioned by month the same way), one
transaction per batch. ``limit_ratio`` is the writer's rate over that limit.
The writer and the limit run ``--rounds`` times, in turns, and the best of
each is reported (every round too): on a shared machine a busy moment would
otherwise weigh on one side of the ratio only.

``rss_peak_mb`` is the peak RSS (``VmHWM``) of a child process that runs
only the writer, fed by a producer that makes each slice of 1,000 events just
before emitting it (so the figure is the writer's memory, not 200,000 events
made ahead); ``rss_base_mb`` is the same child's RSS before the writer
started (interpreter and imports). The rate figures come from the run in this
process, with every event made before the clock starts (so they measure the
writer, not the producer); the child's own rate is ``rss_run_events_per_s``.

Without ``--dsn`` a throwaway PostgreSQL cluster is created for the run
(Debian's ``pg_createcluster``, trust auth on loopback) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import EventWriter, call_events, upgrade_database
from ccserver.store.codec import encode
from ccserver.store.dialects import EVENT_UNIQUE
from ccserver.store.partitions import ensure_month_partitions
from ccserver.store.pgcluster import Cluster, NoPostgres
from ccserver.store.values import chunks, utc
from contracts.sink import CallEvent

QUEUE_SIZE = 50_000  # ccserver's default store.queue_size
SLICE = 1000  # events the producer emits between two turns of the event loop
SCRATCH = "ccs_bench_copy_limit"
_COLUMNS = ("id", "at", "call_id", "kind", "data", "seq")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        help="PostgreSQL URL of a scratch database (default: a throwaway cluster); "
        "the benchmark's rows are deleted afterwards",
    )
    parser.add_argument("--events", type=int, default=200_000, help="events through the writer")
    parser.add_argument(
        "--baseline-events", type=int, default=5_000, help="events inserted one by one"
    )
    parser.add_argument("--batch-size", type=int, default=5_000, help="the writer's batch size")
    parser.add_argument("--no-spool", action="store_true", help="memory only, no spool")
    parser.add_argument("--fsync", action="store_true", help="fsync the spool after each write")
    parser.add_argument(
        "--no-rss", action="store_true", help="skip the child process that measures RSS"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="writer and COPY limit runs, taken in turns; the best of each is reported",
    )


def _asyncpg_url(dsn: str) -> str:
    url = make_url(dsn)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"--dsn must be a PostgreSQL URL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _plain_dsn(url: str) -> str:
    """The URL as asyncpg itself takes it (no ``+asyncpg``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """A new PostgreSQL cluster with a ``bench`` database; yields its asyncpg URL.

    The cluster is dropped on the way out, whatever happened.
    """
    try:
        cluster = Cluster.create("ccs_bench_")
    except NoPostgres as exc:
        raise SystemExit(str(exc)) from None
    try:
        yield cluster.create_database("bench")
    finally:
        cluster.drop()


def _event(run: str, n: int, t0: float) -> CallEvent:
    """A call event shaped like the tracker's (a channel fact with a few strings)."""
    call = n // 20  # about twenty events per call
    return CallEvent(
        id=f"{run}-{n:09d}",
        at=t0 + n * 0.0005,
        call_id=f"{run}-call-{call:07d}",
        kind="channel.state",
        data={
            "channel": f"PJSIP/{1000 + n % 500}-{n:08x}",
            "uniqueid": f"1750000000.{n}",
            "state": "Up",
            "queue": f"q{call % 20:02d}",
        },
    )


def _writer(url: str, spool: str, args: argparse.Namespace) -> EventWriter:
    return EventWriter(
        url,
        batch_size=args.batch_size,
        flush_interval_s=0.05,
        queue_size=QUEUE_SIZE,
        spool_dir=None if args.no_spool else spool,
        spool_fsync=args.fsync,
    )


async def _feed(writer: EventWriter, events: Iterator[list[CallEvent]]) -> int:
    """Emit every slice, as a producer that never overruns the queue; the peak spool size."""
    peak_spool = 0
    for chunk in events:
        for event in chunk:
            writer.emit(event)
        await asyncio.sleep(0)
        while writer.queued > QUEUE_SIZE // 2:
            await asyncio.sleep(0.001)
        peak_spool = max(peak_spool, writer.spool_bytes)
    return peak_spool


async def _until_written(writer: EventWriter, n: int) -> None:
    async with asyncio.timeout(600):  # a writer that lost events must not hang the run
        while writer.written < n and writer.dropped == 0:
            await asyncio.sleep(0.002)


async def _writer_run(url: str, run: str, t0: float, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ccs-bench-spool-") as spool:
        writer = _writer(url, spool, args)
        await writer.start()
        # made before the clock starts: the benchmark measures the writer, not the caller
        events = [_event(run, n, t0) for n in range(args.events)]
        slices = (events[i : i + SLICE] for i in range(0, args.events, SLICE))
        started = time.perf_counter()
        peak_spool = await _feed(writer, slices)
        await _until_written(writer, args.events)
        seconds = time.perf_counter() - started
        await writer.stop()
    return {"seconds": seconds, "dropped": writer.dropped, "peak_spool_bytes": peak_spool}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _proc_status_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of this process, in MiB.

    Not ``ru_maxrss`` in the child: Linux carries the parent's peak over a
    fork and exec into it, so a spawned child would report this process's.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _rss_run(url: str, run: str, t0: float, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ccs-bench-spool-") as spool:
        writer = _writer(url, spool, args)
        await writer.start()
        base = _proc_status_mb("VmRSS")

        def slices() -> Iterator[list[CallEvent]]:
            for i in range(0, args.events, SLICE):
                yield [_event(run, n, t0) for n in range(i, min(i + SLICE, args.events))]

        started = time.perf_counter()
        await _feed(writer, slices())
        await _until_written(writer, args.events)
        seconds = time.perf_counter() - started
        await writer.stop()
    peak = _proc_status_mb("VmHWM")
    return {"base": base, "peak": peak, "seconds": seconds, "dropped": writer.dropped}


def _rss_child(url: str, run: str, t0: float, args: argparse.Namespace, out: Any) -> None:
    """In a fresh process: the writer alone, fed on the fly; its RSS goes back on ``out``."""
    out.put(asyncio.run(_rss_run(url, run, t0, args)))


def _measure_rss(url: str, run: str, t0: float, args: argparse.Namespace) -> dict[str, Any]:
    # spawn, not fork: a forked child would inherit this process's memory and its peak
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_rss_child, args=(url, run, t0, args, out))
    child.start()
    try:
        result: dict[str, Any] = out.get(timeout=900)
    finally:
        child.join(60)
    if child.exitcode != 0:
        raise SystemExit(f"the RSS run failed (exit code {child.exitcode})")
    return result


def _copy_rows(run: str, t0: float, n: int) -> list[tuple[Any, ...]]:
    """The rows of the writer's events as the database stores them, JSON already encoded."""
    rows = []
    for i in range(n):
        (seq, id_, at, call_id, kind, data), _ = encode(i + 1, _event(run, i, t0))
        rows.append((id_, utc(at), call_id, kind, data, seq))
    return rows


async def _copy_limit(url: str, rows: list[tuple[Any, ...]], batch: int) -> float:
    """Seconds to COPY ``rows`` in batches into a scratch copy of ``call_events``."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await _create_scratch(conn)
    finally:
        await engine.dispose()
    pg = await asyncpg.connect(_plain_dsn(url))
    try:
        started = time.perf_counter()
        for chunk in chunks(rows, batch):
            async with pg.transaction():
                await pg.copy_records_to_table(SCRATCH, records=chunk, columns=_COLUMNS)
        seconds = time.perf_counter() - started
        stored = await pg.fetchval(f"SELECT count(*) FROM {SCRATCH}")
        if stored != len(rows):
            raise SystemExit(f"copy limit: {stored} of {len(rows)} rows stored")
        return seconds
    finally:
        await pg.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        await pg.close()


async def _create_scratch(conn: Any) -> None:
    """A table like ``call_events``: same columns, indexes, partitions and their unique ids."""
    await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SCRATCH}")
    partitioned = (
        await conn.exec_driver_sql(
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('call_events')"
        )
    ).first()
    tail = " PARTITION BY RANGE (at)" if partitioned else ""
    await conn.exec_driver_sql(f"CREATE TABLE {SCRATCH} (LIKE call_events INCLUDING ALL){tail}")
    if partitioned:
        await conn.run_sync(
            lambda sync: ensure_month_partitions(sync, SCRATCH, 3, unique=EVENT_UNIQUE)
        )


async def _baseline_run(url: str, run: str, n: int, t0: float) -> float:
    engine = create_async_engine(url)
    try:
        started = time.perf_counter()
        for i in range(n):
            e = _event(run, i, t0)
            async with engine.begin() as conn:
                await conn.execute(
                    insert(call_events).values(
                        id=e.id,
                        at=utc(e.at),
                        call_id=e.call_id,
                        kind=e.kind,
                        data=dict(e.data),
                        seq=i + 1,
                    )
                )
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def _count_and_clean(url: str, prefixes: list[str]) -> list[int]:
    engine = create_async_engine(url)
    counts = []
    try:
        async with engine.begin() as conn:
            for prefix in prefixes:
                like = call_events.c.id.like(f"{prefix}-%")
                counts.append((await conn.execute(select(func.count()).where(like))).scalar_one())
                await conn.execute(delete(call_events).where(like))
    finally:
        await engine.dispose()
    return counts


def _measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    upgrade_database(url)
    run = f"bench{uuid.uuid4().hex[:8]}"
    # events of now: they land in this month's partition, as live events do
    t0 = time.time()
    # in turns, so that a busy moment of the machine does not weigh on one side only
    writer_s, copy_s, runs = [], [], []
    for n in range(max(1, args.rounds)):
        runs.append(f"{run}w{n}")
        result = asyncio.run(_writer_run(url, runs[-1], t0, args))
        if result["dropped"]:
            raise SystemExit(f"the writer dropped {result['dropped']} events")
        writer_s.append(result["seconds"])
        rows = _copy_rows(runs[-1], t0, args.events)
        copy_s.append(asyncio.run(_copy_limit(url, rows, args.batch_size)))
        del rows
    base = f"{run}b"
    baseline_s = asyncio.run(_baseline_run(url, base, args.baseline_events, t0))
    *stored, baseline_stored = asyncio.run(_count_and_clean(url, [*runs, base]))
    if stored != [args.events] * len(runs) or baseline_stored != args.baseline_events:
        raise SystemExit(f"rows missing: {stored} of {args.events} each")
    rss: dict[str, Any] = {}
    if not args.no_rss:
        child_run = f"{run}r"
        rss = _measure_rss(url, child_run, t0, args)
        (child_stored,) = asyncio.run(_count_and_clean(url, [child_run]))
        if child_stored != args.events:
            raise SystemExit(f"RSS run: rows missing: {child_stored}/{args.events}")
    rate = args.events / min(writer_s)
    baseline_rate = args.baseline_events / baseline_s
    copy_rate = args.events / min(copy_s)
    out = {
        "events": args.events,
        "batch_size": args.batch_size,
        "spool": not args.no_spool,
        "fsync": args.fsync,
        "rounds": len(runs),
        "seconds": round(min(writer_s), 3),
        "events_per_s": round(rate),
        "events_per_s_rounds": [round(args.events / x) for x in writer_s],
        "copy_limit_events_per_s": round(copy_rate),
        "copy_limit_rounds": [round(args.events / x) for x in copy_s],
        "limit_ratio": round(rate / copy_rate, 2),
        "baseline_events": args.baseline_events,
        "baseline_events_per_s": round(baseline_rate),
        "ratio": round(rate / baseline_rate, 1),
        "dropped": 0,  # checked above: any drop fails the run
        "peak_spool_mb": round(result["peak_spool_bytes"] / 2**20, 1),
        # this process, which also held every event made ahead and the COPY rows
        "rss_mb": round(_rss_mb(), 1),
    }
    if rss:
        out["rss_peak_mb"] = round(rss["peak"], 1)
        out["rss_base_mb"] = round(rss["base"], 1)
        out["rss_run_events_per_s"] = round(args.events / rss["seconds"])
        out["rss_method"] = "VmHWM of a spawned child running only the writer"
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the writer, the COPY limit and the row-by-row baseline against the same database."""
    if args.dsn:
        return _measure(_asyncpg_url(args.dsn), args)
    with throwaway_cluster() as url:
        return _measure(url, args)
