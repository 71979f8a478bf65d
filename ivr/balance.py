"""Balance inquiry: find the account, check the PIN, read the balance back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from contracts import dialplan as dp
from contracts import eventlog as el
from contracts.masking import mask_number

from .accounts import Account, BackendUnavailable
from .caller import Caller
from .menu import IvrConfig
from .visit import IvrServices, Visit, to_agent

log = logging.getLogger(__name__)


async def balance(caller: Caller, visit: Visit, config: IvrConfig, services: IvrServices) -> str:
    """The ``balance`` action: ``done``, or ``agent`` (not found, PIN locked, backend down)."""
    cfg, prompt = config.balance, config.prompt
    accounts = services.accounts
    try:
        account = visit.account or await accounts.find(phone=caller.number or None)
        attempts = 0
        while account is None:
            if attempts == cfg.account_attempts:
                caller.event(el.IVR_ACCOUNT_NOT_FOUND, attempts=attempts)
                return await to_agent(caller, config)
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
            if not await _check_pin(caller, account, config, services):
                return await to_agent(caller, config)
            visit.verified = True
    except BackendUnavailable as exc:
        log.warning("account backend unavailable on call %s: %s", caller.call_id, exc)
        caller.event(el.IVR_BACKEND_DOWN, error=str(exc)[:200])
        await caller.play([prompt("backend_down")])
        return "agent"
    await read_balance(caller, account, config)
    visit.self_served = True
    await caller.set_var(dp.CC_SELF_SERVED, "1")
    caller.event(el.IVR_BALANCE_READ, account=account.number)
    return "done"


async def _check_pin(
    caller: Caller, account: Account, config: IvrConfig, services: IvrServices
) -> bool:
    """Up to ``pin_attempts`` tries; False when they fail or the account is locked.

    Failures count against the account across calls (``services.pins``): once
    locked, no PIN is asked for until the lock passes or a supervisor lifts it.
    """
    cfg, prompt, pins = config.balance, config.prompt, services.pins
    masked = mask_number(account.number)
    if await pins.locked(account.number, caller.clock()):
        caller.event(el.IVR_PIN_LOCKED, account=account.number, reason="locked")
        log.warning("PIN entry refused: account %s is locked (call %s)", masked, caller.call_id)
        return False
    for attempt in range(1, cfg.pin_attempts + 1):
        pin = await caller.collect_private(
            [prompt("enter_pin")], max_digits=cfg.pin_digits, timeout_s=cfg.timeout_s
        )
        if pin and pin.isdigit() and await services.accounts.verify_pin(account.number, pin):
            await pins.succeeded(account.number)
            return True
        # never the PIN itself: only that an attempt failed
        caller.event(el.IVR_PIN_FAILED, account=account.number, attempt=attempt)
        log.warning(
            "wrong PIN for account %s (attempt %d of %d, call %s)",
            masked, attempt, cfg.pin_attempts, caller.call_id,
        )  # fmt: skip
        if await pins.failed(account.number, caller.call_id, caller.clock()):
            caller.event(el.IVR_PIN_LOCKED, account=account.number, reason="failures")
            log.error(
                "account %s locked after repeated wrong PINs (call %s)", masked, caller.call_id
            )
            return False
        if attempt < cfg.pin_attempts:
            await caller.play([prompt("wrong_pin")])
    caller.event(el.IVR_PIN_LOCKED, account=account.number, reason="attempts")
    return False


async def read_balance(caller: Caller, account: Account, config: IvrConfig) -> None:
    """The balance (a debt as "you owe"), the currency, and the due date."""
    prompt = config.prompt
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
