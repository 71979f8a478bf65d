"""A call the log gets after the takeover read the floor, and that ended meanwhile.

After a database outage the process that was active writes its spool when
PostgreSQL is back, which may be just after a standby that took over has read
the floor from the store. A conversation of that spool which ended during the
takeover is then in neither the floor nor Asterisk's channels, and Asterisk's
notes of it are read (and deleted) by the new active's first resync: the
resync must close it with those notes' times, or it stays open in the log and
the next takeover ends it at its own "now", minutes late.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from support import until, write_events

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.reporting.source import load_records
from ccserver.sim import AsteriskSimulator, parse_scenario
from ccserver.sim.server import ACTIONS
from contracts import eventlog as el
from contracts.sink import CallEvent

REPO = Path(__file__).resolve().parents[3]


async def test_a_conversation_logged_after_the_floor_was_read_ends_at_asterisks_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents = [{"extension": "1001", "answer_delay_s": 0.2, "talk_mean_s": 100_000}]
    sim = AsteriskSimulator(parse_scenario({"agents": agents}), time_scale=1.0)
    await sim.start()
    # the conversation the old active followed: answered by ana, then over, all before
    # this process is connected; Asterisk noted its answer and both legs' ends
    call = await sim.place_call("5550188001", patience=600)
    await until(lambda: call.record.entered_hold_at is not None, 5)
    sim.goto(sim.channels[call.channel], "cc-deliver", "1001")
    await until(lambda: call.record.answered_at is not None, 5)
    agent = next(ch for ch in sim.channels.values() if ch.name.startswith("PJSIP/1001-"))
    sim.agent_hangs_up(agent)
    await until(lambda: call.done.is_set(), 5)
    truth = call.record
    assert truth.answered_at is not None and truth.ended_at is not None
    assert truth.entered_hold_at is not None

    url = f"sqlite+aiosqlite:///{tmp_path}/cc.db"
    # what the old active had spooled, written once this process has read the floor
    spooled = [
        CallEvent("old-1", truth.arrived_at, call.linkedid, el.CALL_STARTED,
                  {"caller": truth.number, "channel": call.channel}),
        CallEvent("old-2", truth.entered_hold_at, call.linkedid, el.ACD_QUEUED,
                  {"queue": "general", "enqueued_at": truth.entered_hold_at}),
        CallEvent("old-3", truth.answered_at, call.linkedid, el.ACD_CONNECTED,
                  {"agent": "ana", "queue": "general"}),
    ]  # fmt: skip
    listing = ACTIONS["coreshowchannels"]

    async def flushed_late(sim_: Any, session: Any, msg: Any, aid: Any) -> None:
        if not spooled_in:
            spooled_in.append(await write_events(url, spooled))
        await listing(sim_, session, msg, aid)

    spooled_in: list[Any] = []
    monkeypatch.setitem(ACTIONS, "coreshowchannels", flushed_late)
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        http={"host": "127.0.0.1", "port": 0},
        store={"url": url, "spool_dir": str(tmp_path), "flush_interval_s": 0.05},
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.02},
    )
    server = Server(settings)
    await server.start()
    engine = create_async_engine(url)
    try:
        await until(lambda: bool(spooled_in), 5)  # in at the first resync, after the floor

        async def ended_on_record() -> Any:
            await server.writer.flush()
            records, _ = await load_records(engine, truth.arrived_at - 60, truth.ended_at + 60, 5)
            rec = next((r for r in records if r.call_id == call.linkedid), None)
            return rec if rec is not None and rec.ended_at is not None else None

        rec = None
        for _ in range(50):
            if (rec := await ended_on_record()) is not None:
                break
            await sim.sleep(0.1)
        assert rec is not None, "the conversation is still open in the log"
        assert rec.ended_at == pytest.approx(truth.ended_at, abs=0.01)
        assert rec.disposition == "answered" and rec.agent == "ana"
        assert rec.talk_s == pytest.approx(truth.ended_at - truth.answered_at, abs=0.01)
    finally:
        await engine.dispose()
        await server.stop()
        await sim.stop()
