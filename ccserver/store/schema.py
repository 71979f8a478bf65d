"""Tables of the call event log (SQLAlchemy Core; Alembic migrates them)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, MetaData, String, Table

metadata = MetaData()

# Append-only: one row per CallEvent; the id makes replays idempotent.
call_events = Table(
    "call_events",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Index("ix_call_events_call_id", "call_id"),
    Index("ix_call_events_at", "at"),
)
