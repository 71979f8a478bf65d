"""The KPI formulas of shared/reference/kpis.md, on hand-made call records."""

from __future__ import annotations

import pytest

from acd.service_level import service_level
from ccserver.reporting.calls import (
    ABANDONED,
    ANSWERED,
    SELF_SERVED,
    SHORT_ABANDON,
    CallRecord,
    StateInterval,
)
from ccserver.reporting.kpis import ALL, agent_report, queue_report

T0 = 1_800_000_000.0  # an interval boundary (divisible by 1800)


def answered(wait: float, *, at: float = 0, queue: str = "q", caller: str = "", talk: float = 100,
             wrap: float = 10, survey: int | None = None) -> CallRecord:  # fmt: skip
    rec = CallRecord(f"a{at}-{wait}", caller=caller, arrived_at=T0 + at - 30, queue=queue,
                     offered_at=T0 + at, answered_at=T0 + at + wait, agent="ana",
                     wrap_s=wrap, survey=survey, disposition=ANSWERED)  # fmt: skip
    rec.talk_end_at = rec.answered_at + talk  # type: ignore[operator]
    rec.ended_at = rec.talk_end_at
    return rec


def abandoned(wait: float, *, at: float = 0, queue: str = "q") -> CallRecord:
    return CallRecord(f"x{at}-{wait}", arrived_at=T0 + at - 30, queue=queue, offered_at=T0 + at,
                      ended_at=T0 + at + wait,
                      disposition=SHORT_ABANDON if wait < 5 else ABANDONED)  # fmt: skip


def report(records: list[CallRecord], variant: str = "answered_only") -> dict[str, dict]:
    rows = queue_report(
        records, start=T0, end=T0 + 1800, interval_s=1800, threshold_s=lambda q: 20, variant=variant
    )  # type: ignore[arg-type]
    return {r["queue"]: r for r in rows}


CALLS = [answered(5), answered(15), answered(20), answered(40), abandoned(2), abandoned(10),
         abandoned(30)]  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("answered_only", 3 / 4),  # 3 of 4 answered within 20 s (20 s counts as within)
        ("abandons_met", (3 + 2) / (4 + 3)),  # the 2 s and 10 s abandons were within T
        ("abandons_against", 3 / (4 + 3 - 1)),  # the 2 s abandon is short
    ],
)
def test_service_level_variants(variant: str, expected: float) -> None:
    row = report(CALLS, variant)["q"]
    assert row["service_level"] == round(expected, 4)
    assert row["service_level_variant"] == variant


def test_counts_rates_and_times() -> None:
    row = report(CALLS)["q"]
    assert (row["offered"], row["answered"], row["abandoned"], row["short_abandons"]) == (
        7,
        4,
        3,
        1,
    )
    assert row["answer_rate"] == round(4 / 7, 4)
    assert row["abandon_rate"] == round(3 / 7, 4)
    assert row["abandon_rate_excl_short"] == round(2 / 6, 4)
    assert row["asa_s"] == (5 + 15 + 20 + 40) / 4
    assert row["avg_abandon_time_s"] == (2 + 10 + 30) / 3
    assert row["longest_wait_s"] == 40
    assert row["aht_s"] == 110  # 100 s talk + 0 hold + 10 s wrap-up
    assert report(CALLS)[ALL]["offered"] == 7


def test_calls_belong_to_the_interval_they_were_offered_in() -> None:
    late = answered(5, at=1799)  # offered in this interval, answered in the next
    nxt = answered(5, at=1801)
    rows = queue_report([late, nxt], start=T0, end=T0 + 3600, interval_s=1800,
                        threshold_s=lambda q: 20)  # fmt: skip
    got = {(r["queue"], r["interval_start"]): r["offered"] for r in rows}
    assert got == {("q", T0): 1, (ALL, T0): 1, ("q", T0 + 1800): 1, (ALL, T0 + 1800): 1}


def test_repeat_calls_within_24_hours_and_csat() -> None:
    first = answered(5, caller="555", survey=5)
    again = answered(5, at=3600 * 23, caller="555", survey=3)
    other = answered(5, at=60, caller="777", survey=4)
    rows = queue_report([first, other], start=T0, end=T0 + 1800, interval_s=1800,
                        threshold_s=lambda q: 20, all_records=[first, other, again])  # fmt: skip
    row = {r["queue"]: r for r in rows}["q"]
    assert row["repeat_call_rate"] == 0.5  # 555 called again within a day; 777 did not
    assert row["csat"] == 4.5 and row["csat_top2_share"] == 1.0 and row["surveys"] == 2


def test_self_service_rate_counts_ivr_calls_by_arrival() -> None:
    served = CallRecord("s", arrived_at=T0 + 10, ivr=True, disposition=SELF_SERVED)
    handed = answered(5, at=60)  # arrived in the interval too
    handed.ivr = True
    row = report([served, handed])[ALL]
    assert row["ivr_calls"] == 2 and row["self_served"] == 1 and row["self_service_rate"] == 0.5


def test_empty_denominators_give_none_not_a_crash() -> None:
    assert service_level("answered_only", answered_within=0, answered=0, abandoned_within=0,
                         abandoned=0, short_abandons=0) is None  # fmt: skip
    row = report([abandoned(3)], "abandons_against")["q"]
    assert row["service_level"] is None and row["asa_s"] is None
    with pytest.raises(ValueError, match="unknown service level variant"):
        service_level("nice", answered_within=0, answered=1, abandoned_within=0, abandoned=0,
                      short_abandons=0)  # fmt: skip


def test_agent_occupancy_and_utilization() -> None:
    iv = [
        StateInterval("ana", "available", None, T0, T0 + 600),
        StateInterval("ana", "on_call", None, T0 + 600, T0 + 1500),
        StateInterval("ana", "wrap_up", None, T0 + 1500, T0 + 1800),
        StateInterval("ana", "not_ready", "lunch", T0 + 1800, T0 + 3600),
    ]
    rows = agent_report([answered(5, at=590)], {"ana": iv}, start=T0, end=T0 + 3600)
    ana = rows[0]
    assert ana["calls"] == 1
    assert ana["occupancy"] == round(1200 / (1200 + 600), 4)  # handle / (handle + idle)
    assert ana["utilization"] == round(1200 / 3600, 4)  # handle / logged-in time
    assert ana["not_ready_reason_s"] == {"lunch": 1800}
    assert ana["state_s"]["on_call"] == 900
