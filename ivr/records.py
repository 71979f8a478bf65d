"""Self-service records as the IVR sees them: tickets, outages, callbacks, surveys.

:class:`SelfServiceStore` is the IVR's port: what the menus and follow-up
calls read and write. The shell implements it over ccserver's database
(``ccserver.selfservice.records_sql``). Times are epoch seconds from the
caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class RecordsUnavailable(Exception):
    """The records could not be read or written (the database is away): the IVR goes
    on without them where it can, or hands the caller to an agent."""


@dataclass(frozen=True)
class Ticket:
    id: int
    number: str
    call_id: str
    account: str | None
    caller: str
    callback_number: str
    category: str
    status: str
    created_at: float
    due_at: float
    closed_at: float | None
    resolution: str | None
    callback_status: str | None
    callback_attempts: int
    rating: int | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class Outage:
    id: int
    regions: list[str]
    number_prefixes: list[str]
    message: str
    prompt: str | None
    declared_at: float
    expected_fix_at: float | None
    resolved_at: float | None

    def covers(self, region: str | None, number: str) -> bool:
        """Whether a caller from this region / number is affected."""
        if region and region in self.regions:
            return True
        return bool(number) and any(number.startswith(p) for p in self.number_prefixes)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class SelfServiceStore(Protocol):
    """Where the IVR keeps tickets, outage callbacks and survey scores.

    Each method raises :class:`RecordsUnavailable` when the store cannot be reached.
    """

    async def create_ticket(
        self,
        *,
        call_id: str,
        account: str | None,
        caller: str,
        callback_number: str,
        category: str,
        due_hours: float,
        now: float,
    ) -> Ticket:
        """Open a ticket with a unique number the caller can be read back."""
        ...

    async def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket with this id, if any."""
        ...

    async def set_ticket_callback(
        self,
        ticket_id: int,
        status: str,
        attempts: int,
        rating: int | None = None,
        *,
        reopen: bool = False,
    ) -> None:
        """Record the repair callback's progress; ``reopen`` when the repair did not hold."""
        ...

    async def active_outage_for(self, region: str | None, number: str) -> Outage | None:
        """The newest unresolved outage covering this caller."""
        ...

    async def add_callback(
        self,
        *,
        kind: str,
        number: str,
        call_id: str,
        now: float,
        outage_id: int | None = None,
        queue: str | None = None,
    ) -> int:
        """Owe the caller a callback; returns its id."""
        ...

    async def record_survey(
        self,
        *,
        call_id: str,
        kind: str,
        score: int,
        now: float,
        agent_id: str | None = None,
        queue: str | None = None,
        ticket_id: int | None = None,
    ) -> bool:
        """Store a 1-5 score against the call (and its agent, queue or ticket).

        A call has one post-call score (kind ``call``): False, and nothing
        stored, when it already has one.
        """
        ...
