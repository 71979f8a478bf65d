"""What every IVR use case shares: the services it calls, one caller's visit, and two steps.

The ports the shell implements (:class:`IvrServices`), the state of one
caller's path (:class:`Visit`), how the IVR ends a call itself (:class:`Ended`),
and the steps several use cases take: confirming a callback number and
handing the caller to an agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts import eventlog as el

from .accounts import Account, AccountBackend
from .caller import Caller
from .guards import CallbackGuard, MemoryPinAttempts, PinAttempts
from .menu import IvrConfig
from .records import SelfServiceStore

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
    # wrong PINs per account across calls (the shell keeps them in its database)
    pins: PinAttempts = field(default_factory=MemoryPinAttempts)
    # which numbers may be called back, and how often
    callbacks: CallbackGuard = field(default_factory=CallbackGuard)


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


async def to_agent(caller: Caller, config: IvrConfig) -> str:
    """Tell the caller they go to an agent; the action's ``agent`` outcome."""
    await caller.play([config.prompt("transfer")])
    return "agent"


async def callback_number(caller: Caller, config: IvrConfig, services: IvrServices) -> str | None:
    """Confirm the caller's number for a callback, or take another one.

    The number must pass the dial policy (no premium-rate or international
    number unless configured) and the rate limits per number and per caller;
    None when no number was agreed.
    """
    prompt = config.prompt
    guard = services.callbacks
    number = caller.number if guard.dialable(caller.number) else ""
    for attempt in range(config.fault.retries + 1):
        if number:
            await caller.play([prompt("callback_number_is")])
            await caller.say_digits(number)
            key = await caller.collect([prompt("confirm_or_change")], max_digits=1, timeout_s=5)
            caller.input("callback.confirm", key in ("1", "2"), key, attempt + 1)
            if key == "1":
                return _agreed(caller, guard, number)
            if key != "2":
                continue
        entered = await caller.collect(
            [prompt("enter_callback_number")], max_digits=15, timeout_s=8
        )
        valid = entered is not None and entered.isdigit() and len(entered) >= MIN_CALLBACK_DIGITS
        if valid and entered is not None and not guard.dialable(entered):
            # a premium-rate or international number: never dialled back
            caller.event(el.IVR_CALLBACK_REFUSED, reason="not_dialable")
            valid = False
        caller.input("callback.number", valid, entered, attempt + 1)
        if valid:
            number = entered or ""
        else:
            await caller.play([prompt("retry")])
    return None


def _agreed(caller: Caller, guard: CallbackGuard, number: str) -> str | None:
    """The number, if its rate limits allow one more callback (then counted)."""
    now = caller.clock()
    refused = guard.check(number, caller.number, now)
    if refused is not None:
        caller.event(el.IVR_CALLBACK_REFUSED, reason=refused)
        return None
    guard.taken(number, caller.number, now)
    return number
