"""Subscriber accounts for balance inquiries: a pluggable backend.

``DbAccounts`` reads the ``accounts`` table of ccserver's own database (the
default); ``HttpAccounts`` asks an operator's billing system over HTTP. Both
raise :class:`BackendUnavailable` when they cannot answer, so the IVR can
tell the caller and send them to an agent instead of guessing.

PINs are never stored or sent in clear by ccserver: the table keeps a salted
PBKDF2 hash, and the HTTP backend verifies the PIN itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import aiohttp
from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.store.schema import accounts

log = logging.getLogger(__name__)

PBKDF2_ITERATIONS = 60_000


class BackendUnavailable(Exception):
    """The account backend did not answer in time or failed."""


@dataclass(frozen=True)
class Account:
    """What the IVR may tell a caller who proved they own the account."""

    number: str
    name: str
    balance_cents: int
    currency: str
    due_date: date | None
    region: str | None
    tier: str


class AccountBackend(Protocol):
    """Where accounts come from."""

    async def find(self, *, number: str | None = None, phone: str | None = None) -> Account | None:
        """The account with this number, or whose phone is this caller number."""
        ...

    async def verify_pin(self, number: str, pin: str) -> bool:
        """Whether the PIN is the account's."""
        ...


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """A salted PBKDF2-SHA256 hash of a PIN, as stored in ``accounts.pin_hash``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    """Constant-time check of a PIN against its stored hash."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(got.hex(), digest)


class DbAccounts:
    """Accounts from ccserver's own ``accounts`` table."""

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


class HttpAccounts:
    """Accounts from a billing system's HTTP API.

    ``GET {base}/accounts/{number}`` or ``GET {base}/accounts?phone=...``
    answers 200 with the account as JSON (404: no such account);
    ``POST {base}/accounts/{number}/verify-pin`` with ``{"pin": ...}``
    answers ``{"ok": true|false}``. Each request has a timeout and is retried
    on connection errors and 5xx before the backend is declared down.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 2.0,
        retries: int = 1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = retries
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                async with self._client().request(method, self.base_url + path, **kwargs) as resp:
                    if resp.status >= 500:
                        raise BackendUnavailable(f"billing system answered {resp.status}")
                    body = await resp.json(content_type=None) if resp.status == 200 else None
                    return resp.status, body
            except (aiohttp.ClientError, TimeoutError, BackendUnavailable, ValueError) as exc:
                last = exc
                log.warning(
                    "billing system %s %s failed (try %d): %s",
                    method,
                    path.split("/")[1],
                    attempt + 1,
                    exc or type(exc).__name__,
                )
        raise BackendUnavailable(str(last or "no answer"))

    async def find(self, *, number: str | None = None, phone: str | None = None) -> Account | None:
        if number:
            status, body = await self._request("GET", f"/accounts/{number}")
        elif phone:
            status, body = await self._request("GET", "/accounts", params={"phone": phone})
        else:
            return None
        if status == 404 or body is None:
            return None
        try:
            due = body.get("due_date")
            return Account(
                str(body["number"]),
                str(body.get("name", "")),
                int(body["balance_cents"]),
                str(body.get("currency", "USD")),
                date.fromisoformat(due) if due else None,
                body.get("region"),
                str(body.get("tier", "standard")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(f"billing system sent an unusable account: {exc}") from exc

    async def verify_pin(self, number: str, pin: str) -> bool:
        status, body = await self._request(
            "POST", f"/accounts/{number}/verify-pin", json={"pin": pin}
        )
        return status == 200 and bool(body and body.get("ok"))


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
