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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contracts import dialplan as dp
from cti.sink import EventSink

from .accounts import Account, AccountBackend, BackendUnavailable
from .agi import AgiHangup, AgiSession
from .caller import Caller
from .menu import ActionNode, CollectNode, EndNode, IvrConfig, MenuNode, QueueNode
from .records import SelfServiceStore

log = logging.getLogger(__name__)

MAX_STEPS = 200  # a menu loop the caller never leaves still ends at an agent
MIN_CALLBACK_DIGITS = 6


@dataclass
class QueueCallback:
    """A caller who keeps their place in a queue and hangs up to be called back."""

    call_id: str
    number: str
    queue: str
    skills: dict[str, int]
    priority: float
    vip: bool


@dataclass
class IvrServices:
    """What the IVR needs from the rest of ccserver (ports the shell implements)."""

    accounts: AccountBackend
    records: SelfServiceStore
    # expected wait in seconds for a new call in this queue (None: unknown)
    expected_wait: Callable[[str], float | None] = lambda queue: None
    # keep the caller's place and call them back; False if it cannot be taken
    request_callback: Callable[[QueueCallback], Awaitable[bool]] | None = None
    # the same for a caller already waiting in the queue (call id, number)
    keep_place: Callable[[str, str], Awaitable[bool]] | None = None


@dataclass
class Visit:
    """What one caller's path through the IVR has established."""

    language: str
    account: Account | None = None
    verified: bool = False
    skills: dict[str, int] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    self_served: bool = False
    ticket: str | None = None


