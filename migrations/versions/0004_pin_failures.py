"""pin failures: wrong PINs per account across calls, for the lockout

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pin_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pin_failures_account_at", "pin_failures", ["account", "at"])


def downgrade() -> None:
    op.drop_index("ix_pin_failures_account_at", table_name="pin_failures")
    op.drop_table("pin_failures")
