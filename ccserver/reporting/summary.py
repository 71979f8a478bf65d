"""A run's calls in a few numbers (the demo's summary), read through the reports' fold."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from contracts.sink import CallEvent

from .calls import OTHER, CallFold


@dataclass(frozen=True)
class RunSummary:
    """Calls that ended, by disposition (as the reports name them), and their IVR outcomes."""

    ended: dict[str, int]
    ivr_outcomes: dict[str, int]
    still_open: int

    @property
    def calls(self) -> int:
        """Customer calls that ended (outbound legs and the like, ``other``, not counted)."""
        return sum(n for disposition, n in self.ended.items() if disposition != OTHER)


class CallSummary:
    """An event sink that folds the calls as the reports do and counts how they ended."""

    def __init__(self, short_abandon_s: float = 5.0) -> None:
        self.fold = CallFold(short_abandon_s)
        self._ended: Counter[str] = Counter()
        self._ivr: Counter[str] = Counter()

    def emit(self, event: CallEvent) -> None:
        for settled in self.fold.feed(event):
            if settled.kind != "ended":
                continue
            self._ended[settled.record.disposition] += 1
            if settled.record.ivr_outcome:
                self._ivr[settled.record.ivr_outcome] += 1

    def summary(self) -> RunSummary:
        return RunSummary(dict(self._ended), dict(self._ivr), self.fold.open_calls)
