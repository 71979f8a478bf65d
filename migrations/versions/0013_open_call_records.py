"""open call records: an index of the projected calls that have not ended

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

A process taking over reads back the calls still open (``routing/restore.py``).
It folded the whole last day of the event log to find them, which on a busy
center is millions of calls and minutes of takeover; it now asks the report
projection, and this partial index makes that a read of the few open rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_call_records_open",
        "call_records",
        ["started_at"],
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_call_records_open", table_name="call_records")
