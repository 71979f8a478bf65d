"""The hotline IVR: walks the configured menu with one caller.

Every path ends in one of four ways, each recorded as ``ivr.ended``:

- ``self_served``: a self-service action completed (balance read back,
  ticket created) and the caller left in the IVR;
- ``deflected``: the caller chose a callback instead of waiting (outage
  notice or a long queue) and was hung up politely;
- ``handoff``: the call goes on to an agent queue, with the skills and
  priority its path implies set as ``CC_*`` channel variables;
- ``hangup``: the caller hung up mid-menu.

When anything unexpected happens (a bug, a backend fault), the caller is
handed to the fallback queue: a caller is never left in silence or dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from contracts import eventlog as el
from contracts.sink import EventSink

from . import handoff as hand
from .agi import AgiHangup, AgiSession
from .balance import balance
from .caller import Caller
from .fault import fault_report
from .menu import ActionNode, CollectNode, EndNode, IvrConfig, MenuNode, QueueNode
from .outage import outage_notice
from .records import RecordsUnavailable
from .visit import Ended, IvrServices, QueueCallback, Visit

__all__ = ["Ended", "HotlineIvr", "IvrServices", "QueueCallback", "Visit"]

log = logging.getLogger(__name__)

MAX_STEPS = 200  # a menu loop the caller never leaves still ends at an agent


class HotlineIvr:
    """The ``ivr`` FastAGI route: one instance serves every call.

    The walk is here; each use case has its own module (``balance``,
    ``fault``, ``outage``, ``handoff``), sharing the steps of ``visit``.
    """

    def __init__(
        self,
        config: IvrConfig,
        services: IvrServices,
        sink: EventSink,
        ids: Callable[[], str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.services = services
        self.sink = sink
        self.ids = ids
        self.clock = clock
        self.outcomes: dict[str, int] = {}

    async def __call__(self, agi: AgiSession) -> None:
        caller = Caller(agi, self.sink, self.ids, self.clock)
        visit = Visit(language=self.config.default_language)
        caller.event(el.IVR_STARTED, caller=caller.number, channel=agi.channel)
        log.info("IVR call %s from %s", caller.call_id, caller.masked)
        outcome = "hangup"
        try:
            outcome = await self._walk(caller, visit)
        except AgiHangup:
            # a caller who hangs up after a completed self-service action was served
            outcome = "self_served" if visit.self_served else "hangup"
        except Ended as end:
            outcome = end.outcome
        except Exception as exc:
            if isinstance(exc, RecordsUnavailable):  # a database outage: no bug to trace
                log.warning("IVR call %s: self-service records unavailable (%s); handing it"
                            " to an agent", caller.call_id, exc)  # fmt: skip
            else:
                log.exception("IVR failed on call %s; handing it to an agent", caller.call_id)
            caller.event(el.IVR_ERROR, node=visit.path[-1] if visit.path else None)
            outcome = await self._fallback(caller, visit)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        caller.event(
            el.IVR_ENDED,
            outcome=outcome,
            node=visit.path[-1] if visit.path else None,
            path=visit.path,
            self_service=visit.self_served,
        )

    async def _fallback(self, caller: Caller, visit: Visit) -> str:
        try:
            await self._to_fallback_queue(caller, visit)
            return "handoff"
        except AgiHangup:
            return "hangup"
        except Exception:
            # the dialplan still sends the caller to cc-hold (default queue)
            log.exception("IVR could not hand call %s over", caller.call_id)
            return "handoff"

    async def _to_fallback_queue(self, caller: Caller, visit: Visit) -> None:
        await hand.handoff(caller, visit, self.config, self.config.fallback_queue, {}, 0.0)

    # --- the walk -------------------------------------------------------------
    async def _walk(self, caller: Caller, visit: Visit) -> str:
        config = self.config
        name: str | None = config.start
        for _ in range(MAX_STEPS):
            if name is None:
                await self._to_fallback_queue(caller, visit)
                return "handoff"
            node = config.nodes[name]
            visit.path.append(name)
            caller.event(el.IVR_NODE, node=name, type=node.type)
            if isinstance(node, MenuNode):
                name = await self._menu(caller, visit, name, node)
            elif isinstance(node, CollectNode):
                name = await self._collect(caller, name, node)
            elif isinstance(node, ActionNode):
                outcome = await self._action(caller, visit, node)
                caller.event(el.IVR_ACTION, node=name, action=node.action, result=outcome)
                name = node.next.get(outcome)  # "agent" without a node: the fallback queue
            elif isinstance(node, QueueNode):
                await caller.play(node.prompt)
                await hand.offer_survey(caller, config)
                await hand.maybe_callback(caller, visit, config, self.services, node)
                await hand.handoff(caller, visit, config, node.queue, node.skills, node.priority)
                return "handoff"
            else:
                assert isinstance(node, EndNode)
                await caller.play(node.prompt)
                await caller.hangup()
                return "self_served" if visit.self_served else "hangup"
        log.error("IVR call %s looped %d steps; handing it over", caller.call_id, MAX_STEPS)
        await self._to_fallback_queue(caller, visit)
        return "handoff"

    async def _menu(self, caller: Caller, visit: Visit, name: str, node: MenuNode) -> str | None:
        retry = node.retry_prompt or self.config.prompt("retry")
        for attempt in range(node.retries + 1):
            prompts = node.prompt if attempt == 0 else [retry, *node.prompt]
            key = await caller.collect(prompts, max_digits=1, timeout_s=node.timeout_s)
            option = node.option(key) if key else None
            caller.input(name, option is not None, key, attempt + 1, key=key)
            if option is not None:
                if option.language is not None:
                    visit.language = option.language
                    await caller.set_var("CHANNEL(language)", option.language)
                visit.skills.update(option.skills)
                return option.goto
        caller.event(el.IVR_RETRIES_EXHAUSTED, node=name)
        return node.on_fail

    async def _collect(self, caller: Caller, name: str, node: CollectNode) -> str | None:
        retry = node.retry_prompt or self.config.prompt("retry")
        for attempt in range(node.retries + 1):
            prompts = node.prompt if attempt == 0 else [retry, *node.prompt]
            digits = await caller.collect(
                prompts, max_digits=node.max_digits, timeout_s=node.timeout_s
            )
            ok = (
                digits is not None
                and digits.isdigit()
                and node.min_digits <= len(digits) <= node.max_digits
            )
            caller.input(name, ok, digits, attempt + 1, digits=len(digits or ""))
            if ok and digits is not None:
                await caller.set_var(node.variable, digits)
                return node.next
        caller.event(el.IVR_RETRIES_EXHAUSTED, node=name)
        return node.on_fail

    async def _action(self, caller: Caller, visit: Visit, node: ActionNode) -> str:
        if node.action == "balance":
            return await balance(caller, visit, self.config, self.services)
        if node.action == "fault_report":
            return await fault_report(caller, visit, self.config, self.services, self.clock)
        return await outage_notice(caller, visit, self.config, self.services, self.clock)

    # --- the cc-wait routes (callers already in the queue) ----------------------
    async def wait_offer(self, agi: AgiSession) -> None:
        """``cc-wait,offer``: a long wait; press 1 to keep the place and be called back."""
        caller = Caller(agi, self.sink, self.ids, self.clock)
        await hand.wait_offer(caller, self.config, self.services)

    async def announce(self, agi: AgiSession) -> None:
        """``cc-wait,announce``: tell a long-waiting caller they still have their place."""
        await hand.announce(Caller(agi, self.sink, self.ids, self.clock), self.config)
