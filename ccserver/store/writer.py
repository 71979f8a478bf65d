"""The event writer: the event-sink port, backed by a database and a local spool.

``emit`` never blocks on the database and never loses an event: events go
into an in-memory queue. Two tasks take it from there.

* The **intake** drains the queue as fast as events arrive, gives each one its
  ``seq`` (emit order), encodes it once into a line of PostgreSQL's ``COPY``
  text format (``codec.py``), and appends the slice's lines to the write-ahead
  spool (``spool.py``) in one plain ``write()`` into the page cache, which
  survives the death of the process. Those same bytes are what the hand-off
  holds and what the committer streams to ``COPY``: nothing is decoded or
  encoded again on the way, nor kept as a Python object per event. Because the intake never waits on
  the database, the queue stays short while the database is down or slow, and
  the backlog goes to disk, not to RAM.
* The **committer** writes to the database in batches (by size, or after
  ``flush_interval_s``), then advances the spool's checkpoint; fully committed
  spool segments are deleted. Fresh batches are handed over in memory (a
  bounded hand-off); when the committer falls behind that bound, for instance
  while the database is unreachable, it reads the backlog back from the spool,
  in order. A failed write is retried with backoff (``healthy`` goes false).
  On PostgreSQL batches are **pipelined**: the next batch is copied, on a
  second connection, while the one before is still in flight, and commits
  only after it (``dialects.copy_pipelined``), so the database never idles
  while the writer reads the next batch, moves the checkpoint or waits for
  its turn on the event loop, and commits stay in seq order for readers
  that follow ``seq``. A batch that does not commit there (a stored id,
  refused data, the database away) rolls back the one behind it and is
  written again alone, as described below; nothing is acknowledged or
  checkpointed before its commit, so the spool's guarantees are unchanged.

**A burst never drops.** A burst emitted in one go (a resync that closes
50,000 vanished calls emits 100,000 events without yielding to the event loop)
fills the queue before the intake can run. Then ``emit`` does a slice of the
intake's work itself: the oldest ``_INTAKE_SLICE`` queued events are numbered
and appended to the spool (a few milliseconds per thousand events, the work
the intake would do anyway), which keeps the queue at ``queue_size`` and the
order intact; the committer catches up from the spool. Without a spool (or
before ``start``) there is nowhere else to put them, so the queue grows past
``queue_size``, with one warning per episode: memory is then bounded only by
what is emitted, never by dropping. ``dropped`` counts only what truly cannot
be kept, each logged as an error: an event the database cannot store (bad
time, over-long id, data that is not JSON), and a burst that meets a failing
spool (disk full) with the in-memory hand-off full too.

Memory stays bounded however long the database is away: ``queue_size`` events
in the queue, as many in the hand-off (as bytes, about 250 per event), the
batch in hand; the rest is on disk.
The spool's ``write()`` reaches the page cache, which survives a killed
process; ``spool_fsync=True`` adds an ``fsync`` per intake write (in a thread,
so the event loop never waits on the disk) for surviving a power cut too.

At ``start`` whatever the spool holds beyond its checkpoint (left by a crash,
or by a stop while the database was down) is replayed first, in order. Every
write is idempotent: a row whose id is stored already is not stored again, so
a replay of events that did reach the database (committed, but killed before
the checkpoint moved) stores nothing twice.

On PostgreSQL ``call_events`` is partitioned by month (``partitions.py``,
migration 0010). A key of a partitioned table must hold its partition key,
and (id, at) would let an id reused at another time through; so the table
itself has no key, and each partition keeps ``id`` unique by an index of its
own (``dialects.EVENT_UNIQUE``): an event id is unique within its month (and
within the default partition, which holds anything outside the monthly
ones). A replay carries the event's own ``at``, so it meets its stored row
in the same partition. A batch goes in with one ``COPY`` straight into
``call_events``, as the text lines the intake made: the usual, new batch
costs what a bare COPY costs, with no staging copy and no look-up. A batch
that meets a stored id fails the COPY whole, and takes the merge instead
(COPY into a temporary staging table, ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``). On SQLite (the demo; one table, keyed by id) a batch is one
``executemany`` INSERT with ``ON CONFLICT (id) DO NOTHING``.

**An id conflict is never silent.** Skipping a row whose id is stored is right
for a replay (the same event again) and wrong for a different event under a
reused id (two processes with clock-based ids): the second would vanish. So
whenever a batch stores fewer rows than it has (the merge's row count, or
SQLite's ``rowcount``), the skipped rows are classified, in the same
transaction, against the stored row of their id: the same ``kind``,
``call_id`` and ``at`` make it a **duplicate** (a replay: counted in
``duplicates``, silent); anything else is a **conflict** (counted in
``conflicts``, one error line per batch with the count and an example id).
``data`` is not compared: it is JSON (PostgreSQL's ``json`` has no equality)
and an id reused by a different event is caught by its kind, call or time.
On PostgreSQL the id is checked within the event's month: the same id reused
in another month is stored twice, under two times. Ids come from
``contracts/ids.py`` (a random per-process prefix), so this is a safety net.

**Partitions and retention.** At ``start`` and then daily (``maintain``), the
writer creates this month's and the next ``partition_months_ahead`` months'
partitions (PostgreSQL; an event outside them lands in the default partition,
and moves into its month's partition when that is created), and with
``retention_months`` set drops the months wholly older than that, of the
event log and of the reports' projection made from it (``call_records``,
``agent_intervals``) alike (PostgreSQL: detach and drop, logged, counted in
``retention_removed``; SQLite: deletes the old rows in chunks).

**Agent states.** The batch's ``acd.agent_state`` events also upsert the
``agent_states`` table (``agent_states.py``), in the same transaction as the
events: a batch that fails leaves neither.

Without a ``spool_dir`` the writer keeps events in memory only (tests, tools):
then events beyond the queue and the hand-off wait in the growing queue.

The parts live beside this module: ``codec.py`` (an event to its COPY line,
and back to a record), ``dialects.py`` (the PostgreSQL and SQLite batch
inserts, with the conflict check), ``partitions.py`` (monthly partitions and
retention), ``spool_names.py`` (a database's spool directory),
``migrations.py`` (the schema, by Alembic).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from contracts.sink import CallEvent

from .agent_states import AGENT_STATE_KIND, latest_states
from .codec import copy_line, decode, encode, encode_line, first_at, records_of, seq_of
from .dialects import (
    EVENT_UNIQUE,
    REFUSED,
    Outcome,
    copy_batch,
    copy_pipelined,
    insert_batch,
    is_postgres,
)
from .migrations import ensure_sqlite_dir, upgrade_database
from .partitions import apply_retention, ensure_month_partitions
from .schema import call_events
from .spool import Position, Spool, SpoolError
from .spool_names import spool_path

# the old names of what moved to their own modules (tests and tools import them here)
_encode, _decode = encode, decode
__all__ = ["EventWriter", "spool_path", "upgrade_database"]

log = logging.getLogger(__name__)

# events taken, encoded and spooled per turn of the event loop: about a millisecond's
# work, since each round trip of a batch in flight waits for the loop's next turn (1,000
# kept PostgreSQL waiting: limit_ratio 0.76-0.80 where 250 gives 0.78-0.86)
_INTAKE_SLICE = 250
# with spool_fsync, events written between two fsyncs while a backlog is taken in
_SYNC_GROUP = 1000
_TABLE = "call_events"
# a maintenance that failed (the database away) is tried again this much later
_MAINTENANCE_RETRY_S = 60.0
# PostgreSQL batches in flight at once: one committing while the next one copies
_PIPELINE = 2
# while batches follow each other in the pipeline, the spool's checkpoint is saved at
# most this often (a file replaced each time); a later one only means a longer replay
_CHECKPOINT_EVERY_S = 0.25


@dataclass(slots=True)
class _Entry:
    """Lines handed from the intake to the committer; ``end``: where they end in the spool.

    ``blob``: ``count`` whole COPY lines (``codec.py``), seqs ``first_seq`` to
    ``last_seq`` (contiguous, except in a replay of a spool with a gap).
    """

    blob: bytes
    first_seq: int
    last_seq: int
    count: int
    end: Position | None  # None: in memory only (no spool, or the spool write failed)


@dataclass(slots=True)
class _InFlight:
    """A pipelined batch: its lines, and the task that copies and commits them (True: committed)."""

    entry: _Entry
    task: asyncio.Task[bool]


async def _committed(task: asyncio.Task[bool] | None) -> bool:
    """Whether ``task`` committed its batch (waits for it; never raises, never cancels it)."""
    if task is None:
        return True
    await asyncio.wait((task,))
    return not task.cancelled() and task.exception() is None and task.result()


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
        spool_dir: str | Path | None = None,
        spool_fsync: bool = False,
        spool_segment_bytes: int = 64 << 20,
        retention_months: int | None = None,
        partition_months_ahead: int = 3,
        maintenance_interval_s: float = 86_400.0,
    ) -> None:
        ensure_sqlite_dir(url)
        # hide_parameters: a failed write must not log the rows (caller numbers) it carried
        self.engine: AsyncEngine = create_async_engine(url, hide_parameters=True)
        self._postgres = is_postgres(self.engine)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_max_s = retry_max_s
        self.spool_fsync = spool_fsync
        self.retention_months = retention_months
        self.partition_months_ahead = partition_months_ahead
        self.maintenance_interval_s = maintenance_interval_s
        self.partitions_created = 0
        self.retention_removed = 0  # partitions dropped (PostgreSQL) or rows deleted (SQLite)
        self.spool: Spool | None = None
        if spool_dir is not None:
            self.spool = Spool(spool_path(spool_dir, url), segment_bytes=spool_segment_bytes)
        self._spool_root = Path(spool_dir) if spool_dir is not None else None
        # the queue: a bounded deque, not an asyncio.Queue, so that the intake can
        # take thousands of events at once (this is the hot path of the writer)
        self._queue: deque[CallEvent] = deque()
        self._queue_size = queue_size
        self._arrived = asyncio.Event()
        # the hand-off to the committer, bounded like the queue; beyond the bound a
        # spooled entry stays on disk only and the committer reads it back from there
        self._handoff: deque[_Entry] = deque()
        self._handoff_events = 0
        self._handoff_limit = queue_size
        self._memory_only = 0  # events in the hand-off that are not in the spool
        self._wake = asyncio.Event()  # the intake published something
        self._room = asyncio.Event()  # the committer took something
        self._commit_lock = asyncio.Lock()
        self._lock_wanted = 0  # others waiting for the commit lock: the pipeline lets go
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._seq = 0  # the last seq given to an event
        self._accepted_seq = 0  # the last seq on disk or in the hand-off
        self._committed_seq = 0  # every seq up to this one is in the database
        self._unsaved: Position | None = None  # a committed spool position not checkpointed yet
        self._saved_at = 0.0  # when the checkpoint was last saved (event loop time)
        self.written = 0
        self.dropped = 0
        self.conflicts = 0  # rows not stored because their id belongs to another event
        self.duplicates = 0  # rows not stored because the same event is stored (replays)
        self.spilled = 0  # times ``emit`` spooled a slice itself (the queue was full)
        self._over_warned = False  # warned that the queue grows past its size
        self.failures = 0
        self.pipelined = 0  # batches committed through the pipeline (PostgreSQL)
        self.spool_errors = 0
        self._db_ok = True
        self._spool_ok = True
        self.oldest_pending_at: float | None = None

    # -- the sink port ----------------------------------------------------

    def emit(self, event: CallEvent) -> None:
        """Queue an event (never waits on the database; never drops it for a full queue)."""
        queue = self._queue
        if len(queue) >= self._queue_size:
            self._overflow()
        queue.append(event)
        if not self._arrived.is_set():
            self._arrived.set()

    def _overflow(self) -> None:
        """The queue is full (a burst the intake had no turn to take): see the module doc."""
        if self.spool is not None and self._started:
            # the intake's work, done here on a slice: to the spool, order kept
            self._accept(self._take(_INTAKE_SLICE))
            self.spilled += 1
            if len(self._queue) < self._queue_size:
                return
        if not self._over_warned:
            self._over_warned = True
            log.warning(
                "event log queue past its size of %d events (%s); keeping them in memory",
                self._queue_size,
                "no spool" if self.spool is None else "not started",
            )

    # -- life cycle -------------------------------------------------------

    async def start(self) -> None:
        """Open the spool, replay what it holds beyond its checkpoint, start the tasks.

        Raises ``SpoolError`` if another writer uses the spool directory, and
        the database's error if it cannot be reached for the replay.
        """
        if self.spool is not None:
            self.spool.open()
            self._warn_about_other_spools()
        try:
            # the months' partitions first, so that the replay lands in them
            await self.maintain()
            replayed_seq = await self._replay()
            async with self.engine.connect() as conn:
                db_seq = (await conn.execute(select(func.max(call_events.c.seq)))).scalar()
        except BaseException:
            if self.spool is not None:
                self.spool.close()
            raise
        self._seq = self._accepted_seq = self._committed_seq = max(int(db_seq or 0), replayed_seq)
        self._started = True
        self._start_tasks(maintained=True)

    async def start_offline(self, clock_s: float) -> None:
        """Start without the database (unreachable now): events go to the spool meanwhile.

        What the spool holds beyond its checkpoint is written first, once the
        database is back, by the committer. The database's last ``seq`` is
        unknown, so numbering goes on after the spool's last event or, with an
        empty spool, from the clock in microseconds: beyond any seq stored
        before (which would take a million events a second), so the order of
        events by seq holds across restarts.
        """
        if self.spool is None:
            raise SpoolError("the database is unreachable and there is no spool to keep events in")
        self.spool.open()
        self._warn_about_other_spools()
        first = last = 0
        position = self.spool.checkpoint
        while position < self.spool.end:
            lines, position = self.spool.read(position, self.batch_size, copy_line)
            if lines:
                first = first or seq_of(lines[0])
                last = seq_of(lines[-1])
        if last:
            self._committed_seq, self._seq = first - 1, last
        else:
            self._committed_seq = self._seq = int(clock_s * 1_000_000)
        self._accepted_seq = self._seq
        self._db_ok = False  # until a write succeeds
        self._started = True
        self._start_tasks(maintained=False)

    def _start_tasks(self, *, maintained: bool) -> None:
        self._tasks = [
            asyncio.create_task(self._intake(), name="event-writer-intake"),
            asyncio.create_task(self._commit_loop(), name="event-writer-commit"),
            asyncio.create_task(self._maintenance(maintained), name="event-writer-maintenance"),
        ]

    # -- maintenance: partitions ahead, retention ---------------------------------

    async def maintain(self) -> None:
        """Create the coming months' partitions and apply ``retention_months``.

        Partitions exist on PostgreSQL only (``partitions.py``); retention
        drops whole months there, and deletes old rows in chunks on SQLite.
        Between two batches (the commit lock), so the DDL never waits on this
        writer's own transaction.
        """
        async with self._between_batches(), self.engine.connect() as conn:
            created = await conn.run_sync(
                lambda sync: ensure_month_partitions(
                    sync, _TABLE, self.partition_months_ahead, unique=EVENT_UNIQUE
                )
            )
            await conn.commit()
            self.partitions_created += len(created)
            if self.retention_months is not None:
                removed = await conn.run_sync(_retention, self.retention_months, not self._postgres)
                await conn.commit()
                self.retention_removed += removed

    @contextlib.asynccontextmanager
    async def _between_batches(self) -> AsyncIterator[None]:
        """The commit lock, for work between two batches: a pipelined stretch ends for it."""
        self._lock_wanted += 1
        try:
            await self._commit_lock.acquire()
        finally:
            self._lock_wanted -= 1
        try:
            yield
        finally:
            self._commit_lock.release()

    async def _maintenance(self, maintained: bool) -> None:
        """``maintain`` daily (it ran at ``start``), or until it works (``start_offline``)."""
        delay = self.maintenance_interval_s if maintained else 0.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self.maintain()
                delay = self.maintenance_interval_s
            except Exception as exc:  # the database away: partitions are made ahead, so wait
                log.warning("event log maintenance failed (%s); retrying later", exc)
                delay = min(_MAINTENANCE_RETRY_S, self.maintenance_interval_s)

    def database_back(self) -> None:
        """The database answered again (the server migrated it): healthy unless a write fails."""
        if self._committed_seq >= self._accepted_seq:
            self._db_ok = True  # nothing pending whose write would tell

    async def stop(self) -> None:
        """Write everything queued, then close.

        With a spool, events the database cannot take now (it is down) stay in
        the spool for the next start instead of failing the shutdown.
        """
        if not self._started:  # start failed or never ran: nothing is open
            if self._queue:
                log.warning("event log never started: %d events not written", len(self._queue))
            await self.engine.dispose()
            return
        self._started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await self.flush()
        except Exception as exc:
            if self.spool is None:
                raise
            log.warning(
                "event log: database unreachable at stop (%s); %d events stay in %s "
                "and are written at the next start",
                exc, self.spooled, self.spool.path,
            )  # fmt: skip
        finally:
            if self.spool is not None:
                self.spool.close()
            await self.engine.dispose()

    async def flush(self) -> None:
        """Write every queued and pending event now (one attempt; raises on a DB error)."""
        while self._queue:
            self._accept(self._take(self.batch_size), force=True)
        async with self._between_batches():
            while self._committed_seq < self._accepted_seq:
                entry = self._next_batch()
                if entry is None:
                    break
                await self._write(entry)

    # -- numbers for health and metrics -------------------------------------

    @property
    def healthy(self) -> bool:
        """The last database write and the last spool write both succeeded."""
        return self._db_ok and self._spool_ok

    @property
    def queued(self) -> int:
        """Events emitted and not yet taken by the intake."""
        return len(self._queue)

    @property
    def spooled(self) -> int:
        """Events in the spool that are not yet in the database."""
        if self.spool is None:
            return 0
        return self._accepted_seq - self._committed_seq - self._memory_only

    @property
    def spool_bytes(self) -> int:
        """Bytes of spool segment files on disk."""
        return self.spool.size_bytes if self.spool is not None else 0

    # -- intake: queue -> seq, encoding -> spool -> hand-off --------------------

    def _take(self, limit: int) -> list[CallEvent]:
        queue = self._queue
        if len(queue) <= limit:
            batch = list(queue)
            queue.clear()
            return batch
        return [queue.popleft() for _ in range(limit)]

    async def _intake(self) -> None:
        unsynced = 0
        while True:
            if self.spool is None:
                # memory only: leave events in the queue (which then bounds them)
                # until the committer has made room in the hand-off
                while self._handoff_events >= self._handoff_limit:
                    self._room.clear()
                    await self._room.wait()
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            # to disk at once, whatever is there (the committer does the batching),
            # in slices of a few milliseconds so that a burst never holds up routing
            events = self._take(_INTAKE_SLICE)
            self._accept(events)
            unsynced += len(events)
            if self._over_warned and len(self._queue) < self._queue_size // 2:
                self._over_warned = False  # the episode is over: warn again next time
            if self._queue:
                await asyncio.sleep(0)
                if unsynced < _SYNC_GROUP:
                    continue  # a backlog: several slices to one fsync
            if self.spool is not None and self.spool_fsync:
                # off the event loop; meanwhile events gather in the queue and go
                # to disk together with the next write (a group commit)
                await asyncio.to_thread(self.spool.sync)
            unsynced = 0

    def _accept(self, events: list[CallEvent], *, force: bool = False) -> None:
        """Number, encode and spool ``events``, then hand them to the committer.

        Each event becomes one COPY line, once: the same bytes go to the
        spool, to the hand-off and to the database.
        """
        lines: list[str] = []
        seq = self._seq
        for event in events:
            try:
                line = encode_line(seq + 1, event)
            except (TypeError, ValueError, OverflowError) as exc:
                log.error("event %r cannot be stored (%s): dropped", event.id, exc)
                self.dropped += 1
                continue
            seq += 1
            lines.append(line)
        if not lines:
            return
        blob = "".join(lines).encode()
        end: Position | None = None
        if self.spool is not None:
            try:
                _, end = self.spool.append(blob)
                self._spool_ok = True
            except SpoolError as exc:
                self.spool_errors += 1
                self._spool_ok = False
                log.error("event log spool write failed, keeping events in memory: %s", exc)
        room = force or self._handoff_events < self._handoff_limit
        if end is None and not room:
            self._count_drops(len(lines), "event log spool failing and memory full")
            return  # their seq numbers were not used: ``self._seq`` is unchanged
        first = self._seq + 1
        self._seq = self._accepted_seq = seq
        if room:  # else they are on disk only, and the committer reads them from there
            self._handoff.append(_Entry(blob, first, seq, len(lines), end))
            self._handoff_events += len(lines)
            if end is None:
                self._memory_only += len(lines)
        self._wake.set()

    def _count_drops(self, n: int, why: str) -> None:
        before = self.dropped
        self.dropped += n
        if before == 0 or before // 1000 != self.dropped // 1000:
            log.error("%s: %d events dropped so far", why, self.dropped)

    # -- committer: hand-off or spool -> database -------------------------------

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self._committed_seq >= self._accepted_seq:
                self._wake.clear()
                await self._wake.wait()
            # a batch is due when full, or flush_interval_s after work showed up
            deadline = loop.time() + self.flush_interval_s
            while self._accepted_seq - self._committed_seq < self.batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
            async with self._commit_lock:
                if self._postgres:
                    await self._commit_pipelined()
                    continue
                entry = self._next_batch()
                if entry is None:  # nothing to be found: never spin on it
                    self._skip_missing()
                    continue
                await self._write_with_retry(entry)

    def _skip_missing(self) -> None:
        missing = (self._committed_seq + 1, self._accepted_seq)
        log.warning("event log: seq %d..%d not found", *missing)
        self._committed_seq = self._accepted_seq

    async def _commit_pipelined(self) -> None:
        """PostgreSQL: batches in order, the next one copying while the one before commits.

        Up to ``_PIPELINE`` batches are in flight, each on its own
        connection, each committed after the one before (``copy_pipelined``):
        the database never waits for the writer to read the next batch, move
        the checkpoint or take its turn on the event loop. A batch that did
        not commit (a stored id, refused data, the database away) makes the
        ones after it roll back, and is written again alone, as without
        pipelining (merge, bisection, retries); then the pipeline starts
        again after it. Returns when nothing is in flight and no batch is
        due, or when another task waits for the commit lock.
        """
        flight: deque[_InFlight] = deque()
        conns: list[AsyncConnection] = []  # one per place in the pipeline, for the whole run
        try:
            while True:
                if not await self._launch(flight, conns):
                    return
                if not flight:
                    return
                head = flight[0]
                if not head.task.done():
                    await self._until_landed_or_more(head, room=len(flight) < _PIPELINE)
                    if not head.task.done():
                        continue
                flight.popleft()
                if self._landed(head, more=bool(flight)):
                    self.oldest_pending_at = first_at(flight[0].entry.blob) if flight else None
                    continue
                # not committed: the batches after it roll back (they wait for it)
                if flight:
                    await asyncio.wait([f.task for f in flight])
                    flight.clear()
                await self._write_with_retry(head.entry)
                return
        finally:
            # cancelled (``stop``): what did commit counts, in order; the rest is written again
            for f in flight:
                f.task.cancel()
            if flight:
                await asyncio.wait([f.task for f in flight])
            while flight and self._landed(flight.popleft(), more=True):
                pass
            self._save_checkpoint()
            for conn in conns:
                with contextlib.suppress(Exception):  # a broken one is let go all the same
                    await conn.close()

    async def _launch(self, flight: deque[_InFlight], conns: list[AsyncConnection]) -> bool:
        """Start the due batches that fit in the pipeline; False: nothing to find (skipped).

        Batches take the connections of ``conns`` in turn (made as needed):
        a connection is free again once the batch two places before has landed.
        """
        while len(flight) < _PIPELINE and not self._lock_wanted:
            if flight:
                last = flight[-1].entry
                if self._accepted_seq - last.last_seq < self.batch_size:
                    return True  # the next one is not full: it waits for the flight to land
                entry = self._next_batch(last.last_seq, last.end)
            else:
                if self._committed_seq >= self._accepted_seq:
                    return True
                entry = self._next_batch()
            if entry is None:
                if flight:
                    return True  # once the flight has landed it is read from the checkpoint
                self._skip_missing()
                return False
            if not entry.count:
                if flight:
                    return True
                await self._write(entry)  # only moves the spool's checkpoint past skipped lines
                continue
            if not flight:
                self.oldest_pending_at = first_at(entry.blob)
            before = flight[-1].task if flight else None
            if len(conns) < _PIPELINE:
                try:
                    conn = await self.engine.connect()
                except Exception:  # the database away: no pipeline until it is back
                    if flight:
                        return True
                    await self._write_with_retry(entry)  # alone, retried until it is
                    continue
            else:
                conn = conns.pop(0)  # its batch landed: the one two places back
            conns.append(conn)
            task = asyncio.create_task(self._copy(conn, entry, before), name="event-writer-batch")
            flight.append(_InFlight(entry, task))
        return True

    async def _until_landed_or_more(self, head: _InFlight, *, room: bool) -> None:
        """Wait for ``head`` to land or, with room in the pipeline, for more events."""
        if not room:
            await asyncio.wait((head.task,))
            return
        self._wake.clear()
        more = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait((head.task, more), return_when=asyncio.FIRST_COMPLETED)
        finally:
            more.cancel()

    async def _copy(
        self, conn: AsyncConnection, entry: _Entry, before: asyncio.Task[bool] | None
    ) -> bool:
        states = latest_states(records_of(entry.blob, AGENT_STATE_KIND))
        return await copy_pipelined(conn, entry.blob, states, lambda: _committed(before))

    def _landed(self, head: _InFlight, *, more: bool) -> bool:
        """Account for a finished pipelined batch; False if it did not commit."""
        task = head.task
        if task.cancelled():
            return False
        exc = task.exception()
        if exc is not None or not task.result():
            if exc is not None:  # the batch is written again alone, which says what it meets
                log.debug("event log: pipelined batch not committed: %s", exc)
            return False
        self._db_ok = True
        self.pipelined += 1
        # with more batches in flight the checkpoint can wait (see _CHECKPOINT_EVERY_S)
        self._done(head.entry, head.entry.count, Outcome(), defer_checkpoint=more)
        return True

    def _trim(self) -> None:
        """Let go of the hand-off entries that are committed.

        Not before: a write cancelled by ``stop`` must find its batch again.
        """
        handoff = self._handoff
        while handoff and handoff[0].last_seq <= self._committed_seq:
            entry = handoff.popleft()
            self._handoff_events -= entry.count
            if entry.end is None:
                self._memory_only -= entry.count
            self._room.set()

    def _next_batch(self, after: int | None = None, start: Position | None = None) -> _Entry | None:
        """Up to about ``batch_size`` lines following seq ``after`` (the committed seq), in order.

        From the hand-off when it holds the next seq, else read back from the
        spool (the hand-off overflowed while the committer was behind), from
        ``start`` (where seq ``after`` ends in the spool; the checkpoint if
        None, which a batch after one in flight never takes).
        """
        self._trim()
        handoff = self._handoff
        nxt = (self._committed_seq if after is None else after) + 1
        if handoff and handoff[0].first_seq <= nxt <= handoff[-1].last_seq:
            first, count = nxt, 0
            parts: list[bytes] = []
            end: Position | None = None
            for entry in handoff:
                if entry.last_seq < nxt:
                    continue  # in a batch in flight
                if entry.first_seq > nxt or count >= self.batch_size:
                    break
                blob = entry.blob
                if nxt > entry.first_seq:  # partly committed (read back from the spool)
                    blob = b"".join(blob.splitlines(keepends=True)[nxt - entry.first_seq :])
                parts.append(blob)
                count += entry.last_seq - nxt + 1
                nxt = entry.last_seq + 1
                end = entry.end or end
            if count:
                return _Entry(b"".join(parts), first, nxt - 1, count, end)
        if after is not None and start is None:
            return None  # where to read in the spool is not known
        if self.spool is not None:
            start = start or self._unsaved or self.spool.checkpoint
            if start < self.spool.end:
                return self._read_spool(nxt, start)
        if handoff and handoff[0].first_seq > nxt:
            # cannot happen while seq numbers are contiguous; never stall on it
            log.warning("event log: seq %d..%d missing", nxt, handoff[0].first_seq - 1)
            return handoff[0]
        return None

    def _read_spool(self, nxt: int, start: Position) -> _Entry:
        assert self.spool is not None
        lines, position = self.spool.read(start, self.batch_size, copy_line)
        if lines:
            first, last = seq_of(lines[0]), seq_of(lines[-1])
            if first == nxt and last - first == len(lines) - 1:  # the usual: all in order
                return _Entry(b"".join(lines), first, last, len(lines), position)
        kept: list[bytes] = []
        first = 0
        end: Position | None = position
        for line in lines:
            seq = seq_of(line)
            if seq < nxt:
                continue  # committed already
            if kept and seq != nxt:
                # a gap: the missing events are in memory only (a failed spool write);
                # they go first, and the checkpoint waits for them
                end = None
                break
            kept.append(line)
            first = first or seq
            nxt = seq + 1
        return _Entry(b"".join(kept), first or nxt, nxt - 1, len(kept), end)

    async def _replay(self) -> int:
        """Write what the spool holds beyond its checkpoint; return the last seq seen."""
        if self.spool is None:
            return 0
        last_seq = replayed = 0
        while self.spool.checkpoint < self.spool.end:
            lines, position = self.spool.read(self.spool.checkpoint, self.batch_size, copy_line)
            seqs = [seq_of(line) for line in lines]
            if seqs:
                entry = _Entry(b"".join(lines), seqs[0], max(seqs), len(lines), position)
            else:
                entry = _Entry(b"", 0, 0, 0, position)
            await self._write(entry)
            replayed += len(lines)
            if seqs:
                last_seq = max(last_seq, entry.last_seq)
        if replayed:
            log.info("event log: replayed %d spooled events from %s", replayed, self.spool.path)
        return last_seq

    async def _write_with_retry(self, entry: _Entry) -> None:
        delay = 0.1
        while True:
            try:
                await self._write(entry)
                self._db_ok = True
                return
            except Exception as exc:  # any database failure: keep the batch, retry
                self.failures += 1
                self._db_ok = False
                log.warning("event log write failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.retry_max_s, delay * 2)

    async def _write(self, entry: _Entry) -> None:
        """Commit one batch, then move the committed seq and the spool checkpoint."""
        if entry.count:
            self.oldest_pending_at = first_at(entry.blob)
            written, outcome = await self._write_lines(entry.blob, entry.count)
            self.oldest_pending_at = None
        else:
            written, outcome = 0, Outcome()
        self._done(entry, written, outcome)

    def _done(
        self, entry: _Entry, written: int, outcome: Outcome, *, defer_checkpoint: bool = False
    ) -> None:
        """``entry`` is committed (``written`` rows of it): counts, committed seq, checkpoint."""
        if entry.count:
            self.written += written
            self.duplicates += outcome.duplicates
            if outcome.conflicts:
                self.conflicts += outcome.conflicts
                log.error(
                    "event log: %d events of a batch of %d not stored: their id is stored "
                    "for another event (e.g. %r); event ids must be unique",
                    outcome.conflicts, entry.count, outcome.example,
                )  # fmt: skip
            self._committed_seq = max(self._committed_seq, entry.last_seq)
            self._trim()
        if entry.end is not None and self.spool is not None:
            self._unsaved = entry.end
        if not defer_checkpoint or (
            asyncio.get_running_loop().time() - self._saved_at >= _CHECKPOINT_EVERY_S
        ):
            self._save_checkpoint()

    def _save_checkpoint(self) -> None:
        """Save the committed spool position, if it moved."""
        if self._unsaved is None or self.spool is None:
            return
        try:
            self.spool.commit(self._unsaved)
        except OSError as exc:  # only costs a longer (idempotent) replay later
            log.warning("event log: spool checkpoint not saved: %s", exc)
        self._unsaved = None
        self._saved_at = asyncio.get_running_loop().time()

    async def _write_lines(self, blob: bytes, count: int) -> tuple[int, Outcome]:
        """Write ``count`` lines in one transaction; if the database refuses their data, bisect.

        A row the database refuses (say a spool line damaged by a power cut)
        would fail its whole batch at every retry and stall the event log for
        good; the halves are written apart instead, and a single refused row is
        dropped, counted and logged. Connection errors go up, to be retried.
        Returns how many lines were written, and what was skipped.
        """
        try:
            states = latest_states(records_of(blob, AGENT_STATE_KIND))
            if self._postgres:
                outcome = await copy_batch(self.engine, blob, count, states)
            else:
                outcome = await insert_batch(self.engine, records_of(blob), states)
            return count, outcome
        except REFUSED as exc:
            lines = blob.splitlines(keepends=True)
            if len(lines) == 1:
                event_id = lines[0].split(b"\t", 1)[0].decode(errors="replace")
                log.error("event %r refused by the database (%s): dropped", event_id, exc)
                self.dropped += 1
                return 0, Outcome()
            half = len(lines) // 2
            first, a = await self._write_lines(b"".join(lines[:half]), half)
            second, b = await self._write_lines(b"".join(lines[half:]), len(lines) - half)
            return first + second, a.add(b)

    def _warn_about_other_spools(self) -> None:
        """Tell the operator about events spooled for another database URL."""
        assert self.spool is not None and self._spool_root is not None
        for other in sorted(self._spool_root.glob("*/*.jsonl")):
            if other.parent != self.spool.path and other.stat().st_size:
                log.warning(
                    "event log: %s holds spooled events for another database URL (another "
                    "writer, or store.url changed); they are not replayed here",
                    other.parent,
                )
                return


# the tables kept by month, with the time they are kept by: the reports' projection
# (migration 0009) goes with the log it is made from, a month at a time
_RETAINED = (
    (_TABLE, "at"),
    ("call_records", "started_at"),
    ("agent_intervals", "since_at"),
)


def _retention(conn: Any, months: int, commit_each: bool) -> int:
    return sum(
        apply_retention(conn, table, months, column=column, commit_each=commit_each)
        for table, column in _RETAINED
    )
