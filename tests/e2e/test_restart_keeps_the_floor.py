"""A restart keeps the floor: ccserver is SIGKILLed mid-traffic and a new process takes over.

Real processes (``python -m ccserver run``) on one PostgreSQL store and spool,
the simulator playing Asterisk in this process over real TCP (AMI and
FastAGI), on real time so the server's clock and Asterisk's agree. Agents keep
their states without logging in again; callers who were holding (one of them
cut out of the IVR by the kill) are queued again in their original order with
their original wait start, and every call's record matches what Asterisk did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from processes import GENERAL, Ccserver, check_floor_kept, event_log, start_hotline
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.reporting.source import load_records
from ccserver.sim import AsteriskSimulator, CallHandle
from contracts import eventlog as el


@pytest.fixture
async def hotline(tmp_path: Path, pg_url: str) -> AsyncIterator[tuple[AsteriskSimulator, Path]]:
    sim, config = await start_hotline(tmp_path, pg_url, talk_mean_s=5, answer_delay_s=0.5)
    try:
        yield sim, config
    finally:
        await sim.stop()


async def test_sigkill_mid_traffic_keeps_agents_and_holding_callers(
    hotline: tuple[AsteriskSimulator, Path], tmp_path: Path, pg_url: str
) -> None:
    sim, config = hotline
    first = Ccserver(config, tmp_path / "first.log")
    second = Ccserver(config, tmp_path / "second.log")
    try:
        await first.start()
        await first.until_healthy()
        await first.staff()
        calls: list[CallHandle] = []
        for i in range(7):
            calls.append(await sim.place_call(f"55560{i:03d}", f"C{i}", GENERAL, patience=600))
            await asyncio.sleep(0.25)
        # three talk, four hold; one more caller is in the IVR's main menu, keys not yet pressed
        await until(lambda: sum(c.record.entered_hold_at is not None for c in calls) >= 6, 20)
        ivr_caller = await sim.place_call("5556999", "In the IVR", "1", patience=600)
        await until(lambda: "main" in str(sim.agi_log.get(ivr_caller.channel, [])), 10)
        await asyncio.sleep(0.5)  # the writer's flush interval: the state is in the spool
        holding = [c for c in calls if c.record.entered_hold_at and c.record.answered_at is None]
        assert len(holding) >= 3
        before = await first.agents()
        busy = ("offered", "on_call", "wrap_up")
        assert all(before[a]["state"] in busy for a in ("ana", "ben", "chen")), before

        await first.kill()
        killed_at = time.time()
        # a caller rings while no ccserver listens: no IVR (FastAGI refused), straight to
        # the queue, and gives up before the new process is there: only Asterisk's note
        unseen = await sim.place_call("5556777", "Unseen", GENERAL, patience=0.4)
        await until(lambda: unseen.record.ended_at is not None, 5)
        await asyncio.sleep(max(0.0, killed_at + 1.5 - time.time()))  # calls go on meanwhile
        started = time.monotonic()
        await second.start()
        await second.until_healthy()
        restart_s = time.monotonic() - started
        restarted_at = time.time()
        # routable again as soon as Asterisk has said what each softphone is
        while any(a["device"] == "unknown" for a in (await second.agents()).values()):
            assert time.time() - restarted_at < 10
            await asyncio.sleep(0.05)
        routable_s = time.monotonic() - started
        after = await second.agents()
        # agents keep their states without logging in again
        assert after["dana"]["state"] == "not_ready" and after["dana"]["reason"] == "lunch"
        for agent in ("ana", "ben", "chen"):
            assert after[agent]["state"] in ("on_call", "wrap_up", "available", "offered"), after
        # nobody is left holding: every caller is answered in the end
        everyone = [*calls, ivr_caller]
        await until(lambda: all(c.record.answered_at is not None for c in everyone), 60)
        for c in everyone:
            await sim.hangup_channel(c.channel)
        await sim.wait_idle(timeout=30)
        await asyncio.sleep(0.5)
    finally:
        await first.stop()
        await second.stop()

    events = await event_log(pg_url)
    engine = create_async_engine(pg_url)
    try:
        records, _ = await load_records(engine, killed_at - 3600, time.time() + 60, 5.0)
    finally:
        await engine.dispose()
    went_on = check_floor_kept(events, holding, calls, killed_at, restarted_at)
    # the caller cut out of the IVR by the kill was queued and served too
    assert ivr_caller.record.entered_hold_at is not None
    assert any(
        e.call_id == ivr_caller.linkedid and e.kind == el.ACD_QUEUED and e.at > killed_at
        for e in events
    )
    # one arrival per call, and every record as Asterisk had it
    by_call = {r.call_id: r for r in records}
    # the line that began and ended unseen is on the record, abandoned in the queue
    assert unseen.record.outcome == "abandoned" and unseen.record.wait_s is not None
    rec = by_call[unseen.linkedid]
    assert rec.disposition in ("abandoned", "short_abandon") and rec.caller == "5556777"
    assert rec.arrived_at == pytest.approx(unseen.record.arrived_at, abs=0.1)
    assert rec.wait_s == pytest.approx(unseen.record.wait_s, abs=0.01), (rec, unseen.record)
    for c in everyone:
        rec, truth = by_call[c.linkedid], c.record
        assert rec.disposition == "answered", (rec, truth)
        assert rec.arrived_at == pytest.approx(truth.arrived_at, abs=0.05)
        assert truth.wait_s is not None and rec.wait_s is not None
        assert rec.wait_s == pytest.approx(truth.wait_s, abs=0.25), (rec, truth)
    first_offer = min(e.at for e in events if e.kind == el.ACD_OFFER and e.at > killed_at)
    print(
        f"restart: {len(holding)} holding + 1 cut from the IVR re-queued, {went_on} conversations"
        f" adopted; routable {routable_s:.2f} s after the new start; healthy after"
        f" {restart_s:.2f} s; first offer {first_offer - killed_at:.2f} s after the kill"
    )
