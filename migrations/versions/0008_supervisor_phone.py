"""supervisor phone: the PJSIP endpoint a supervisor listens, whispers and barges from

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite (the demo) cannot ALTER a table's columns in place
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
