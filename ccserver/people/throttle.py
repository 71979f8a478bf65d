"""Login attempts limited per user name and per source address, in memory.

A failed login counts against both the name and the source; once either has
``max_*`` failures within ``window_s``, further attempts are refused until
the oldest of them ages out (that wait is the Retry-After). A success clears
the name's failures, not the source's: one right password must not reset a
guesser's budget.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(
        self,
        *,
        max_per_user: int = 5,
        max_per_source: int = 20,
        window_s: float = 300.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_per_user = max_per_user
        self.max_per_source = max_per_source
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        seen = self._failures.get(key)
        if seen is None:
            return deque()
        while seen and now - seen[0] >= self.window_s:
            seen.popleft()
        if not seen:
            del self._failures[key]
        return seen

    def retry_after(self, user: str, source: str) -> int:
        """Seconds until an attempt is allowed (0: allowed now)."""
        now = self.clock()
        wait = 0.0
        for key, limit in ((f"u:{user}", self.max_per_user), (f"s:{source}", self.max_per_source)):
            seen = self._recent(key, now)
            if len(seen) >= limit:
                wait = max(wait, seen[-limit] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, user: str, source: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:  # a flood of names: forget the stalest half
            stale = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in stale[: self.max_keys // 2]:
                del self._failures[key]
        for key in (f"u:{user}", f"s:{source}"):
            self._failures.setdefault(key, deque(maxlen=1000)).append(now)

    def succeeded(self, user: str) -> None:
        self._failures.pop(f"u:{user}", None)
