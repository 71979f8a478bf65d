"""recording quality: the scores quality staff give recorded calls

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_scores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False, unique=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("call_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points", sa.JSON, nullable=False),
        sa.Column("scorecard", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("scored_by", sa.String(64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_quality_scores_agent", "quality_scores", ["agent"])
    op.create_index("ix_quality_scores_call_at", "quality_scores", ["call_at"])


def downgrade() -> None:
    op.drop_index("ix_quality_scores_call_at", "quality_scores")
    op.drop_index("ix_quality_scores_agent", "quality_scores")
    op.drop_table("quality_scores")
