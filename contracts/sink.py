"""The event-sink port: where the core hands call events for the record.

The core never waits on storage: ``emit`` must return at once (the writer in
``ccserver`` queues and batches). Every event carries an id so that a replay
is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One fact about a call, as it goes to the event log."""

    id: str  # unique and stable: the idempotency key of the event log
    at: float  # epoch seconds (UTC) from the injected clock
    call_id: str  # the call (Asterisk Linkedid) the fact belongs to
    kind: str  # dotted name, e.g. "call.started", "channel.answered"
    data: Mapping[str, Any] = field(default_factory=dict)


class EventSink(Protocol):
    """Anything that accepts call events without blocking."""

    def emit(self, event: CallEvent) -> None: ...


class ListSink:
    """A sink that keeps events in memory (tests, the simulation, the demo)."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    def emit(self, event: CallEvent) -> None:
        self.events.append(event)


class TeeSink:
    """Hands every event to several sinks, in order."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def emit(self, event: CallEvent) -> None:
        for sink in self.sinks:
            sink.emit(event)
