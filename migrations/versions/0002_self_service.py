"""self-service records: accounts, tickets, outages, callbacks, surveys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("number", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("pin_hash", sa.String(160), nullable=False),
        sa.Column("balance_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("tier", sa.String(16), nullable=False),
    )
    op.create_index("ix_accounts_phone", "accounts", ["phone"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(16), nullable=True, unique=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("account", sa.String(16), nullable=True),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("callback_number", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("callback_status", sa.String(16), nullable=True),
        sa.Column("callback_attempts", sa.Integer, nullable=False),
        sa.Column("rating", sa.Integer, nullable=True),
    )
    op.create_index("ix_tickets_call_id", "tickets", ["call_id"])
    op.create_index("ix_tickets_due_at", "tickets", ["due_at"])
    op.create_table(
        "outages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("regions", sa.JSON, nullable=False),
        sa.Column("number_prefixes", sa.JSON, nullable=False),
        sa.Column("message", sa.String(200), nullable=False),
        sa.Column("prompt", sa.String(64), nullable=True),
        sa.Column("declared_at", TS, nullable=False),
        sa.Column("expected_fix_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("outage_id", sa.Integer, nullable=True),
        sa.Column("queue", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
    )
    op.create_index("ix_callbacks_call_id", "callbacks", ["call_id"])
    op.create_index("ix_callbacks_outage_id", "callbacks", ["outage_id"])
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("queue", sa.String(32), nullable=True),
        sa.Column("ticket_id", sa.Integer, nullable=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_surveys_call_id", "surveys", ["call_id"])
    op.create_index("ix_surveys_agent_id", "surveys", ["agent_id"])


def downgrade() -> None:
    for table in ("surveys", "callbacks", "outages", "tickets", "accounts"):
        op.drop_table(table)
