"""Reports in the center's time zone, and agents' time bounded by now."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.config import ReportsSection
from ccserver.reporting.calls import ANSWERED, CallRecord
from ccserver.reporting.kpis import interval_start, queue_report
from ccserver.reporting.source import ReportRequest, build_report, report_body, report_request
from ccserver.store import EventWriter, upgrade_database
from contracts.sink import CallEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str, tz: ZoneInfo) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_days_and_intervals_follow_the_local_clock() -> None:
    t = at("2026-11-22T08:40:00", SHANGHAI)  # 00:40 UTC
    assert interval_start(t, 86400, SHANGHAI) == at("2026-11-22T00:00:00", SHANGHAI)
    assert interval_start(t, 1800, SHANGHAI) == at("2026-11-22T08:30:00", SHANGHAI)
    # a UTC day would put 08:40 Beijing time on the 21st's day row (starting 08:00 local)
    assert interval_start(t, 86400) == at("2026-11-22T00:00:00", ZoneInfo("UTC"))
    # a time zone 30 minutes off UTC still gets intervals on the local hour
    kolkata = ZoneInfo("Asia/Kolkata")
    assert interval_start(at("2026-11-22T09:10:00", kolkata), 3600, kolkata) == at(
        "2026-11-22T09:00:00", kolkata
    )


def test_a_daylight_saving_day_has_its_own_length() -> None:
    # 1 November 2026: New York falls back, a 25-hour day
    day = interval_start(at("2026-11-01T23:30:00", NEW_YORK), 86400, NEW_YORK)
    nxt = interval_start(at("2026-11-02T00:30:00", NEW_YORK), 86400, NEW_YORK)
    assert day == at("2026-11-01T00:00:00", NEW_YORK) and nxt - day == 25 * 3600
    # after the change, half hours still start on :00 and :30 local
    t = at("2026-11-01T10:45:00", NEW_YORK)
    assert interval_start(t, 1800, NEW_YORK) == at("2026-11-01T10:30:00", NEW_YORK)


def test_queue_rows_carry_local_times_and_requests_read_local_input() -> None:
    settings = ReportsSection(timezone="Asia/Shanghai")
    req = report_request(
        "queues", {"from": "2026-11-22T08:00", "to": "2026-11-22T10:00", "interval": "60"}, settings
    )
    assert req.start == at("2026-11-22T08:00:00", SHANGHAI) and req.tz == SHANGHAI
    offered = at("2026-11-22T09:05:00", SHANGHAI)
    call = CallRecord("c1", arrived_at=offered - 10, queue="q", offered_at=offered,
                      answered_at=offered + 5, agent="ana", disposition=ANSWERED)  # fmt: skip
    call.talk_end_at = call.ended_at = offered + 60
    rows = queue_report([call], start=req.start, end=req.end, interval_s=3600,
                        threshold_s=lambda q: 20, tz=req.tz)  # fmt: skip
    assert {r["interval_start_local"] for r in rows} == {"2026-11-22T09:00:00+08:00"}
    body = report_body(req, rows)
    assert body["from_local"] == "2026-11-22T08:00:00+08:00" and body["interval_s"] == 3600
    assert body["timezone"] == "Asia/Shanghai" and body["from"] == req.start


def test_an_unknown_time_zone_is_a_config_error() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IANA time zone"):
        ReportsSection(timezone="Mars/Olympus")


async def test_the_agents_report_ends_open_intervals_at_now(tmp_path: Path) -> None:
    """At 09:02 an agent on a call since 09:01 has 60 s on call, not until the report's end."""
    url = f"sqlite+aiosqlite:///{tmp_path}/agents.db"
    await asyncio.to_thread(upgrade_database, url)
    t0 = 1_800_000_000.0  # "08:00"
    writer = EventWriter(url)
    await writer.start()
    for i, (offset, state) in enumerate([(0, "available"), (3660, "on_call")]):
        data = {"agent": "ana", "state": state, "code": None}
        writer.emit(CallEvent(f"s{i}", t0 + offset, "", "acd.agent_state", data))
    await writer.stop()
    engine = create_async_engine(url)
    try:
        req = ReportRequest("agents", t0, t0 + 7200)  # 08:00-10:00
        [row] = await build_report(engine, req, lambda q: 20.0, now=t0 + 3720)  # 09:02
        past = await build_report(engine, req, lambda q: 20.0, now=t0 + 86400)
    finally:
        await engine.dispose()
    assert row["state_s"] == {"available": 3660.0, "on_call": 60.0, "wrap_up": 0.0}
    assert row["logged_in_s"] == 3720.0
    # a range wholly in the past ends at its own end
    assert past[0]["state_s"]["on_call"] == 3540.0
