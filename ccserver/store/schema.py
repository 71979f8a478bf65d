"""Tables of the call event log (SQLAlchemy Core; Alembic migrates them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

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

# The latest state of each agent, kept by the event writer in the same transaction
# as the ``acd.agent_state`` events it comes from, so the two never disagree; the
# server restores agents from it at start. ``since`` and ``seq`` are the event's:
# a row changes only for a later (since, seq), so a replayed older event never
# overwrites a newer state.
agent_states = Table(
    "agent_states",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- self-service (IVR) records -------------------------------------------------

# The default account backend: an operator with a billing system uses the HTTP
# backend instead. The PIN is stored only as a salted PBKDF2 hash.
accounts = Table(
    "accounts",
    metadata,
    Column("number", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(32), nullable=True, index=True),
    Column("pin_hash", String(160), nullable=False),
    Column("balance_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_date", Date, nullable=True),
    Column("region", String(32), nullable=True),
    Column("tier", String(16), nullable=False),
)

# A fault report's work order, tracked to closure and a confirmed repair.
tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(16), nullable=True, unique=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("account", String(16), nullable=True),
    Column("caller", String(32), nullable=False),
    Column("callback_number", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
    # after closure: pending | calling | confirmed | not_fixed | unreached
    Column("callback_status", String(16), nullable=True),
    Column("callback_attempts", Integer, nullable=False, default=0),
    Column("rating", Integer, nullable=True),
)

# A known outage declared by a supervisor; callers in its regions hear it.
outages = Table(
    "outages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("regions", JSON, nullable=False),  # account regions it covers
    Column("number_prefixes", JSON, nullable=False),  # caller numbers it covers
    Column("message", String(200), nullable=False),
    Column("prompt", String(64), nullable=True),  # a recorded notice, if any
    Column("declared_at", DateTime(timezone=True), nullable=False),
    Column("expected_fix_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
)

# Calls the center owes: after an outage is fixed, or instead of waiting.
callbacks = Table(
    "callbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # outage | queue
    Column("number", String(32), nullable=False),
    Column("call_id", String(64), nullable=False, index=True),
    Column("outage_id", Integer, nullable=True, index=True),
    Column("queue", String(32), nullable=True),
    Column("status", String(16), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=True),
)

# Satisfaction scores 1-5: after an agent call, or after a repair.
surveys = Table(
    "surveys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # call | repair
    Column("agent_id", String(32), nullable=True, index=True),
    Column("queue", String(32), nullable=True),
    Column("ticket_id", Integer, nullable=True),
    Column("score", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Wrong PINs per account across calls: the lockout counts those within its window.
pin_failures = Table(
    "pin_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(32), nullable=False),
    Column("call_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_pin_failures_account_at", "account", "at"),
)

# --- people: users, their sessions, system tokens and the audit trail ----------

# A person who logs in to the pages or the API. The password is kept only as an
# argon2 hash; ``teams`` (supervisors) lists the queues they supervise, null = all.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # agent | supervisor | quality | admin
    Column("agent_id", String(64), nullable=True),  # an agent's ACD id
    Column("teams", JSON, nullable=True),
    Column("language", String(8), nullable=False),  # zh-CN | en
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

# A login: the cookie (or bearer) value is random; only its SHA-256 is kept.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=True),
)

# A token for another system, made by an admin and shown once; kept as its SHA-256.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Every change a person or a system made through the API: who, what, when, from where.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("actor_kind", String(16), nullable=False),  # user | token
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=True),
    Column("detail", JSON, nullable=False),
    Column("source", String(64), nullable=True),
)
