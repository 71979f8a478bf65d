"""Subscriber accounts in ccserver's own ``accounts`` table (the default backend).

The table keeps a salted PBKDF2 hash of each PIN (``ivr.accounts.hash_pin``),
never the PIN itself.
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.store.schema import accounts
from ivr.accounts import Account, BackendUnavailable, check_pin, hash_pin


class DbAccounts:
    """Accounts from ccserver's own ``accounts`` table (an ``AccountBackend``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def find(self, *, number: str | None = None, phone: str | None = None) -> Account | None:
        conds = []
        if number:
            conds.append(accounts.c.number == number)
        if phone:
            conds.append(accounts.c.phone == phone)
        if not conds:
            return None
        try:
            async with self.engine.connect() as conn:
                row = (await conn.execute(select(accounts).where(or_(*conds)).limit(1))).first()
        except Exception as exc:
            raise BackendUnavailable(f"accounts table: {exc}") from exc
        if row is None:
            return None
        return Account(
            row.number,
            row.name,
            row.balance_cents,
            row.currency,
            row.due_date,
            row.region,
            row.tier,
        )

    async def verify_pin(self, number: str, pin: str) -> bool:
        try:
            async with self.engine.connect() as conn:
                stored = (
                    await conn.execute(
                        select(accounts.c.pin_hash).where(accounts.c.number == number)
                    )
                ).scalar()
        except Exception as exc:
            raise BackendUnavailable(f"accounts table: {exc}") from exc
        return stored is not None and await asyncio.to_thread(check_pin, pin, stored)


async def load_accounts(engine: AsyncEngine, rows: list[dict[str, str]]) -> int:
    """Insert or replace accounts from CSV-like rows (``pin`` is hashed here)."""
    records = []
    for row in rows:
        pin = row.get("pin", "")
        if not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise ValueError(f"account {row.get('number')}: the PIN must be 4-8 digits")
        due = row.get("due_date") or None
        records.append(
            {
                "number": row["number"],
                "name": row.get("name", ""),
                "phone": row.get("phone") or None,
                "pin_hash": hash_pin(pin),
                "balance_cents": int(row["balance_cents"]),
                "currency": row.get("currency") or "USD",
                "due_date": date.fromisoformat(due) if due else None,
                "region": row.get("region") or None,
                "tier": row.get("tier") or "standard",
            }
        )
    async with engine.begin() as conn:
        numbers = [r["number"] for r in records]
        if numbers:
            await conn.execute(delete(accounts).where(accounts.c.number.in_(numbers)))
            await conn.execute(insert(accounts), records)
    return len(records)
