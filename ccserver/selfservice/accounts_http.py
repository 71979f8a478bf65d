"""Subscriber accounts from an operator's billing system over HTTP.

The billing system verifies PINs itself: ccserver sends the PIN over the
request and never stores it.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import aiohttp

from ivr.accounts import Account, BackendUnavailable

log = logging.getLogger(__name__)


class HttpAccounts:
    """Accounts from a billing system's HTTP API (an ``AccountBackend``).

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
                    _why(exc),
                )
        raise BackendUnavailable(_why(last) if last else "no answer")

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


def _why(exc: Exception) -> str:
    """A failure in words that carry no account or phone number (aiohttp's name the URL)."""
    if isinstance(exc, BackendUnavailable):
        return str(exc)
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__} (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    return type(exc).__name__
