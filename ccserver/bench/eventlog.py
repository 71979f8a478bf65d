"""Event-log throughput: call events per second from emit() to committed in PostgreSQL.

The real ``EventWriter`` (spool on, in a temporary directory) takes ``--events``
events as fast as it accepts them; the clock runs from the first ``emit`` until
the last event is committed, and the rows are counted in the database. The
baseline is the naive writer: one INSERT and one commit per event, over
``--baseline-events`` events, extrapolated to a rate. Without ``--dsn`` a
throwaway PostgreSQL cluster is created for the run (Debian's
``pg_createcluster``, trust auth on loopback) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.store import EventWriter, call_events, upgrade_database
from ccserver.store.pgcluster import Cluster, NoPostgres
from contracts.sink import CallEvent

QUEUE_SIZE = 50_000  # ccserver's default store.queue_size


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


def _asyncpg_url(dsn: str) -> str:
    url = make_url(dsn)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"--dsn must be a PostgreSQL URL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


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


def _event(run: str, n: int) -> CallEvent:
    """A call event shaped like the tracker's (a channel fact with a few strings)."""
    call = n // 20  # about twenty events per call
    return CallEvent(
        id=f"{run}-{n:09d}",
        at=1_750_000_000.0 + n * 0.0005,
        call_id=f"{run}-call-{call:07d}",
        kind="channel.state",
        data={
            "channel": f"PJSIP/{1000 + n % 500}-{n:08x}",
            "uniqueid": f"1750000000.{n}",
            "state": "Up",
            "queue": f"q{call % 20:02d}",
        },
    )


async def _writer_run(url: str, run: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ccs-bench-spool-") as spool:
        writer = EventWriter(
            url,
            batch_size=args.batch_size,
            flush_interval_s=0.05,
            queue_size=QUEUE_SIZE,
            spool_dir=None if args.no_spool else spool,
            spool_fsync=args.fsync,
        )
        await writer.start()
        # made before the clock starts: the benchmark measures the writer, not the caller
        events = [_event(run, n) for n in range(args.events)]
        peak_spool = 0
        t0 = time.perf_counter()
        for start in range(0, args.events, 1000):
            for event in events[start : start + 1000]:
                writer.emit(event)
            # a producer that never overruns the queue: yield, and wait while it is filling
            await asyncio.sleep(0)
            while writer.queued > QUEUE_SIZE // 2:
                await asyncio.sleep(0.001)
            peak_spool = max(peak_spool, writer.spool_bytes)
        async with asyncio.timeout(600):  # a writer that lost events must not hang the run
            while writer.written < args.events and writer.dropped == 0:
                await asyncio.sleep(0.002)
        seconds = time.perf_counter() - t0
        await writer.stop()
    return {"seconds": seconds, "dropped": writer.dropped, "peak_spool_bytes": peak_spool}


async def _baseline_run(url: str, run: str, n: int) -> float:
    engine = create_async_engine(url)
    try:
        t0 = time.perf_counter()
        for i in range(n):
            e = _event(run, i)
            async with engine.begin() as conn:
                await conn.execute(
                    insert(call_events).values(
                        id=e.id,
                        at=datetime.fromtimestamp(e.at, UTC),
                        call_id=e.call_id,
                        kind=e.kind,
                        data=dict(e.data),
                        seq=i + 1,
                    )
                )
        return time.perf_counter() - t0
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
    result = asyncio.run(_writer_run(url, run, args))
    base = f"{run}b"
    baseline_s = asyncio.run(_baseline_run(url, base, args.baseline_events))
    stored, baseline_stored = asyncio.run(_count_and_clean(url, [run, base]))
    if stored != args.events or baseline_stored != args.baseline_events:
        raise SystemExit(f"rows missing: {stored}/{args.events}, dropped {result['dropped']}")
    rate = args.events / result["seconds"]
    baseline_rate = args.baseline_events / baseline_s
    return {
        "events": args.events,
        "batch_size": args.batch_size,
        "spool": not args.no_spool,
        "fsync": args.fsync,
        "seconds": round(result["seconds"], 3),
        "events_per_s": round(rate),
        "baseline_events": args.baseline_events,
        "baseline_events_per_s": round(baseline_rate),
        "ratio": round(rate / baseline_rate, 1),
        "dropped": result["dropped"],
        "peak_spool_mb": round(result["peak_spool_bytes"] / 2**20, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the writer and the row-by-row baseline against the same database."""
    if args.dsn:
        return _measure(_asyncpg_url(args.dsn), args)
    with throwaway_cluster() as url:
        return _measure(url, args)
