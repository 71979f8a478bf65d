"""A holding caller who hangs up while the resync reads the channels' variables.

ccserver starts (or comes back) while a caller holds in ``cc-hold``; the resync's
channel list shows them, but they hang up before the ``Status`` that reads their
``CC_QUEUED`` back. The caller is queued without their wait start and ends at
once; the line's ended note (AstDB) still has when they entered the queue, so
ccserver reads it and the record carries the whole wait, as Asterisk timed it.
If they hang up before the resync reads AstDB, the resync has their note (and
deletes it once applied): the wait start comes from it at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support import until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import load_config
from ccserver.reporting.calls import fold_calls
from ccserver.sim import AsteriskSimulator, parse_scenario
from ccserver.sim.server import ACTIONS
from contracts import eventlog as el
from contracts.sink import ListSink

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "before",
    [
        "status",  # after the resync read AstDB: the note is written later, read at the end
        "dbgettree",  # before: the resync reads (and deletes) the note, with CC_QUEUED in it
    ],
)
async def test_a_caller_gone_before_the_status_keeps_the_wait_asterisk_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: str
) -> None:
    # nobody registered: the caller waits; no FastAGI yet: straight to cc-hold
    agents = [{"extension": e, "registered": False} for e in ("1001", "1002", "1003", "1004")]
    agi_port = free_port()
    sim = AsteriskSimulator(
        parse_scenario({"agents": agents}),
        time_scale=1.0,
        agi_host="127.0.0.1",
        agi_port=agi_port,
        timestamp_events=True,
    )
    await sim.start()
    # an earlier caller gave up before ccserver was there: AstDB holds their note, which
    # the resync reads and deletes (and only it: the note written during the resync stays)
    earlier = await sim.place_call("5550177001", patience=0.1)
    await until(lambda: earlier.done.is_set(), 5)
    call = await sim.place_call("5550177002", patience=600)
    await until(lambda: call.record.entered_hold_at is not None, 5)
    await asyncio.sleep(0.5)  # the caller holds a while before ccserver is there
    action = ACTIONS[before]

    async def hung_up_first(sim_: Any, session: Any, msg: Any, aid: Any) -> None:
        if not call.done.is_set():
            await sim.hangup_channel(call.channel)  # Asterisk took the hangup first
        await action(sim_, session, msg, aid)

    monkeypatch.setitem(ACTIONS, before, hung_up_first)
    seen = ListSink()
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        http={"host": "127.0.0.1", "port": 0},
        store={"url": f"sqlite+aiosqlite:///{tmp_path}/cc.db", "spool_dir": str(tmp_path)},
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.02},
        ivr={"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port},
    )
    server = Server(settings, extra_sinks=(seen,))
    await server.start()
    try:
        await until(lambda: call.done.is_set(), 10)
        truth = call.record.wait_s
        assert call.record.outcome == "abandoned" and truth is not None and truth > 0.5

        def wait_on_record() -> float | None:
            events = [e for e in seen.events if e.call_id == call.linkedid]
            if not any(e.kind == el.CALL_ENDED for e in events):
                return None
            (rec,) = fold_calls(events)
            return rec.wait_s

        await until(lambda: (wait_on_record() or 0) > 0.5, 10)
        assert wait_on_record() == pytest.approx(truth, abs=0.01)
    finally:
        await server.stop()
        await sim.stop()
