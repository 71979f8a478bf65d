"""Alembic migrations of the event store, shipped in the wheel for ``ccserver db upgrade``."""
