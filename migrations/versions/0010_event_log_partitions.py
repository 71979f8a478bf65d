"""event log partitions: call_events partitioned by month on PostgreSQL

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

``call_events`` becomes ``PARTITION BY RANGE (at)``, one partition per month
(``ccserver.store.partitions``) and a default one. A key of a partitioned
table must hold the partition key, and (id, at) would let an id reused at
another time through: so each partition keeps ``id`` unique by an index of its
own instead (a replay carries the same ``at``, so it meets its stored row in
the same partition). The other indexes are kept, whichever migration made
them. The rows move over: the old table is renamed, the new one filled from
it, the old one dropped. SQLite (the demo) has no partitions: nothing changes
there.
"""

from datetime import UTC

import sqlalchemy as sa
from alembic import op

from ccserver.store.dialects import EVENT_UNIQUE
from ccserver.store.partitions import ensure_month_partitions

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = "id, at, call_id, kind, data, seq"
_MONTHS_AHEAD = 3  # the writer keeps the months ahead from then on (store.partition_months_ahead)


def _rename_old() -> list[str]:
    """Rename ``call_events`` and its key and indexes to ``*_old``; the index definitions.

    The definitions (taken before the renaming, so they name ``call_events``)
    rebuild every index on the new table, whichever migration added it.
    """
    bind = op.get_bind()
    indexes = list(
        bind.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = 'call_events' "
                "AND indexname <> 'call_events_pkey'"
            )
        )
    )
    op.execute("ALTER TABLE call_events RENAME TO call_events_old")
    if bind.execute(
        sa.text("SELECT 1 FROM pg_constraint WHERE conname = 'call_events_pkey'")
    ).first():
        op.execute(
            "ALTER TABLE call_events_old RENAME CONSTRAINT call_events_pkey TO call_events_old_pkey"
        )
    for name, _ in indexes:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    # a partitioned table's indexes read "ON ONLY": that would leave out its partitions
    return [definition.replace(" ON ONLY ", " ON ") for _, definition in indexes]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    indexes = _rename_old()
    op.execute(
        "CREATE TABLE call_events ("
        " id varchar(64) NOT NULL, at timestamptz NOT NULL, call_id varchar(64) NOT NULL,"
        " kind varchar(64) NOT NULL, data json NOT NULL, seq bigint NOT NULL"
        ") PARTITION BY RANGE (at)"
    )
    for definition in indexes:  # on the partitioned table: each partition gets its own
        op.execute(definition)
    # the months the stored rows are in, this month and the next ones
    stored = bind.execute(
        sa.text("SELECT DISTINCT date_trunc('month', at, 'UTC') FROM call_events_old")
    )
    months = [m.replace(tzinfo=UTC) if m.tzinfo is None else m for (m,) in stored]
    ensure_month_partitions(bind, "call_events", _MONTHS_AHEAD, months=months, unique=EVENT_UNIQUE)
    op.execute(f"INSERT INTO call_events ({_COLUMNS}) SELECT {_COLUMNS} FROM call_events_old")
    op.execute("DROP TABLE call_events_old")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    indexes = _rename_old()
    op.create_table(
        "call_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    for definition in indexes:
        op.execute(definition)
    # one row per id again: the earliest of any id stored for two times (two months)
    op.execute(
        f"INSERT INTO call_events ({_COLUMNS}) SELECT DISTINCT ON (id) {_COLUMNS} "
        "FROM call_events_old ORDER BY id, at"
    )
    op.execute("DROP TABLE call_events_old CASCADE")
