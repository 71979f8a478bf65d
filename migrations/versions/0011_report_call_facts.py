"""report call facts: each call's wrap-up and its caller's next arrival on call_records

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

A month's queue report summed each call's wrap-up from ``agent_intervals`` and
sorted the month by caller for the repeat-call rule (seconds). The projector
now keeps both on the call's row: ``wrap_s`` (the sum of the closed
``wrap_up`` intervals credited to the call) and ``next_arrived_at`` (the
arrival of the same caller's next call, whatever the window a report asks
for). The indexes are the ones the projector looks these up by. Rows already
projected are filled in here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("call_records", sa.Column("wrap_s", sa.Float, nullable=False, server_default="0"))
    op.add_column("call_records", sa.Column("next_arrived_at", sa.Float, nullable=True))
    op.create_index("ix_call_records_caller_arrived_at", "call_records", ["caller", "arrived_at"])
    op.create_index("ix_agent_intervals_call_id", "agent_intervals", ["call_id"])
    op.execute(
        'UPDATE call_records SET wrap_s = coalesce((SELECT sum(a."until" - a.since) '
        "FROM agent_intervals a WHERE a.call_id = call_records.call_id "
        'AND a."until" > a.since), 0)'
    )
    op.execute(
        "UPDATE call_records SET next_arrived_at = (SELECT min(o.arrived_at) "
        "FROM call_records o WHERE o.caller = call_records.caller "
        "AND o.arrived_at > call_records.arrived_at) "
        "WHERE caller <> '' AND arrived_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_agent_intervals_call_id", "agent_intervals")
    op.drop_index("ix_call_records_caller_arrived_at", "call_records")
    op.drop_column("call_records", "next_arrived_at")
    op.drop_column("call_records", "wrap_s")
