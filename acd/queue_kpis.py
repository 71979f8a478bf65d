"""A queue's settled calls, tallied, and the KPIs of ``shared/reference/kpis.md`` from them.

The one place where an answered or abandoned call becomes counts and sums,
and counts become service level, ASA, answer and abandon rates and AHT. The
reports and the live metrics (in the shell, from the call-record fold of the
event log) and the simulation (from its own virtual calls) all settle calls
here, so the three never compute a figure two ways. Pure: no clock, no I/O.

``offered`` is the caller's to count: the reports count a call when it is
settled (answered or abandoned), the simulation at its arrival.
"""

from __future__ import annotations

from dataclasses import dataclass

from .service_level import service_level


def ratio(num: float, den: float) -> float | None:
    """``num / den``; None when nothing is counted (``den == 0``)."""
    return None if den == 0 else num / den


@dataclass
class QueueTally:
    """Counts and sums of one queue's settled calls."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0  # short abandons included
    short_abandons: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    wait_answered_s: float = 0.0
    wait_abandoned_s: float = 0.0
    longest_wait_s: float = 0.0
    handle_s: float = 0.0

    def add_answered(self, wait_s: float, threshold_s: float, handle_s: float = 0.0) -> None:
        """An answered call that waited ``wait_s`` (T is the queue's ``threshold_s``)."""
        self.answered += 1
        self.answered_within += wait_s <= threshold_s
        self.wait_answered_s += wait_s
        self.longest_wait_s = max(self.longest_wait_s, wait_s)
        self.handle_s += handle_s

    def add_abandoned(self, wait_s: float, threshold_s: float, *, short: bool) -> None:
        """A caller who hung up after ``wait_s`` (``short``: before the short-abandon time)."""
        self.abandoned += 1
        self.short_abandons += short
        self.abandoned_within += wait_s <= threshold_s
        self.wait_abandoned_s += wait_s
        self.longest_wait_s = max(self.longest_wait_s, wait_s)

    def service_level(self, variant: str) -> float | None:
        """By the named variant (``acd.service_level``); None when no call counts."""
        return service_level(
            variant,
            answered_within=self.answered_within,
            answered=self.answered,
            abandoned_within=self.abandoned_within,
            abandoned=self.abandoned,
            short_abandons=self.short_abandons,
        )

    @property
    def answer_rate(self) -> float | None:
        return ratio(self.answered, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        return ratio(self.abandoned, self.offered)

    @property
    def abandon_rate_excl_short(self) -> float | None:
        """(abandoned − short) / (offered − short)."""
        return ratio(self.abandoned - self.short_abandons, self.offered - self.short_abandons)

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer: wait of answered calls / answered."""
        return ratio(self.wait_answered_s, self.answered)

    @property
    def avg_abandon_s(self) -> float | None:
        return ratio(self.wait_abandoned_s, self.abandoned)

    @property
    def aht_s(self) -> float | None:
        """Average handle time: (talk + hold + wrap-up) / answered."""
        return ratio(self.handle_s, self.answered)
