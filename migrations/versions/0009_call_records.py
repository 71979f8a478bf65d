"""call records: the reports' projection of the event log (call_records, agent_intervals)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

``call_records`` (one row per call) and ``agent_intervals`` (each agent's state
from one change to the next) are kept by the report projector
(``ccserver/reporting/projector.py``) as events land; ``report_projection`` is
where it is in the log. On PostgreSQL both tables are ``PARTITION BY RANGE``
of the call's start / the interval's start, one partition per month
(``ccserver.store.partitions``). ``call_events`` gets an index on ``seq``: the
projector follows the log by it.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from ccserver.store.partitions import ensure_month_partitions

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
_MONTHS_AHEAD = 3  # the projector adds the months it meets from then on


def _partitioned(pg: bool, column: str) -> dict[str, Any]:
    """PostgreSQL: range partitions on ``column`` (by month); SQLite: a plain table."""
    return {"postgresql_partition_by": f"RANGE ({column})"} if pg else {}


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table(
        "call_records",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("caller", sa.String(64), nullable=False),
        sa.Column("arrived_at", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("ivr", sa.Boolean, nullable=False),
        sa.Column("ivr_outcome", sa.String(32), nullable=True),
        sa.Column("ivr_path", sa.JSON, nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("queues", sa.JSON, nullable=False),
        sa.Column("offered_at", sa.Float, nullable=True),
        sa.Column("answered_at", sa.Float, nullable=True),
        sa.Column("talk_end_at", sa.Float, nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("ring_s", sa.Float, nullable=False),
        sa.Column("hold_s", sa.Float, nullable=False),
        sa.Column("overflowed", sa.Boolean, nullable=False),
        sa.Column("callback", sa.Boolean, nullable=False),
        sa.Column("callback_failed", sa.Boolean, nullable=False),
        sa.Column("abandoned", sa.Boolean, nullable=False),
        sa.Column("vip", sa.Boolean, nullable=False),
        sa.Column("ticket", sa.String(64), nullable=True),
        sa.Column("survey", sa.Integer, nullable=True),
        sa.Column("disposition", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=True),
        sa.Column("agents", sa.JSON, nullable=False),
        sa.Column("transfers", sa.Integer, nullable=False),
        sa.Column("transfer_gap_s", sa.Float, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("call_id", "started_at", name="call_records_pkey"),
        **_partitioned(pg, "started_at"),
    )
    op.create_index("ix_call_records_started_at", "call_records", ["started_at"])
    op.create_index("ix_call_records_call_id", "call_records", ["call_id"])
    op.create_table(
        "agent_intervals",
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("since_at", TS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("until", sa.Float, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("agent", "since_at", "seq", name="agent_intervals_pkey"),
        **_partitioned(pg, "since_at"),
    )
    op.create_index("ix_agent_intervals_since_at", "agent_intervals", ["since_at"])
    op.create_table(
        "report_projection",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Float, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_call_events_seq", "call_events", ["seq"])
    if pg:
        for table in ("call_records", "agent_intervals"):
            ensure_month_partitions(bind, table, _MONTHS_AHEAD)


def downgrade() -> None:
    op.drop_index("ix_call_events_seq", "call_events")
    op.drop_table("report_projection")
    op.drop_table("agent_intervals")
    op.drop_table("call_records")
