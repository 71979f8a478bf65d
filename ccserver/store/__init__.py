"""The call event log: schema, migrations and the batched writer."""

from .schema import call_events, metadata
from .writer import EventWriter, upgrade_database

__all__ = ["EventWriter", "call_events", "metadata", "upgrade_database"]
