"""Hand-off to the ACD, and the callback offers around the queue.

At the hand-off the caller's path becomes ``CC_*`` channel variables (queue,
skills, priority, VIP, language, account, ticket); before it, a caller facing
a long expected wait may keep their place and be called back. The two
``cc-wait`` routes serve callers already waiting: a callback offer once the
queue's max wait is reached, or an announcement that their place is kept.
"""

from __future__ import annotations

from contracts import dialplan as dp
from contracts import eventlog as el

from .agi import AgiHangup
from .caller import Caller
from .menu import IvrConfig, QueueNode
from .visit import Ended, IvrServices, QueueCallback, Visit, callback_number


def routing(
    config: IvrConfig, visit: Visit, queue_skills: dict[str, int], priority: float
) -> tuple[dict[str, int], float, bool]:
    """Skills (the path's, the queue's, the language's), priority and VIP of the call."""
    skills = dict(visit.skills)
    skills.update(queue_skills)
    lang_skill = config.languages[visit.language].skill
    if lang_skill:
        skills.setdefault(lang_skill, 1)
    vip = False
    if visit.account is not None and visit.account.tier in config.tiers:
        tier = config.tiers[visit.account.tier]
        priority += tier.priority
        vip = tier.vip
    return skills, priority, vip


async def handoff(
    caller: Caller,
    visit: Visit,
    config: IvrConfig,
    queue: str,
    queue_skills: dict[str, int],
    priority: float,
) -> None:
    """Set the call's ``CC_*`` variables for the ACD and record the hand-off."""
    skills, priority, vip = routing(config, visit, queue_skills, priority)
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
    caller.event(el.IVR_HANDOFF, queue=queue, skills=skills, priority=priority, vip=vip)


async def offer_survey(caller: Caller, config: IvrConfig) -> None:
    """Ask for the post-call survey; an opt-in sets ``CC_SURVEY``."""
    if not config.survey_after_call:
        return
    key = await caller.collect([config.prompt("survey_offer")], max_digits=1, timeout_s=3)
    if key == "1":
        await caller.set_var(dp.CC_SURVEY, "1")
        caller.event(el.IVR_SURVEY_OPT_IN)


async def maybe_callback(
    caller: Caller, visit: Visit, config: IvrConfig, services: IvrServices, node: QueueNode
) -> None:
    """Offer a callback for a long expected wait; a taken one ends the call (:class:`Ended`)."""
    offer = config.callback
    request = services.request_callback
    if not (offer.enabled and node.offer_callback and request):
        return
    expected = services.expected_wait(node.queue)
    if expected is None or expected < offer.min_expected_wait_s:
        return
    caller.event(el.IVR_CALLBACK_OFFERED, queue=node.queue, expected_wait_s=round(expected))
    key = await caller.collect(
        [config.prompt("wait_callback_offer")], max_digits=1, timeout_s=offer.timeout_s
    )
    if key != "1":
        return
    number = await callback_number(caller, config, services)
    if number is None:
        return
    skills, priority, vip = routing(config, visit, node.skills, node.priority)
    ok = await request(QueueCallback(caller.call_id, number, node.queue, skills, priority, vip))
    caller.event(el.IVR_CALLBACK_REQUESTED, queue=node.queue, number=number, accepted=ok)
    if not ok:
        return
    await caller.set_var(dp.CC_DEFLECTED, "queue")
    await caller.play([config.prompt("callback_registered"), config.prompt("goodbye")])
    await caller.hangup()
    raise Ended("deflected")


async def wait_offer(caller: Caller, config: IvrConfig, services: IvrServices) -> None:
    """``cc-wait,offer``: a long wait; press 1 to keep the place and be called back."""
    keep = services.keep_place
    try:
        caller.event(el.IVR_CALLBACK_OFFERED, reason="max_wait")
        key = await caller.collect(
            [config.prompt("wait_callback_offer")],
            max_digits=1,
            timeout_s=config.callback.timeout_s,
        )
        if key != "1" or keep is None:
            return  # back to the queue, place kept
        number = await callback_number(caller, config, services)
        if number is None or not await keep(caller.call_id, number):
            return
        caller.event(el.IVR_CALLBACK_REQUESTED, number=number, accepted=True)
        await caller.set_var(dp.CC_DEFLECTED, "queue")
        await caller.play([config.prompt(p) for p in ("callback_registered", "goodbye")])
        await caller.hangup()
    except AgiHangup:
        pass


async def announce(caller: Caller, config: IvrConfig) -> None:
    """``cc-wait,announce``: tell a long-waiting caller they still have their place."""
    try:
        await caller.play([config.prompt("still_waiting")])
        caller.event(el.IVR_ANNOUNCEMENT, reason="max_wait")
    except AgiHangup:
        pass
