"""The call event log: schema, migrations, the write-ahead spool and the batched writer."""

from .schema import call_events, metadata
from .spool import Position, Spool, SpoolError
from .writer import EventWriter, spool_path, upgrade_database

__all__ = [
    "EventWriter",
    "Position",
    "Spool",
    "SpoolError",
    "call_events",
    "metadata",
    "spool_path",
    "upgrade_database",
]
