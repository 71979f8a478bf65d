"""The PIN lockout in ccserver's database: wrong PINs per account, across calls and restarts.

The SQL implementation of the IVR's ``ivr.guards.PinAttempts`` port, plus
what supervisors use: the locked accounts, and unlocking one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.store.schema import pin_failures
from ccserver.store.values import utc
from contracts.masking import mask_number

log = logging.getLogger(__name__)


class DbPinAttempts:
    """Locks an account after ``max_failures`` wrong PINs within ``window_s``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_failures: int = 5,
        window_s: float = 3600.0,
        on_locked: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.window_s = window_s
        self.on_locked = on_locked

    async def _recent(self, account: str, now: float) -> int:
        query = select(func.count()).where(
            pin_failures.c.account == account, pin_failures.c.at > utc(now - self.window_s)
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def locked(self, account: str, now: float) -> bool:
        return await self._recent(account, now) >= self.max_failures

    async def failed(self, account: str, call_id: str, now: float) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(pin_failures).values(account=account, call_id=call_id[:64], at=utc(now))
            )
        locks = await self._recent(account, now) == self.max_failures
        if locks:
            log.error(
                "account %s locked: %d wrong PINs within %.0f s (unlock: "
                "POST /api/accounts/<number>/unlock)",
                mask_number(account), self.max_failures, self.window_s,
            )  # fmt: skip
            if self.on_locked is not None:
                self.on_locked(account)
        return locks

    async def succeeded(self, account: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(pin_failures).where(pin_failures.c.account == account))

    async def unlock(self, account: str) -> bool:
        """Forget the account's failures; False when it had none."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(pin_failures).where(pin_failures.c.account == account)
            )
        done = bool(result.rowcount)
        if done:
            log.warning("account %s unlocked by a supervisor", mask_number(account))
        return done

    async def locked_accounts(self, now: float) -> list[tuple[str, int]]:
        """The accounts locked now, with their recent failures."""
        n = func.count().label("n")
        query = (
            select(pin_failures.c.account, n)
            .where(pin_failures.c.at > utc(now - self.window_s))
            .group_by(pin_failures.c.account)
            .having(func.count() >= self.max_failures)
            .order_by(pin_failures.c.account)
        )
        async with self.engine.connect() as conn:
            return [(r.account, int(r.n)) for r in await conn.execute(query)]
