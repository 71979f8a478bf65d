"""A staffing plan is for the center's own day: it starts at its local midnight."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import create_async_engine

from ccserver.staffing import PlanQuery, staffing_plan_from_log
from ccserver.store import upgrade_database


async def test_the_plan_is_for_the_centers_day(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/plan.db"
    await asyncio.to_thread(upgrade_database, url)
    engine = create_async_engine(url)
    beijing = ZoneInfo("Asia/Shanghai")
    try:
        plan = await staffing_plan_from_log(
            engine, PlanQuery(date="2026-12-01", interval_minutes=60), lambda q: 20.0, beijing
        )
    finally:
        await engine.dispose()
    first = plan["intervals"][0]
    assert first["start"] == datetime(2026, 12, 1, tzinfo=beijing).timestamp()
    assert first["start_local"] == "2026-12-01T00:00:00+08:00"
    assert plan["timezone"] == "Asia/Shanghai" and len(plan["intervals"]) == 24
