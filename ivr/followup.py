"""After-call and outbound IVR scripts (FastAGI routes besides the hotline menu).

- ``survey``: after the agent hangs up, a caller who opted in rates the call
  1-5 (``cc-deliver`` runs it when ``CC_SURVEY=1``); stored against the call,
  the agent and the queue.
- ``repair``: the callback after a ticket is closed: was it fixed (1 yes,
  2 no), then a 1-5 rating; a repair that did not hold reopens the ticket.
- ``outage``: the callback promised to callers deflected by an outage notice.
- ``callback``: a queue callback the customer answered; they hear that they
  are being connected, then the dialplan dials the reserved agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from contracts import dialplan as dp
from contracts import eventlog as el
from contracts.sink import EventSink

from .agi import AgiSession
from .caller import Caller
from .menu import IvrConfig
from .records import RecordsUnavailable, SelfServiceStore

log = logging.getLogger(__name__)


class FollowUps:
    """The follow-up routes; ``routes()`` maps AGI script names to handlers."""

    def __init__(
        self,
        config: IvrConfig,
        records: SelfServiceStore,
        sink: EventSink,
        ids: Callable[[], str],
        *,
        clock: Callable[[], float] = time.time,
        answered_call: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.config = config
        self.records = records
        self.sink = sink
        self.ids = ids
        self.clock = clock
        # (call id, AGI channel) -> whether that call was answered by an agent and the
        # channel is one of its own (from the AMI picture); None: not checked
        self.answered_call = answered_call

    def routes(self) -> dict[str, Callable[[AgiSession], Awaitable[None]]]:
        return {
            dp.ROUTE_SURVEY: _records_or_say_so(self.survey),
            dp.ROUTE_REPAIR: _records_or_say_so(self.repair),
            dp.ROUTE_OUTAGE: _records_or_say_so(self.outage_restored),
            dp.ROUTE_CALLBACK: _records_or_say_so(self.callback_connect),
        }

    def _caller(self, agi: AgiSession) -> Caller:
        return Caller(agi, self.sink, self.ids, self.clock)

    async def _score(self, caller: Caller, role: str, node: str) -> int | None:
        """Ask for a 1-5 score, with the configured retries."""
        prompts = [self.config.prompt(role)]
        for attempt in range(self.config.fault.retries + 1):
            key = await caller.collect(prompts, max_digits=1, timeout_s=6)
            ok = key is not None and key in "12345" and len(key) == 1
            caller.input(node, ok, key, attempt + 1)
            if ok and key is not None:
                return int(key)
            prompts = [self.config.prompt("retry"), self.config.prompt(role)]
        return None

    async def survey(self, agi: AgiSession) -> None:
        """Post-call survey: the score goes against the call and its agent."""
        caller = self._caller(agi)
        call_id = await caller.get_var(dp.CC_CALL_ID) or caller.call_id
        caller.call_id = call_id
        agent = await caller.get_var(dp.CC_AGENT_ID)
        queue = await caller.get_var(dp.CC_QUEUE)
        if self.answered_call is not None and not self.answered_call(call_id, agi.channel):
            # no agent answered this call (or the channel is not its own): nothing to rate
            caller.event(el.SURVEY_REFUSED, survey="call", reason="not_answered")
            log.warning("survey refused on %s: no answered call %s", agi.channel, call_id)
            await caller.hangup()
            return
        score = await self._score(caller, "survey_rate", "survey")
        stored = score is not None and await self.records.record_survey(
            call_id=call_id,
            kind="call",
            score=score,
            now=self.clock(),
            agent_id=agent,
            queue=queue,
        )
        if stored:
            caller.event(el.SURVEY_SCORE, survey="call", score=score, agent=agent, queue=queue)
        elif score is not None:
            caller.event(el.SURVEY_REFUSED, survey="call", reason="already_rated")
        else:
            caller.event(el.SURVEY_SKIPPED, survey="call", agent=agent, queue=queue)
        await caller.play([self.config.prompt("survey_thanks")])
        await caller.hangup()

    async def repair(self, agi: AgiSession) -> None:
        """The after-repair callback: confirm the repair, then rate it."""
        caller = self._caller(agi)
        ticket_text = await caller.get_var(dp.CC_TICKET_ID) or ""
        if not ticket_text.isdigit():
            log.error("repair callback without a ticket id on %s", agi.channel)
            await caller.hangup()
            return
        ticket_id = int(ticket_text)
        ticket = await self.records.ticket(ticket_id)
        if ticket is None:
            await caller.hangup()
            return
        caller.call_id = ticket.call_id  # the follow-up belongs to the reporting call
        await caller.play([self.config.prompt("ticket_number_is")])
        await caller.say_digits(ticket.number)
        fixed = None
        for _ in range(self.config.fault.retries + 1):
            key = await caller.collect(
                [self.config.prompt("repair_confirm")], max_digits=1, timeout_s=6
            )
            if key in ("1", "2"):
                fixed = key == "1"
                break
        if fixed is None:
            await self.records.set_ticket_callback(
                ticket_id, "no_response", ticket.callback_attempts
            )
            caller.event(el.TICKET_CALLBACK, ticket=ticket.number, result="no_response")
            await caller.hangup()
            return
        rating = await self._score(caller, "repair_rate", "repair.rate") if fixed else None
        status = "confirmed" if fixed else "not_fixed"
        await self.records.set_ticket_callback(
            ticket_id, status, ticket.callback_attempts, rating, reopen=not fixed
        )
        if rating is not None:
            await self.records.record_survey(
                call_id=ticket.call_id,
                kind="repair",
                score=rating,
                now=self.clock(),
                ticket_id=ticket_id,
            )
        caller.event(el.TICKET_CALLBACK, ticket=ticket.number, result=status, rating=rating)
        await caller.play([self.config.prompt("survey_thanks")])
        await caller.hangup()

    async def outage_restored(self, agi: AgiSession) -> None:
        """Tell a deflected caller their service is back."""
        caller = self._caller(agi)
        caller.call_id = await caller.get_var(dp.CC_CALL_ID) or caller.call_id
        await caller.play([self.config.prompt("outage_resolved"), self.config.prompt("goodbye")])
        caller.event(el.OUTAGE_CALLBACK, result="delivered")
        await caller.hangup()

    async def callback_connect(self, agi: AgiSession) -> None:
        """A queue callback answered: say so, then the dialplan dials the agent."""
        caller = self._caller(agi)
        caller.call_id = await caller.get_var(dp.CC_CALL_ID) or caller.call_id
        await caller.play([self.config.prompt("callback_connecting")])
        caller.event(el.CALLBACK_ANSWERED)


def _records_or_say_so(
    route: Callable[[AgiSession], Awaitable[None]],
) -> Callable[[AgiSession], Awaitable[None]]:
    """A database outage ends the follow-up call with one line in the log, not a traceback."""

    async def run(agi: AgiSession) -> None:
        try:
            await route(agi)
        except RecordsUnavailable as exc:
            log.warning("follow-up call on %s: self-service records unavailable (%s)",
                        agi.channel, exc)  # fmt: skip

    return run
