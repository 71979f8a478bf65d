"""Fault report: a category, the callback number, then a ticket read back to the caller."""

from __future__ import annotations

from collections.abc import Callable

from contracts import dialplan as dp
from contracts import eventlog as el

from .caller import Caller
from .menu import IvrConfig
from .visit import IvrServices, Visit, callback_number, to_agent


async def fault_report(
    caller: Caller,
    visit: Visit,
    config: IvrConfig,
    services: IvrServices,
    clock: Callable[[], float],
) -> str:
    """The ``fault_report`` action: ``done`` with a ticket, or ``agent``."""
    cfg, prompt = config.fault, config.prompt
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
        return await to_agent(caller, config)
    number = await callback_number(caller, config, services)
    if number is None:
        return await to_agent(caller, config)
    account = visit.account.number if visit.account and visit.verified else None
    ticket = await services.records.create_ticket(
        call_id=caller.call_id,
        account=account,
        caller=caller.number,
        callback_number=number,
        category=category.name,
        due_hours=category.due_hours,
        now=clock(),
    )
    visit.ticket = ticket.number
    caller.event(
        el.TICKET_CREATED,
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
