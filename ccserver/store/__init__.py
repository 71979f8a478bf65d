"""The call event log: schema, migrations, the write-ahead spool and the batched writer."""

from .agent_states import StoredAgentState, load_agent_states
from .migrations import upgrade_database
from .schema import agent_states, call_events, metadata
from .spool import Position, Spool, SpoolError
from .spool_names import spool_path
from .writer import EventWriter

__all__ = [
    "EventWriter",
    "Position",
    "Spool",
    "SpoolError",
    "StoredAgentState",
    "agent_states",
    "call_events",
    "load_agent_states",
    "metadata",
    "spool_path",
    "upgrade_database",
]
