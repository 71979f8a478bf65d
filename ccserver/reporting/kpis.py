"""The measures a contact center is run by, per queue and interval, and per agent.

Definitions follow ``shared/reference/kpis.md`` exactly; README "Reports"
states them. A call belongs to the interval in which it was offered (entered
the queue); IVR figures use the interval of arrival.

Service level has three variants in use; the report names the one it used:

- ``answered_only``: answered within T / answered;
- ``abandons_met``: (answered within T + abandoned within T) / (answered + abandoned);
- ``abandons_against``: answered within T / (answered + abandoned - short abandons).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from acd.queue_kpis import QueueTally, ratio
from acd.service_level import SlVariant

from .calls import (
    ABANDONED,
    ANSWERED,
    DEFLECTED,
    SELF_SERVED,
    SHORT_ABANDON,
    CallRecord,
    StateInterval,
)

ALL = "*"  # the row of every queue together
REPEAT_WINDOW_S = 24 * 3600


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class QueueInterval(QueueTally):
    """One queue in one interval: the KPI tally of its settled calls, and the rest of a row."""

    queue: str = ""
    start: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    repeat_calls: int = 0
    # survey scores as the three tallies a row shows (a list would make PostgreSQL
    # collect an array per group: the month's grouping then spilled to disk)
    surveys: int = 0
    survey_sum: int = 0
    survey_top2: int = 0  # scores of 4 or 5
    ivr_calls: int = 0
    self_served: int = 0
    deflected: int = 0

    def add_survey(self, score: int) -> None:
        self.surveys += 1
        self.survey_sum += score
        self.survey_top2 += score >= 4

    def figures(self, variant: SlVariant) -> dict[str, Any]:
        """The row of a report: counts and the measures derived from them."""
        ans, abd, short = self.answered, self.abandoned, self.short_abandons
        return {
            "queue": self.queue,
            "interval_start": self.start,
            "offered": self.offered,
            "answered": ans,
            "abandoned": abd,
            "short_abandons": short,
            "answered_within_threshold": self.answered_within,
            "answer_rate": _round(self.answer_rate),
            "abandon_rate": _round(self.abandon_rate),
            "abandon_rate_excl_short": _round(self.abandon_rate_excl_short),
            "service_level": _round(self.service_level(variant)),
            "service_level_variant": variant,
            "asa_s": _round(self.asa_s, 3),
            "avg_abandon_time_s": _round(self.avg_abandon_s, 3),
            "longest_wait_s": round(self.longest_wait_s, 3),
            "aht_s": _round(self.aht_s, 3),
            "avg_talk_s": _round(ratio(self.talk_s, ans), 3),
            "avg_hold_s": _round(ratio(self.hold_s, ans), 3),
            "avg_wrap_s": _round(ratio(self.wrap_s, ans), 3),
            "repeat_call_rate": _round(ratio(self.repeat_calls, ans)),
            "surveys": self.surveys,
            "csat": _round(ratio(self.survey_sum, self.surveys)),
            "csat_top2_share": _round(ratio(self.survey_top2, self.surveys)),
            "ivr_calls": self.ivr_calls,
            "self_served": self.self_served,
            "deflected": self.deflected,
            "self_service_rate": _round(ratio(self.self_served, self.ivr_calls)),
        }


def interval_start(t: float, interval_s: int, tz: tzinfo = UTC) -> float:
    """The start of the interval holding ``t``, aligned to midnight in ``tz``.

    A day is the local calendar day (23 or 25 hours on a daylight-saving
    change); shorter intervals follow the local clock: at 08:00 local, an
    interval starts whatever the offset.
    """
    if interval_s >= 86400:
        local = datetime.fromtimestamp(t, tz)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    offset = datetime.fromtimestamp(t, tz).utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    return math.floor((t + shift) / interval_s) * interval_s - shift


def local_time(t: float, tz: tzinfo) -> str:
    """``t`` as local ISO 8601 with its offset: ``2026-11-22T08:00:00+08:00``."""
    return datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def queue_report(
    records: Iterable[CallRecord],
    *,
    start: float,
    end: float,
    interval_s: int,
    threshold_s: Callable[[str], float],
    variant: SlVariant = "answered_only",
    repeat_window_s: float = REPEAT_WINDOW_S,
    all_records: Iterable[CallRecord] | None = None,
    tz: tzinfo = UTC,
) -> list[dict[str, Any]]:
    """Rows per (queue, interval) plus a ``*`` row per interval for all queues.

    ``all_records`` (default: ``records``) are the calls searched for repeats:
    pass calls up to ``end + repeat_window_s`` so late repeats are seen.
    Intervals are aligned in ``tz``; each row carries its start as epoch
    seconds and as local time (``interval_start_local``).
    """
    records = list(records)
    later = sorted(
        (r for r in (all_records if all_records is not None else records) if r.arrived_at),
        key=lambda r: r.arrived_at or 0.0,
    )
    by_number: dict[str, list[float]] = defaultdict(list)
    for r in later:
        if r.caller:
            by_number[r.caller].append(r.arrived_at or 0.0)

    rows: dict[tuple[str, float], QueueInterval] = {}

    def row(queue: str, at: float) -> QueueInterval:
        key = (queue, interval_start(at, interval_s, tz))
        if key not in rows:
            rows[key] = QueueInterval(queue=queue, start=key[1])
        return rows[key]

    for rec in records:
        if rec.ivr and rec.arrived_at is not None and start <= rec.arrived_at < end:
            q = row(ALL, rec.arrived_at)
            q.ivr_calls += 1
            q.self_served += rec.disposition == SELF_SERVED
            q.deflected += rec.disposition == DEFLECTED
        if rec.offered_at is None or rec.queue is None or not start <= rec.offered_at < end:
            continue
        if rec.disposition not in (ANSWERED, ABANDONED, SHORT_ABANDON):
            continue
        threshold = threshold_s(rec.queue)
        wait = rec.wait_s or 0.0
        for q in (row(rec.queue, rec.offered_at), row(ALL, rec.offered_at)):
            q.offered += 1
            if rec.disposition == ANSWERED:
                q.add_answered(wait, threshold, rec.handle_s)
                q.talk_s += rec.talk_s
                q.hold_s += rec.hold_s
                q.wrap_s += rec.wrap_s
                if rec.survey is not None:
                    q.add_survey(rec.survey)
                if _repeats(rec, by_number.get(rec.caller, []), repeat_window_s):
                    q.repeat_calls += 1
            else:
                q.add_abandoned(wait, threshold, short=rec.disposition == SHORT_ABANDON)
    return queue_rows(rows.values(), variant, tz)


def queue_rows(
    rows: Iterable[QueueInterval], variant: SlVariant, tz: tzinfo
) -> list[dict[str, Any]]:
    """The queue report's rows from its tallies, in interval order (``*`` last)."""
    ordered = sorted(rows, key=lambda r: (r.start, r.queue == ALL, r.queue))
    return [
        {**r.figures(variant), "interval_start_local": local_time(r.start, tz)} for r in ordered
    ]


