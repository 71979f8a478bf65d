"""Monthly range partitions on PostgreSQL, and retention by month on any store.

A table partitioned ``PARTITION BY RANGE (<timestamp column>)`` gets one
partition per calendar month (UTC), named ``<table>_pYYYYMM``, plus a default
partition ``<table>_default`` that catches rows outside them (an event from
long ago, or from a clock far ahead). :func:`ensure_month_partitions` creates
the missing months ahead of time; :func:`drop_partitions_before` detaches and
drops the months wholly older than a cutoff; :func:`apply_retention` does the
same on any store (on SQLite, which has no partitions, it deletes old rows in
batches).

The functions take a synchronous SQLAlchemy ``Connection``, so the same code
serves an Alembic migration (``op.get_bind()``) and a running server
(``await conn.run_sync(ensure_month_partitions, "call_events", 3)``). Each
call does its DDL in the caller's transaction.

A new month is created as a plain table and then attached: moving into it any
rows the default partition holds for that month first (``ATTACH`` refuses a
range the default partition has rows in), and attaching takes only a SHARE
UPDATE EXCLUSIVE lock on the parent, so writers are not held up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")  # the table names we interpolate into DDL
_DELETE_CHUNK = 10_000  # rows per DELETE on SQLite: short transactions, no long lock


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of ``moment``'s month."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: datetime, months: int) -> datetime:
    """``month`` (a month start) moved by ``months`` (negative: back)."""
    index = month.year * 12 + month.month - 1 + months
    return month.replace(year=index // 12, month=index % 12 + 1)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month.year:04d}{month.month:02d}"


def retention_cutoff(months: int, now: datetime | None = None) -> datetime:
    """The start of the oldest month kept: ``months`` whole months before this one.

    A month is dropped once all of it is more than ``months`` months old.
    """
    if months < 1:
        raise ValueError("retention must keep at least one month")
    return add_months(month_start(now or datetime.now(UTC)), -months)


def _check(table: str) -> str:
    if not _NAME.match(table):
        raise ValueError(f"{table!r} is not a plain lower-case table name")
    return table


def _key_column(conn: Connection, table: str) -> str:
    """The partition key column of a range-partitioned table."""
    key = conn.execute(
        sa.text(
            "SELECT a.attname FROM pg_partitioned_table p "
            "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).scalar()
    if key is None:
        raise ValueError(f"{table} is not a partitioned table")
    return str(key)


def _partitions(conn: Connection, table: str) -> set[str]:
    rows = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    )
    return {str(name) for (name,) in rows}


def _bound(month: datetime) -> str:
    return month.strftime("%Y-%m-%d %H:%M:%S+00")


def ensure_month_partitions(
    conn: Connection,
    table: str,
    months_ahead: int = 3,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    months: Iterable[datetime] = (),
    unique: Sequence[str] = (),
) -> list[str]:
    """Create the missing monthly partitions of ``table`` (PostgreSQL), and its default.

    Months from ``since``'s (default: this month) to ``months_ahead`` after
    this one, and the months of ``months`` (say those an existing table has
    rows in). Rows the default partition holds for a new month move into it.
    ``unique``: columns each partition (the default one too) keeps unique
    within itself, by an index of its own (a key of the parent table must hold
    the partition key; this one need not). Returns the names of the
    partitions created (none on other databases).
    """
    if conn.dialect.name != "postgresql":
        return []
    _check(table)
    key = _key_column(conn, table)
    existing = _partitions(conn, table)
    created: list[str] = []
    default = f"{table}_default"
    if default not in existing:
        conn.execute(sa.text(f"CREATE TABLE {default} PARTITION OF {table} DEFAULT"))
        _unique_index(conn, default, unique)
        created.append(default)
    this_month = month_start(now or datetime.now(UTC))
    wanted = {month_start(m) for m in months}
    month = month_start(since) if since is not None else this_month
    while month <= add_months(this_month, months_ahead):
        wanted.add(month)
        month = add_months(month, 1)
    for month in sorted(wanted):
        name = partition_name(table, month)
        if name not in existing:
            _attach_month(conn, table, key, name, month, unique)
            created.append(name)
    if created:
        log.info("partitions: created %s", ", ".join(created))
    return created


def _unique_index(conn: Connection, name: str, columns: Sequence[str]) -> None:
    if not columns:
        return
    for column in columns:
        _check(column)
    index = f"{name}_{'_'.join(columns)}_key"
    conn.execute(sa.text(f"CREATE UNIQUE INDEX {index} ON {name} ({', '.join(columns)})"))


def _attach_month(
    conn: Connection, table: str, key: str, name: str, month: datetime, unique: Sequence[str]
) -> None:
    """One month's partition: made apart, given its rows from the default, attached."""
    default = f"{table}_default"
    lo, hi = month, add_months(month, 1)
    conn.execute(
        sa.text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    )
    moved = conn.execute(
        sa.text(
            f"WITH moved AS (DELETE FROM {default} WHERE {key} >= :lo AND {key} < :hi "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        {"lo": lo, "hi": hi},
    ).rowcount
    _unique_index(conn, name, unique)
    conn.execute(
        sa.text(
            f"ALTER TABLE {table} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{_bound(lo)}') TO ('{_bound(hi)}')"
        )
    )
    if moved:
        log.info("partitions: %d rows of %s moved from %s", moved, name, default)


def drop_partitions_before(conn: Connection, table: str, before: datetime) -> list[str]:
    """Detach and drop the monthly partitions of ``table`` that end by ``before`` (PostgreSQL).

    Rows older than ``before`` in the default partition are deleted too.
    Returns the names of the partitions dropped.
    """
    if conn.dialect.name != "postgresql":
        return []
    _check(table)
    pattern = re.compile(rf"^{re.escape(table)}_p(\d{{4}})(\d{{2}})$")
    dropped = []
    for name in sorted(_partitions(conn, table)):
        match = pattern.match(name)
        if match is None:
            continue
        month = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
        if add_months(month, 1) <= before:
            conn.execute(sa.text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
            conn.execute(sa.text(f"DROP TABLE {name}"))
            dropped.append(name)
    default = f"{table}_default"
    if default in _partitions(conn, table):
        key = _key_column(conn, table)
        conn.execute(sa.text(f"DELETE FROM {default} WHERE {key} < :before"), {"before": before})
    return dropped


def delete_rows_before(
    conn: Connection,
    table: str,
    column: str,
    before: datetime,
    *,
    chunk: int = _DELETE_CHUNK,
    commit_each: bool = False,
) -> int:
    """Delete rows with ``column`` older than ``before``, ``chunk`` at a time; return how many.

    For a store without partitions (SQLite). With ``commit_each`` every
    chunk is committed on its own, so the database is never locked for the
    whole of a large delete.
    """
    _check(table)
    _check(column)
    target = sa.table(table, sa.column(column, sa.DateTime(timezone=True)))
    if conn.dialect.name == "sqlite":
        before = before.astimezone(UTC).replace(tzinfo=None)  # SQLite keeps naive UTC
    # a row's physical address picks a chunk: any table has one, keyed or not
    key: sa.ColumnClause[object] = sa.literal_column(
        "ctid" if conn.dialect.name == "postgresql" else "rowid"
    )
    total = 0
    while True:
        picked = sa.select(key).select_from(target).where(target.c[column] < before).limit(chunk)
        done = conn.execute(sa.delete(target).where(key.in_(picked.scalar_subquery()))).rowcount
        total += done
        if commit_each:
            conn.commit()
        if done < chunk:
            return total


def apply_retention(
    conn: Connection,
    table: str,
    months: int,
    *,
    column: str = "at",
    now: datetime | None = None,
    commit_each: bool = False,
) -> int:
    """Drop ``table``'s data older than ``months`` whole months; return partitions/rows gone.

    PostgreSQL with a partitioned table: detach and drop whole months
    (returns how many partitions). Otherwise: delete the rows in chunks
    (returns how many rows; ``commit_each``: see :func:`delete_rows_before`).
    """
    cutoff = retention_cutoff(months, now)
    if conn.dialect.name == "postgresql" and _is_partitioned(conn, table):
        dropped = drop_partitions_before(conn, table, cutoff)
        if dropped:
            log.info("retention: dropped %s (older than %s)", ", ".join(dropped), cutoff.date())
        return len(dropped)
    deleted = delete_rows_before(conn, table, column, cutoff, commit_each=commit_each)
    if deleted:
        log.info("retention: deleted %d rows of %s older than %s", deleted, table, cutoff.date())
    return deleted


def _is_partitioned(conn: Connection, table: str) -> bool:
    found = conn.execute(
        sa.text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"),
        {"t": table},
    ).first()
    return found is not None
