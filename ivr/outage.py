"""Known outage: tell affected callers, and offer a callback when it is fixed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from contracts import dialplan as dp
from contracts import eventlog as el

from .accounts import BackendUnavailable
from .caller import Caller
from .menu import IvrConfig
from .records import RecordsUnavailable
from .visit import Ended, IvrServices, Visit, callback_number

log = logging.getLogger(__name__)


async def outage_notice(
    caller: Caller,
    visit: Visit,
    config: IvrConfig,
    services: IvrServices,
    clock: Callable[[], float],
) -> str:
    """The ``outage_notice`` action: ``continue``, or the call ends deflected (:class:`Ended`)."""
    prompt = config.prompt
    try:
        if visit.account is None and caller.number:
            # the region is not secret: no PIN needed to tell a caller of an outage
            visit.account = await services.accounts.find(phone=caller.number)
    except BackendUnavailable:
        pass
    region = visit.account.region if visit.account else None
    try:
        outage = await services.records.active_outage_for(region, caller.number)
    except RecordsUnavailable as exc:
        # the notice is a courtesy: the caller goes on to the menu and its agents
        log.warning("IVR call %s: no outage notice, the records are unavailable (%s)",
                    caller.call_id, exc)  # fmt: skip
        return "continue"
    if outage is None:
        return "continue"
    caller.event(el.IVR_OUTAGE_NOTICE, outage_id=outage.id, region=region)
    await caller.play([outage.prompt or prompt("outage_known")])
    if outage.expected_fix_at:
        await caller.play([prompt("outage_fix_expected")])
        await caller.say_datetime(int(outage.expected_fix_at))
    key = await caller.collect([prompt("outage_callback_offer")], max_digits=1, timeout_s=5)
    if key != "1":
        return "continue"
    number = await callback_number(caller, config, services)
    if number is None:
        return "continue"
    await services.records.add_callback(
        kind="outage",
        number=number,
        call_id=caller.call_id,
        outage_id=outage.id,
        now=clock(),
    )
    caller.event(el.IVR_DEFLECTED, outage_id=outage.id, number=number)
    await caller.set_var(dp.CC_DEFLECTED, "outage")
    await caller.play([prompt("callback_registered"), prompt("goodbye")])
    await caller.hangup()
    raise Ended("deflected")