class Ended(Exception):
    """The IVR finished the call itself (deflected); carries the outcome."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class HotlineIvr:
    """The ``ivr`` FastAGI route: one instance serves every call."""

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
        caller.event("ivr.started", caller=caller.number, channel=agi.channel)
        log.info("IVR call %s from %s", caller.call_id, caller.masked)
        outcome = "hangup"
        try:
            outcome = await self._walk(caller, visit)
        except AgiHangup:
            # a caller who hangs up after a completed self-service action was served
            outcome = "self_served" if visit.self_served else "hangup"
        except Ended as end:
            outcome = end.outcome
        except Exception:
            log.exception("IVR failed on call %s; handing it to an agent", caller.call_id)
            caller.event("ivr.error", node=visit.path[-1] if visit.path else None)
            outcome = await self._fallback(caller, visit)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        caller.event(
            "ivr.ended",
            outcome=outcome,
            node=visit.path[-1] if visit.path else None,
            path=visit.path,
            self_service=visit.self_served,
        )

    async def _fallback(self, caller: Caller, visit: Visit) -> str:
        try:
            await self._handoff(caller, visit, self.config.fallback_queue, {}, 0.0)
            return "handoff"
        except AgiHangup:
            return "hangup"
        except Exception:
            # the dialplan still sends the caller to cc-hold (default queue)
            log.exception("IVR could not hand call %s over", caller.call_id)
            return "handoff"

    # --- the walk -------------------------------------------------------------
    async def _walk(self, caller: Caller, visit: Visit) -> str:
        name: str | None = self.config.start
        for _ in range(MAX_STEPS):
            if name is None:
                await self._handoff(caller, visit, self.config.fallback_queue, {}, 0.0)
                return "handoff"
            node = self.config.nodes[name]
            visit.path.append(name)
            caller.event("ivr.node", node=name, type=node.type)
            if isinstance(node, MenuNode):
                name = await self._menu(caller, visit, name, node)
            elif isinstance(node, CollectNode):
                name = await self._collect(caller, name, node)
            elif isinstance(node, ActionNode):
                outcome = await self._action(caller, visit, node)
                caller.event("ivr.action", node=name, action=node.action, result=outcome)
                name = node.next.get(outcome)  # "agent" without a node: the fallback queue
            elif isinstance(node, QueueNode):
                await caller.play(node.prompt)
                await self._offer_survey(caller)
                await self._maybe_callback(caller, visit, node)
                await self._handoff(caller, visit, node.queue, node.skills, node.priority)
                return "handoff"
            else:
                assert isinstance(node, EndNode)
                await caller.play(node.prompt)
                await caller.hangup()
                return "self_served" if visit.self_served else "hangup"
        log.error("IVR call %s looped %d steps; handing it over", caller.call_id, MAX_STEPS)
        await self._handoff(caller, visit, self.config.fallback_queue, {}, 0.0)
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
        caller.event("ivr.retries_exhausted", node=name)
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
        caller.event("ivr.retries_exhausted", node=name)
        return node.on_fail

    async def _action(self, caller: Caller, visit: Visit, node: ActionNode) -> str:
        if node.action == "balance":
            return await self._balance(caller, visit)
        if node.action == "fault_report":
            return await self._fault_report(caller, visit)
        return await self._outage_notice(caller, visit)

    # --- hand-off to the ACD ----------------------------------------------------
    def _routing(
        self, visit: Visit, queue_skills: dict[str, int], priority: float
    ) -> tuple[dict[str, int], float, bool]:
        skills = dict(visit.skills)
        skills.update(queue_skills)
        lang_skill = self.config.languages[visit.language].skill
        if lang_skill:
            skills.setdefault(lang_skill, 1)
        vip = False
        if visit.account is not None and visit.account.tier in self.config.tiers:
            tier = self.config.tiers[visit.account.tier]
            priority += tier.priority
            vip = tier.vip
        return skills, priority, vip

    async def _handoff(
        self,
        caller: Caller,
        visit: Visit,
        queue: str,
        queue_skills: dict[str, int],
        priority: float,
    ) -> None:
        skills, priority, vip = self._routing(visit, queue_skills, priority)
        values = {
            dp.CC_QUEUE: queue,
            dp.CC_SKILLS: ",".join(f"{s}:{lvl}" for s, lvl in sorted(skills.items())),
            dp.CC_PRIORITY: f"{priority:g}",
            dp.CC_VIP: "1" if vip else "0",
            dp.CC_LANG: visit.language,
            dp.CC_IVR_PATH: ">".join(visit.path[-20:]),
            dp.CC_SELF_SERVED: "",
        }
        if visit.account is not None and visit.verified:
            values[dp.CC_ACCOUNT] = visit.account.number
        if visit.ticket:
            values[dp.CC_TICKET] = visit.ticket
        for name, value in values.items():
            await caller.set_var(name, value)
        caller.event("ivr.handoff", queue=queue, skills=skills, priority=priority, vip=vip)

    async def _offer_survey(self, caller: Caller) -> None:
        if not self.config.survey_after_call:
            return
        key = await caller.collect([self.config.prompt("survey_offer")], max_digits=1, timeout_s=3)
        if key == "1":
            await caller.set_var(dp.CC_SURVEY, "1")
            caller.event("ivr.survey_opt_in")

    async def _maybe_callback(self, caller: Caller, visit: Visit, node: QueueNode) -> None:
        offer = self.config.callback
        request = self.services.request_callback
        if not (offer.enabled and node.offer_callback and request):
            return
        expected = self.services.expected_wait(node.queue)
        if expected is None or expected < offer.min_expected_wait_s:
            return
        caller.event("ivr.callback_offered", queue=node.queue, expected_wait_s=round(expected))
        key = await caller.collect(
            [self.config.prompt("wait_callback_offer")], max_digits=1, timeout_s=offer.timeout_s
        )
        if key != "1":
            return
        number = await self._callback_number(caller, visit)
        if number is None:
            return
        skills, priority, vip = self._routing(visit, node.skills, node.priority)
        ok = await request(QueueCallback(caller.call_id, number, node.queue, skills, priority, vip))
        caller.event("ivr.callback_requested", queue=node.queue, number=number, accepted=ok)
        if not ok:
            return
        await caller.set_var(dp.CC_DEFLECTED, "queue")
        await caller.play(
            [self.config.prompt("callback_registered"), self.config.prompt("goodbye")]
        )
        await caller.hangup()
        raise Ended("deflected")

    # --- while waiting in the queue (max wait reached) ---------------------------
    async def wait_offer(self, agi: AgiSession) -> None:
        """``cc-wait,offer``: a long wait; press 1 to keep the place and be called back."""
        caller = Caller(agi, self.sink, self.ids, self.clock)
        keep = self.services.keep_place
        try:
            caller.event("ivr.callback_offered", reason="max_wait")
            key = await caller.collect(
                [self.config.prompt("wait_callback_offer")],
                max_digits=1,
                timeout_s=self.config.callback.timeout_s,
            )
            if key != "1" or keep is None:
                return  # back to the queue, place kept
            number = await self._callback_number(caller, Visit(self.config.default_language))
            if number is None or not await keep(caller.call_id, number):
                return
            caller.event("ivr.callback_requested", number=number, accepted=True)
            await caller.set_var(dp.CC_DEFLECTED, "queue")
            await caller.play([self.config.prompt(p) for p in ("callback_registered", "goodbye")])
            await caller.hangup()
        except AgiHangup:
            pass

    async def announce(self, agi: AgiSession) -> None:
        """``cc-wait,announce``: tell a long-waiting caller they still have their place."""
        caller = Caller(agi, self.sink, self.ids, self.clock)
        try:
            await caller.play([self.config.prompt("still_waiting")])
            caller.event("ivr.announcement", reason="max_wait")
        except AgiHangup:
            pass

    # --- balance inquiry --------------------------------------------------------
    async def _balance(self, caller: Caller, visit: Visit) -> str:
        cfg, prompt = self.config.balance, self.config.prompt
        accounts = self.services.accounts
        try:
            account = visit.account or await accounts.find(phone=caller.number or None)
            attempts = 0
            while account is None:
                if attempts == cfg.account_attempts:
                    caller.event("ivr.account_not_found", attempts=attempts)
                    return await self._to_agent(caller)
                attempts += 1
                digits = await caller.collect(
                    [prompt("enter_account")],
                    max_digits=cfg.account_digits,
                    timeout_s=cfg.timeout_s,
                )
                valid = digits is not None and digits.isdigit()
                account = await accounts.find(number=digits) if valid else None
                caller.input("balance.account", account is not None, digits, attempts)
                if account is None:
                    await caller.play([prompt("unknown_account" if valid else "retry")])
            visit.account = account
            if not visit.verified:
                for attempt in range(1, cfg.pin_attempts + 1):
                    pin = await caller.collect_private(
                        [prompt("enter_pin")], max_digits=cfg.pin_digits, timeout_s=cfg.timeout_s
                    )
                    if pin and pin.isdigit() and await accounts.verify_pin(account.number, pin):
                        visit.verified = True
                        break
                    # never the PIN itself: only that an attempt failed
                    caller.event("ivr.pin_failed", account=account.number, attempt=attempt)
                    log.warning(
                        "wrong PIN for account %s (attempt %d of %d, call %s)",
                        account.number, attempt, cfg.pin_attempts, caller.call_id,
                    )  # fmt: skip
                    if attempt < cfg.pin_attempts:
                        await caller.play([prompt("wrong_pin")])
                if not visit.verified:
                    caller.event("ivr.pin_locked", account=account.number)
                    return await self._to_agent(caller)
        except BackendUnavailable as exc:
            log.warning("account backend unavailable on call %s: %s", caller.call_id, exc)
            caller.event("ivr.backend_down", error=str(exc)[:200])
            await caller.play([prompt("backend_down")])
            return "agent"
        await self._read_balance(caller, account)
        visit.self_served = True
        await caller.set_var(dp.CC_SELF_SERVED, "1")
        caller.event("ivr.balance_read", account=account.number)
        return "done"

    async def _read_balance(self, caller: Caller, account: Account) -> None:
        prompt = self.config.prompt
        owed = account.balance_cents < 0
        major, minor = divmod(abs(account.balance_cents), 100)
        await caller.play([prompt("you_owe" if owed else "your_balance_is")])
        await caller.say_number(major)
        await caller.play([prompt("currency_major")])
        if minor:
            await caller.say_number(minor)
            await caller.play([prompt("currency_minor")])
        if account.due_date is not None:
            await caller.play([prompt("due_date_is")])
            noon = datetime(*account.due_date.timetuple()[:3], 12, tzinfo=UTC)
            await caller.say_date(int(noon.timestamp()))

    async def _to_agent(self, caller: Caller) -> str:
        await caller.play([self.config.prompt("transfer")])
        return "agent"

    # --- fault report ------------------------------------------------------------
    async def _fault_report(self, caller: Caller, visit: Visit) -> str:
        cfg, prompt = self.config.fault, self.config.prompt
        by_digit = {c.digit: c for c in cfg.categories}
        category = None
        for attempt in range(cfg.retries + 1):
            prompts = [prompt("fault_category"), *(c.prompt for c in cfg.categories)]
            if attempt:
                prompts.insert(0, prompt("retry"))
            key = await caller.collect(prompts, max_digits=1, timeout_s=cfg.timeout_s)
            category = by_digit.get(key or "")
            caller.input("fault.category", category is not None, key, attempt + 1, key=key)
            if category is not None:
                break
        if category is None:
            return await self._to_agent(caller)
        number = await self._callback_number(caller, visit)
        if number is None:
            return await self._to_agent(caller)
        account = visit.account.number if visit.account and visit.verified else None
        ticket = await self.services.records.create_ticket(
            call_id=caller.call_id,
            account=account,
            caller=caller.number,
            callback_number=number,
            category=category.name,
            due_hours=category.due_hours,
            now=self.clock(),
        )
        visit.ticket = ticket.number
        caller.event(
            "ticket.created",
            ticket=ticket.number,
            ticket_id=ticket.id,
            category=category.name,
            due_at=ticket.due_at,
        )
        # the report is filed: served, even if the caller leaves during the read-back
        visit.self_served = True
        await caller.set_var(dp.CC_TICKET, ticket.number)
        await caller.set_var(dp.CC_SELF_SERVED, "1")
        await caller.play([prompt("ticket_number_is")])
        await caller.say_digits(ticket.number)
        await caller.play([prompt("ticket_due")])
        await caller.say_number(round(category.due_hours))
        return "done"

    async def _callback_number(self, caller: Caller, visit: Visit) -> str | None:
        """Confirm the caller's number for a callback, or take another one."""
        prompt = self.config.prompt
        number = caller.number if caller.number.isdigit() else ""
        for attempt in range(self.config.fault.retries + 1):
            if number:
                await caller.play([prompt("callback_number_is")])
                await caller.say_digits(number)
                key = await caller.collect([prompt("confirm_or_change")], max_digits=1, timeout_s=5)
                caller.input("callback.confirm", key in ("1", "2"), key, attempt + 1)
                if key == "1":
                    return number
                if key != "2":
                    continue
            entered = await caller.collect(
                [prompt("enter_callback_number")], max_digits=15, timeout_s=8
            )
            valid = (
                entered is not None and entered.isdigit() and len(entered) >= MIN_CALLBACK_DIGITS
            )
            caller.input("callback.number", valid, entered, attempt + 1)
            if valid:
                number = entered or ""
            else:
                await caller.play([prompt("retry")])
        return None

    # --- known outage ----------------------------------------------------------
    async def _outage_notice(self, caller: Caller, visit: Visit) -> str:
        prompt = self.config.prompt
        try:
            if visit.account is None and caller.number:
                # the region is not secret: no PIN needed to tell a caller of an outage
                visit.account = await self.services.accounts.find(phone=caller.number)
        except BackendUnavailable:
            pass
        region = visit.account.region if visit.account else None
        outage = await self.services.records.active_outage_for(region, caller.number)
        if outage is None:
            return "continue"
        caller.event("ivr.outage_notice", outage_id=outage.id, region=region)
        await caller.play([outage.prompt or prompt("outage_known")])
        if outage.expected_fix_at:
            await caller.play([prompt("outage_fix_expected")])
            await caller.say_datetime(int(outage.expected_fix_at))
        key = await caller.collect([prompt("outage_callback_offer")], max_digits=1, timeout_s=5)
        if key != "1":
            return "continue"
        number = await self._callback_number(caller, visit)
        if number is None:
            return "continue"
        await self.services.records.add_callback(
            kind="outage",
            number=number,
            call_id=caller.call_id,
            outage_id=outage.id,
            now=self.clock(),
        )
        caller.event("ivr.deflected", outage_id=outage.id, number=number)
        await caller.set_var(dp.CC_DEFLECTED, "outage")
        await caller.play([prompt("callback_registered"), prompt("goodbye")])
        await caller.hangup()
        raise Ended("deflected")
