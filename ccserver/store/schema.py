"""Tables of the call event log (SQLAlchemy Core; Alembic migrates them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

# Append-only: one row per CallEvent; the id makes replays idempotent. On PostgreSQL
# the table is partitioned by month (migration 0010, ``partitions.py``) and each
# partition keeps ``id`` unique with an index of its own (the parent has no key).
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
    # a supervisor's own phone (a PJSIP endpoint) for listen / whisper / barge (0008)
    Column("phone", String(64), nullable=True),
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

# -- quality (0007): one score per recorded call, on the scorecard of its day --------------
# ``points`` is {criterion id: points}; ``scorecard`` the criteria as they were when it was
# scored (id, weight, max_points), so a later scorecard change leaves old scores as given;
# ``score`` is their weighted percentage (0-100). ``call_at`` is when the call was answered.
quality_scores = Table(
    "quality_scores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("agent", String(64), nullable=True, index=True),
    Column("queue", String(64), nullable=True),
    Column("call_at", DateTime(timezone=True), nullable=False, index=True),
    Column("points", JSON, nullable=False),
    Column("scorecard", JSON, nullable=False),
    Column("score", Float, nullable=False),
    Column("comment", Text, nullable=True),
    Column("scored_by", String(64), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
)

# --- live configuration of the ACD (ccserver/configuration/) ------------------------
# The ACD's queues, agents, codes and engine settings as rows, seeded once from the
# acd.config YAML and then edited by admins; acd.config.AcdModel validates what is read.
# ``version`` is the configuration's version that last wrote the row; the one row of
# acd_settings holds the current version (a change bumps it only if it is unchanged).
acd_settings = Table(
    "acd_settings",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("settings", JSON, nullable=False),  # AcdModel's fields bar queues, agents, codes
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(64), nullable=True),
)

acd_queues = Table(
    "acd_queues",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("settings", JSON, nullable=False),  # a QueueModel
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

acd_agents = Table(
    "acd_agents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("skills", JSON, nullable=False),  # skill: level
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

acd_codes = Table(
    "acd_codes",
    metadata,
    Column("kind", String(16), primary_key=True),  # reason | disposition
    Column("code", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("label_zh", String(100), nullable=True),
    Column("label_en", String(100), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- reports at month scale: the projection of the event log (reporting/projector.py) ---

# One row per call: the CallRecord fields, folded from the call's events by the
# reports' own fold. Times are epoch seconds as the fold has them (double
# precision keeps them exact); ``started_at`` (arrival, else the first event) is
# the partition key on PostgreSQL (a partition per month). ``disposition`` is
# the fold's without the short-abandon rule, which the reports apply as asked.
call_records = Table(
    "call_records",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), primary_key=True),
    Column("seq", BigInteger, nullable=False),  # the last event folded into it
    Column("caller", String(64), nullable=False),
    Column("arrived_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("ivr", Boolean, nullable=False),
    Column("ivr_outcome", String(32), nullable=True),
    Column("ivr_path", JSON, nullable=False),
    Column("queue", String(64), nullable=True),
    Column("queues", JSON, nullable=False),
    Column("offered_at", Float, nullable=True),
    Column("answered_at", Float, nullable=True),
    Column("talk_end_at", Float, nullable=True),
    Column("agent", String(64), nullable=True),
    Column("ring_s", Float, nullable=False),
    Column("hold_s", Float, nullable=False),
    Column("overflowed", Boolean, nullable=False),
    Column("callback", Boolean, nullable=False),
    Column("callback_failed", Boolean, nullable=False),
    Column("abandoned", Boolean, nullable=False),
    Column("vip", Boolean, nullable=False),
    Column("ticket", String(64), nullable=True),
    Column("survey", Integer, nullable=True),
    Column("disposition", String(32), nullable=False),
    Column("endpoint", String(64), nullable=True),
    Column("agents", JSON, nullable=False),
    Column("transfers", Integer, nullable=False),
    Column("transfer_gap_s", Float, nullable=False),
    Column("extra", JSON, nullable=False),  # the record's other fields (projector.py)
    # kept by the projector so a month's report is a GROUP BY (migration 0011): the
    # call's wrap-up (its closed wrap_up intervals), and the arrival of the caller's
    # next call (the repeat-call rule: repeated when it is within the window)
    Column("wrap_s", Float, nullable=False, server_default="0"),
    Column("next_arrived_at", Float, nullable=True),
    Index("ix_call_records_started_at", "started_at"),
    Index("ix_call_records_call_id", "call_id"),
    Index("ix_call_records_caller_arrived_at", "caller", "arrived_at"),
    # the calls not ended yet: what a process taking over reads back (migration 0013)
    Index(
        "ix_call_records_open",
        "started_at",
        postgresql_where=text("ended_at IS NULL"),
        sqlite_where=text("ended_at IS NULL"),
    ),
)

# Each agent's state from one change to the next (``until`` null: the state it is
# in), one row per ``acd.agent_state`` event; a closed wrap-up names the call it
# belongs to (the reports' wrap-up rule). ``since_at`` partitions by month.
agent_intervals = Table(
    "agent_intervals",
    metadata,
    Column("agent", String(64), primary_key=True),
    Column("since_at", DateTime(timezone=True), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("since", Float, nullable=False),
    Column("until", Float, nullable=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("call_id", String(64), nullable=True),  # a wrap-up's call
    Index("ix_agent_intervals_since_at", "since_at"),
    Index("ix_agent_intervals_call_id", "call_id"),  # a call's wrap-up, summed (0011)
)

# The queues the projected calls were answered or abandoned in (migration 0012): a
# month's queue report reads their thresholds from here, not from a scan of its own.
report_queues = Table(
    "report_queues",
    metadata,
    Column("queue", String(64), primary_key=True),
)

# Where the projector is in the event log: every event up to ``seq`` is folded.
report_projection = Table(
    "report_projection",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("at", Float, nullable=True),  # the latest event time folded
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
