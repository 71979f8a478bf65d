"""report queues: the names of the queues the projected calls were answered or abandoned in

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

A month's queue report gives each queue its own service-level threshold, so it
needs the queue names before it sums the calls; it found them by a scan of the
month of its own (a quarter of its time). The projector now keeps the names in
``report_queues`` as calls land (one row per queue, never per call); the
report reads them from here and runs its two scans at once. Names already in
``call_records`` are filled in here. Not partitioned: a queue whose calls
retention has dropped keeps its row (one name, harmless to a report).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("report_queues", sa.Column("queue", sa.String(64), primary_key=True))
    op.execute(
        "INSERT INTO report_queues (queue) "
        "SELECT DISTINCT queue FROM call_records WHERE queue IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("report_queues")