def _repeats(rec: CallRecord, arrivals: list[float], window_s: float) -> bool:
    """Another call from the same number within the window after this one."""
    t = rec.arrived_at or 0.0
    return any(t < other <= t + window_s for other in arrivals)


@dataclass
class AgentCalls:
    """The calls an agent answered in a report's range, tallied."""

    calls: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    handle_s: float = 0.0
    scores: list[int] = field(default_factory=list)

    def add(self, rec: CallRecord) -> None:
        self.calls += 1
        self.talk_s += rec.talk_s
        self.hold_s += rec.hold_s
        self.wrap_s += rec.wrap_s
        self.handle_s += rec.handle_s
        if rec.survey is not None:
            self.scores.append(rec.survey)


def agent_report(
    records: Iterable[CallRecord],
    intervals: dict[str, list[StateInterval]],
    *,
    start: float,
    end: float,
) -> list[dict[str, Any]]:
    """Per agent: calls, talk/hold/wrap-up, occupancy, utilization, time by state and reason.

    Occupancy = handle / (handle + available idle); utilization = handle /
    logged-in time. Handle time is the agent's on-call and wrap-up time from
    the state log; ringing (``offered``) counts as logged in but neither.
    """
    calls: dict[str, AgentCalls] = defaultdict(AgentCalls)
    for rec in records:
        if rec.agent and rec.answered_at is not None and start <= rec.answered_at < end:
            calls[rec.agent].add(rec)
    return agent_rows(calls, intervals)


def agent_rows(
    calls: dict[str, AgentCalls], intervals: dict[str, list[StateInterval]]
) -> list[dict[str, Any]]:
    """The agent report's rows from each agent's calls and state intervals."""
    out = []
    for agent in sorted(set(calls) | set(intervals)):
        by_state: dict[str, float] = defaultdict(float)
        by_reason: dict[str, float] = defaultdict(float)
        for iv in intervals.get(agent, []):
            by_state[iv.state] += iv.seconds
            if iv.state == "not_ready":
                by_reason[iv.reason or "unspecified"] += iv.seconds
        handle = by_state["on_call"] + by_state["wrap_up"]
        logged_in = sum(s for state, s in by_state.items() if state != "logged_out")
        mine = calls.get(agent) or AgentCalls()
        scores = mine.scores
        out.append(
            {
                "agent": agent,
                "calls": mine.calls,
                "talk_s": round(mine.talk_s, 3),
                "hold_s": round(mine.hold_s, 3),
                "wrap_s": round(mine.wrap_s, 3),
                "aht_s": _round(ratio(mine.handle_s, mine.calls), 3),
                "logged_in_s": round(logged_in, 3),
                "occupancy": _round(ratio(handle, handle + by_state["available"])),
                "utilization": _round(ratio(handle, logged_in)),
                "state_s": {k: round(v, 3) for k, v in sorted(by_state.items())},
                "not_ready_reason_s": {k: round(v, 3) for k, v in sorted(by_reason.items())},
                "csat": _round(ratio(sum(scores), len(scores))),
                "surveys": len(scores),
            }
        )
    return out
