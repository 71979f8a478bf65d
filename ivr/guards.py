"""What keeps the IVR from being abused: PIN attempts per account, and callback numbers.

- :class:`PinAttempts` (a port; the shell keeps the failures in its database so
  a restart forgets nothing) counts wrong PINs per account *across calls*: a
  caller who hangs up after three tries and calls again does not start over.
  After ``max_failures`` within ``window_s`` the account is locked until the
  window passes or a supervisor unlocks it; its callers go to an agent.
- :class:`CallbackGuard` decides whether ccserver may dial a number back: it
  must match a pattern of the dial policy (by default no international
  ``0...`` and no premium-rate ``900``/``976`` numbers), and each number and
  each caller gets only so many callbacks per window, so the hotline cannot
  be made to flood someone's phone or a paid line.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import Protocol

# national numbers of 6-11 digits; not international (0, 00) nor premium rate (900, 976)
DEFAULT_CALLBACK_PATTERNS: tuple[str, ...] = (r"(?!0)(?!900)(?!976)\d{6,11}",)


class PinAttempts(Protocol):
    """Wrong PINs per account across calls (the IVR's port)."""

    async def locked(self, account: str, now: float) -> bool:
        """Whether the account is locked (too many recent failures)."""
        ...

    async def failed(self, account: str, call_id: str, now: float) -> bool:
        """Record a wrong PIN; True when this failure locks the account."""
        ...

    async def succeeded(self, account: str) -> None:
        """A right PIN: the account's failures are forgotten."""
        ...


class MemoryPinAttempts:
    """:class:`PinAttempts` in memory (for an IVR without a database, and tests)."""

    def __init__(self, max_failures: int = 5, window_s: float = 3600.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, account: str, now: float) -> deque[float]:
        times = self._failures.setdefault(account, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    async def locked(self, account: str, now: float) -> bool:
        return len(self._recent(account, now)) >= self.max_failures

    async def failed(self, account: str, call_id: str, now: float) -> bool:
        times = self._recent(account, now)
        times.append(now)
        return len(times) == self.max_failures

    async def succeeded(self, account: str) -> None:
        self._failures.pop(account, None)

    async def unlock(self, account: str) -> bool:
        return self._failures.pop(account, None) is not None


class SlidingWindow:
    """At most ``limit`` events per key within ``window_s`` (bounded in keys)."""

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}

    def allows(self, key: str, now: float) -> bool:
        times = self._seen.get(key)
        if times is None:
            return True
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return len(times) < self.limit

    def add(self, key: str, now: float) -> None:
        if key not in self._seen and len(self._seen) >= self.max_keys:
            # many keys: drop those whose window has passed, else the oldest
            stale = [k for k, t in self._seen.items() if not t or t[-1] <= now - self.window_s]
            for k in stale or list(self._seen)[: self.max_keys // 10]:
                del self._seen[k]
        self._seen.setdefault(key, deque()).append(now)


class CallbackGuard:
    """The dial policy and the rate limits of callbacks."""

    def __init__(
        self,
        patterns: Iterable[str] = DEFAULT_CALLBACK_PATTERNS,
        *,
        per_number: int = 3,
        per_caller: int = 3,
        window_s: float = 3600.0,
    ) -> None:
        self.patterns = [re.compile(p) for p in patterns]
        self.by_number = SlidingWindow(per_number, window_s)
        self.by_caller = SlidingWindow(per_caller, window_s)

    def dialable(self, number: str) -> bool:
        """Whether the dial policy lets ccserver call this number."""
        return number.isdigit() and any(p.fullmatch(number) for p in self.patterns)

    def check(self, number: str, caller: str, now: float) -> str | None:
        """Why a callback to ``number`` asked by ``caller`` is refused, or None."""
        if not self.dialable(number):
            return "not_dialable"
        if not self.by_number.allows(number, now):
            return "number_rate"
        if caller and not self.by_caller.allows(caller, now):
            return "caller_rate"
        return None

    def taken(self, number: str, caller: str, now: float) -> None:
        """Count a callback that was registered."""
        self.by_number.add(number, now)
        if caller:
            self.by_caller.add(caller, now)
