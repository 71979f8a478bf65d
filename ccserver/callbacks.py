"""The center's outbound calls: repair confirmations and outage-restored callbacks.

A callback is an async AMI ``Originate`` of ``PJSIP/<number>@<trunk>`` into
``cc-callback,<script>,1``, whose ``AGI`` runs the matching follow-up route
(``ivr.followup``). An attempt that is not answered within
``callback_answer_s`` is retried ``callback_attempts`` times,
``callback_retry_s`` apart; the outcome is stored and logged as a call event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts import dialplan as dp
from contracts import eventlog as el
from contracts.ids import unique_ids
from contracts.masking import mask_number
from contracts.sink import CallEvent, EventSink
from cti.connection import AmiError
from cti.service import CtiService
from ivr.records import Outage, Ticket

from .config import HotlineConfig
from .selfservice.records_sql import SelfServiceRecords
from .tasks import TaskSupervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dialed:
    """The outcome of one outbound call attempt."""

    answered: bool
    uniqueid: str = ""
    channel: str = ""
    detail: str = ""


class Dialer:
    """Places one outbound call and reports whether it was answered."""

    def __init__(self, cti: CtiService, hotline: HotlineConfig) -> None:
        self.cti = cti
        self.hotline = hotline

    async def call(
        self,
        number: str,
        script: str,
        variables: dict[str, str],
        *,
        via: CtiService | None = None,
    ) -> Dialed:
        """Ring ``number`` and run ``script`` in the callback context when answered,
        from the Asterisk node ``via`` (several nodes: the agent's), else the first."""
        h = self.hotline
        headers = [
            ("Channel", f"PJSIP/{number}@{h.trunk}"),
            ("Context", h.callback_context),
            ("Exten", script),
            ("Priority", "1"),
            ("Timeout", str(int(h.callback_answer_s * 1000))),
            ("CallerID", f'"Hotline" <{h.number}>'),
            *(("Variable", f"{k}={v}") for k, v in variables.items()),
        ]
        try:
            reply = await (via or self.cti).originate(headers, timeout=h.callback_answer_s + 15)
        except (AmiError, TimeoutError) as exc:
            return Dialed(False, detail=f"originate failed: {exc}")
        if reply.event == "OriginateResponse" and reply.get("Response") == "Success":
            return Dialed(True, reply.get("Uniqueid") or "", reply.get("Channel") or "")
        return Dialed(
            False, detail=f"not answered (reason {reply.get('Reason') or reply.get('Message')})"
        )


class FollowUpDesk:
    """Runs the callbacks the center owes, with retries, in the background."""

    def __init__(
        self,
        dialer: Dialer,
        records: SelfServiceRecords,
        sink: EventSink,
        hotline: HotlineConfig,
        *,
        clock: Callable[[], float] = time.time,
        tasks: TaskSupervisor | None = None,
    ) -> None:
        self.dialer = dialer
        self.records = records
        self.sink = sink
        self.hotline = hotline
        self.clock = clock
        # the server's supervisor (it closes it); without one the desk owns its own
        self._owns_tasks = tasks is None
        self.tasks = tasks if tasks is not None else TaskSupervisor("callbacks")
        self._ids = unique_ids("cb")  # unique across processes and restarts
        self.placed = 0
        self.answered = 0

    def _event(self, call_id: str, kind: str, **data: Any) -> None:
        self.sink.emit(CallEvent(self._ids(), self.clock(), call_id, kind, data))

    async def stop(self) -> None:
        """Cancel the callbacks in progress, if the desk owns its tasks (else their owner does)."""
        if self._owns_tasks:
            await self.tasks.close()

    async def _attempts(
        self, call_id: str, number: str, script: str, variables: dict[str, str]
    ) -> tuple[bool, int]:
        """Call until answered or out of attempts; (answered, attempts made)."""
        h = self.hotline
        for attempt in range(1, h.callback_attempts + 1):
            self.placed += 1
            dialed = await self.dialer.call(number, script, variables)
            self._event(
                call_id,
                el.CALLBACK_ATTEMPT,
                script=script,
                attempt=attempt,
                answered=dialed.answered,
            )
            if dialed.answered:
                self.answered += 1
                return True, attempt
            log.info(
                "callback %s to %s attempt %d: %s",
                script, mask_number(number), attempt, dialed.detail,
            )  # fmt: skip
            if attempt < h.callback_attempts:
                await asyncio.sleep(h.callback_retry_s)
        return False, h.callback_attempts

    # --- tickets -------------------------------------------------------------
    async def close_ticket(self, ticket_id: int, resolution: str) -> Ticket | None:
        """Close a ticket and start its repair-confirmation callback."""
        ticket = await self.records.close_ticket(ticket_id, resolution, self.clock())
        if ticket is None:
            return None
        self._event(ticket.call_id, el.TICKET_CLOSED, ticket=ticket.number, resolution=resolution)
        self.tasks.spawn(self._repair_callback(ticket), name="callback.repair")
        return ticket

    async def _repair_callback(self, ticket: Ticket) -> None:
        await self.records.set_ticket_callback(ticket.id, "calling", 0)
        answered, attempts = await self._attempts(
            ticket.call_id,
            ticket.callback_number,
            dp.REPAIR_EXTEN,
            {dp.CC_TICKET_ID: str(ticket.id), dp.CC_CALL_ID: ticket.call_id},
        )
        # answered: the repair script records confirmed / not_fixed / no_response
        if not answered:
            await self.records.set_ticket_callback(ticket.id, "unreached", attempts)
            self._event(
                ticket.call_id, el.TICKET_CALLBACK, ticket=ticket.number, result="unreached"
            )

    # --- outages -------------------------------------------------------------
    async def resolve_outage(self, outage_id: int) -> Outage | None:
        """Mark an outage fixed and call back everyone who asked to be told."""
        outage = await self.records.resolve_outage(outage_id, self.clock())
        if outage is None:
            return None
        pending = await self.records.pending_callbacks(outage_id)
        log.info("outage %d resolved: %d callbacks to place", outage_id, len(pending))
        for cb in pending:
            self.tasks.spawn(
                self._outage_callback(cb.id, cb.number, cb.call_id), name="callback.outage"
            )
        return outage

    async def _outage_callback(self, callback_id: int, number: str, call_id: str) -> None:
        answered, attempts = await self._attempts(
            call_id, number, dp.OUTAGE_EXTEN, {dp.CC_CALL_ID: call_id}
        )
        await self.records.set_callback(
            callback_id, "done" if answered else "failed", attempts, self.clock()
        )
