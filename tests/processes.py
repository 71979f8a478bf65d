"""Real ``ccserver run`` processes against the simulator, and what their floor must keep.

Shared by the restart and failover tests: a process handle, the hotline they
serve (the simulator with four seats, the example ACD and IVR on PostgreSQL),
and the check that a new process kept the callers' places and conversations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from support import REPO

from ccserver.bench.process import CcserverProcess
from ccserver.commands.common import free_port
from ccserver.reporting.projector import row_event
from ccserver.sim import AsteriskSimulator, CallHandle, parse_scenario
from ccserver.store.schema import call_events
from contracts import eventlog as el
from contracts.sink import CallEvent

TOKEN = "process-test-token"
GENERAL = "10"  # English, then 0 at the main menu: the general queue
SEATS = {"1001": "ana", "1002": "ben", "1003": "chen"}  # the example ACD's routable seats


class Ccserver(CcserverProcess):
    """One ``ccserver run`` process with the tests' token (and name, for active/standby)."""

    def __init__(self, config: Path, log: Path, name: str = "") -> None:
        super().__init__(config, log, TOKEN, name)

    async def staff(self) -> None:
        """ana, ben and chen ready; dana logged in but not ready (lunch)."""
        for agent in ("ana", "ben", "chen", "dana"):
            assert (await self.api("POST", f"/api/agents/{agent}", {"action": "login"}))[0] == 200
        for agent in ("ana", "ben", "chen"):
            assert (await self.api("POST", f"/api/agents/{agent}", {"action": "ready"}))[0] == 200
        body = {"action": "not_ready", "reason": "lunch"}
        assert (await self.api("POST", "/api/agents/dana", body))[0] == 200


async def start_hotline(
    tmp_path: Path, pg_url: str, *, talk_mean_s: float, answer_delay_s: float, **sections: Any
) -> tuple[AsteriskSimulator, Path]:
    """The simulator on real time (so the processes' clocks and Asterisk's agree) and a
    config for ``ccserver run`` against it; ``sections`` are added to the config."""
    agi_port = free_port()
    seats = [
        {"extension": e, "answer_delay_s": answer_delay_s, "talk_mean_s": talk_mean_s}
        for e in ("1001", "1002", "1003", "1004")
    ]
    sim = AsteriskSimulator(
        parse_scenario({"agents": seats}),
        time_scale=1.0,
        agi_host="127.0.0.1",
        agi_port=agi_port,
        timestamp_events=True,
    )
    await sim.start()
    config = tmp_path / "ccserver.yaml"
    settings = {
        "ami": {
            "port": sim.port,
            "secret": "ccsecret",
            "backoff_min_s": 0.05,
            "backoff_max_s": 0.2,
        },
        "http": {"host": "127.0.0.1", "api_tokens": [TOKEN]},
        "store": {"url": pg_url, "spool_dir": str(tmp_path / "spool"), "flush_interval_s": 0.05},
        "acd": {"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.05},
        "ivr": {"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port},
        **sections,
    }
    config.write_text(yaml.safe_dump(settings))
    return sim, config


async def event_log(pg_url: str) -> list[CallEvent]:
    """Every event the store holds, in the order written; asserts no id is there twice."""
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(call_events).order_by(call_events.c.seq))).all()
    finally:
        await engine.dispose()
    events = [row_event(r) for r in rows]
    assert len({e.id for e in events}) == len(events)  # no event written twice
    return events


def check_floor_kept(
    events: list[CallEvent],
    holding: list[CallHandle],
    calls: list[CallHandle],
    killed_at: float,
    back_at: float,
) -> int:
    """After a process was killed at ``killed_at`` and another took the floor at
    ``back_at``: each holding caller was queued again once, with its original wait
    start, and offered in its original order; each conversation that went on across
    was adopted for its agent, with its answer time. Returns the conversations adopted."""

    def first_at(call: CallHandle, kind: str, since: float = 0.0) -> float | None:
        return next(
            (
                e.at
                for e in events
                if e.call_id == call.linkedid and e.kind == kind and e.at > since
            ),
            None,
        )

    for c in holding:
        requeued = [
            e for e in events
            if e.call_id == c.linkedid and e.kind == el.ACD_QUEUED and e.at > killed_at
        ]  # fmt: skip
        assert len(requeued) == 1, c.record
        original = first_at(c, el.ACD_QUEUED)
        assert original is not None and original < killed_at
        assert requeued[0].data["enqueued_at"] == pytest.approx(original, abs=0.002)
    offered = sorted(holding, key=lambda c: first_at(c, el.ACD_OFFER, killed_at) or 1e18)
    assert offered == sorted(holding, key=lambda c: first_at(c, el.ACD_QUEUED) or 0.0)
    went_on = 0
    for c in calls:
        t = c.record
        if t.answered_at and t.answered_at < killed_at and (t.talk_ended_at or 0) > back_at:
            adopted = [e for e in events if e.call_id == c.linkedid and e.kind == el.ACD_ADOPTED]
            assert [e.data["agent"] for e in adopted] == [SEATS[str(t.agent)]], t
            assert adopted[0].data["answered_at"] == pytest.approx(t.answered_at, abs=0.05)
            went_on += 1
    return went_on
