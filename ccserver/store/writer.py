"""The batched event writer: the event-sink port, backed by a database.

``emit`` never blocks and never waits on the database: events go into a
bounded in-memory queue that one task drains in batches (by size or by time).
Inserts use ``ON CONFLICT DO NOTHING`` on the event id, so writing the same
batch twice (a retry after a failed commit) stores each event once. While the
database is unreachable the writer keeps the batch and retries with backoff;
events beyond the queue bound are counted as dropped and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cti.sink import CallEvent

from .schema import call_events

log = logging.getLogger(__name__)


def _ensure_sqlite_dir(url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and not url.endswith(":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def upgrade_database(url: str) -> None:
    """Bring the schema to the newest Alembic revision (blocking; run in a thread)."""
    from alembic import command
    from alembic.config import Config

    _ensure_sqlite_dir(url)
    root = Path(__file__).resolve().parents[2]
    cfg = Config()
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


class EventWriter:
    """Writes call events to the database in batches; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        queue_size: int = 50_000,
        retry_max_s: float = 5.0,
        spool_dir: str | None = None,  # the on-disk spool is being built (issue 5)
    ) -> None:
        _ensure_sqlite_dir(url)
        self.engine: AsyncEngine = create_async_engine(url)
        self._insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_max_s = retry_max_s
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._batch: list[CallEvent] = []  # taken from the queue, not yet committed
        self._seq = 0
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.healthy = True
        self.oldest_pending_at: float | None = None

    def emit(self, event: CallEvent) -> None:
        """Queue an event (never blocks)."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("event log queue full: %d events dropped so far", self.dropped)

    async def start(self) -> None:
        async with self.engine.connect() as conn:
            self._seq = int((await conn.execute(select(func.max(call_events.c.seq)))).scalar() or 0)
        self._task = asyncio.create_task(self._run(), name="event-writer")

    async def stop(self) -> None:
        """Write everything queued, then close."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        await self.engine.dispose()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def flush(self) -> None:
        """Write the batch in hand and every queued event now (at shutdown)."""
        if self._batch:
            await self._write(self._batch)
            self._batch = []
        while not self._queue.empty():
            await self._write(self._take(self.batch_size))

    def _take(self, limit: int) -> list[CallEvent]:
        batch: list[CallEvent] = []
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = self._batch
            batch.append(await self._queue.get())
            deadline = loop.time() + self.flush_interval_s
            while len(batch) < self.batch_size:
                batch.extend(self._take(self.batch_size - len(batch)))
                remaining = deadline - loop.time()
                if len(batch) >= self.batch_size or remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            await self._write_with_retry(batch)
            self._batch = []

    async def _write_with_retry(self, batch: list[CallEvent]) -> None:
        delay = 0.1
        self.oldest_pending_at = batch[0].at
        while True:
            try:
                await self._write(batch)
                self.healthy = True
                self.oldest_pending_at = None
                return
            except Exception as exc:  # any database failure: keep the batch, retry
                self.failures += 1
                self.healthy = False
                log.warning("event log write failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.retry_max_s, delay * 2)

    async def _write(self, batch: list[CallEvent]) -> None:
        if not batch:
            return
        rows: list[dict[str, Any]] = []
        for event in batch:
            self._seq += 1
            rows.append(
                {
                    "id": event.id,
                    "at": datetime.fromtimestamp(event.at, UTC),
                    "call_id": event.call_id,
                    "kind": event.kind,
                    "data": dict(event.data),
                    "seq": self._seq,
                }
            )
        stmt = self._insert(call_events).on_conflict_do_nothing(index_elements=["id"])
        async with self.engine.begin() as conn:
            await conn.execute(stmt, rows)
        self.written += len(batch)
