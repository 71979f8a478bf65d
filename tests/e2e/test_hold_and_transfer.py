"""Hold and a blind transfer end to end: simulated phones, real AMI, the event log, the report.

Two agents. Caller A is answered by one of them (P), who holds A for 10 s; meanwhile
caller B is answered by the other (Q). After A ends, Q blind-transfers B to P's phone.
The calls report must show A's hold as the simulator measured it, and B as one call,
answered by P, whose talk spans both agents.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.reporting.source import ReportRequest, build_report
from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts import eventlog as el
from contracts.sink import ListSink

AGENTS = {"ana": "1001", "ben": "1002"}


def write_acd(path: Path) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "default_queue": "general",
                "queues": [
                    {
                        "name": "general",
                        "skills": {"general": 1},
                        "wrap_up_s": 2,
                        "ring_timeout_s": 8,
                    },
                ],
                "agents": [
                    {"id": i, "endpoint": e, "skills": {"general": 5}} for i, e in AGENTS.items()
                ],
            }
        )
    )


async def start_hotline(tmp_path: Path) -> tuple[AsteriskSimulator, Server, ListSink, str]:
    """Two agents whose phones never end a call themselves, and ccserver on a SQLite store."""
    scenario = parse_scenario(
        {
            "ring_timeout_s": 8,
            # the agents never end a call themselves: the test does
            "agents": [
                {"extension": e, "answer_delay_s": 2, "talk_mean_s": 1e6} for e in AGENTS.values()
            ],
        }
    )
    # 1 ms of real lag is 0.05 simulated s: coarse enough for a loaded CI machine
    sim = AsteriskSimulator(scenario, time_scale=0.05, timestamp_events=True)
    await sim.start()
    write_acd(tmp_path / "acd.yaml")
    db = f"sqlite+aiosqlite:///{tmp_path}/e2e.db"
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        http={"host": "127.0.0.1", "port": 0},
        store={"url": db, "flush_interval_s": 0.05},
        acd={"config": str(tmp_path / "acd.yaml"), "auto_ready": True, "tick_s": 0.02},
    )
    log = ListSink()
    server = Server(settings, clock=sim.now, extra_sinks=(log,))
    await server.start()
    await server.cti.client.wait_connected(5)
    return sim, server, log, db


async def test_hold_time_and_a_blind_transfer_reach_the_report(tmp_path: Path) -> None:
    sim, server, log, db = await start_hotline(tmp_path)
    try:
        a = await sim.place_call("5552000001", "Caller A", variables={"CC_QUEUE": "general"})
        await until(lambda: a.record.answered_at is not None, 10)
        p = a.record.agent
        assert p is not None
        await sim.sleep(3)
        await sim.hold(p)
        b = await sim.place_call("5552000002", "Caller B", variables={"CC_QUEUE": "general"})
        await sim.sleep(10)
        await sim.unhold(p)
        await until(lambda: b.record.answered_at is not None, 10)
        q = b.record.agent
        assert q is not None and q != p
        await sim.sleep(4)
        leg = sim.phones[p].channel
        assert leg is not None
        await sim.hangup_channel(leg.name)  # agent P ends call A
        await until(a.done.is_set, 10)
        await sim.sleep(6)
        await sim.blind_transfer(q, p)
        await until(lambda: len(b.record.talk_segments) == 2, 10)
        # the ACD follows: the agent who took the transferred call is on it
        assert server.orchestrator is not None
        engine = server.orchestrator.engine
        taker = engine.agents[engine.by_endpoint[p]]
        await until(lambda: taker.call_id == b.linkedid, 5)
        assert taker.state.value == "on_call"
        await sim.sleep(7)
        leg = sim.phones[p].channel
        assert leg is not None
        await sim.hangup_channel(leg.name)  # P ends call B
        await until(b.done.is_set, 10)
        await sim.sleep(5)  # wrap-ups end
        await until(lambda: server.cti.tracker.summary().active_calls == 0, 10)
    finally:
        await server.stop()
        await sim.stop()

    # the simulator's record: A held 10 s by P; B handled by Q, then by P
    assert a.record.hold_s == pytest.approx(10, abs=0.3)
    assert b.record.agent == p and b.record.hold_s == 0
    assert [t["kind"] for t in b.record.transfers] == ["blind"]
    # the event log: who held, the transfer
    holds = [e for e in log.events if e.kind == el.CHANNEL_HOLD]
    assert [e.call_id for e in holds] == [a.linkedid]
    assert str(holds[0].data["channel"]).startswith(f"PJSIP/{p}-")
    (moved,) = [e for e in log.events if e.kind == el.CALL_TRANSFERRED]
    assert moved.call_id == b.linkedid
    assert moved.data["kind"] == "blind" and moved.data["to"] == p
    assert str(moved.data["from"]).startswith(f"PJSIP/{q}-")

    engine = create_async_engine(db)
    start = a.record.arrived_at - 1
    end = (b.record.ended_at or 0) + 60
    rows = await build_report(engine, ReportRequest("calls", start, end), lambda _q: 20.0)
    await engine.dispose()
    by_id = {r["call_id"]: r for r in rows}
    ids = {ext: agent for agent, ext in AGENTS.items()}
    rec_a, rec_b = by_id[a.linkedid], by_id[b.linkedid]
    assert len(rows) == 2
    # A: the hold as the simulator measured it; talk does not count it, handle time does
    assert rec_a["hold_s"] == pytest.approx(a.record.hold_s, abs=0.05)
    assert rec_a["talk_s"] == pytest.approx(a.record.talk_s, abs=0.05)
    assert rec_a["agent"] == ids[p] and rec_a["disposition"] == "answered"
    assert rec_a["handle_s"] == pytest.approx(
        rec_a["talk_s"] + rec_a["hold_s"] + rec_a["wrap_s"], abs=1e-6
    )
    # B: one record, answered by the agent it was transferred to, talk spanning both
    assert rec_b["disposition"] == "answered" and rec_b["transfers"] == 1
    assert rec_b["agent"] == ids[p] and rec_b["agents"] == [ids[q], ids[p]]
    assert rec_b["answered_at"] == pytest.approx(b.record.answered_at, abs=0.05)
    assert rec_b["talk_s"] == pytest.approx(b.record.talk_s, abs=0.05)
    assert rec_b["talk_s"] > 10  # Q's part (about 4 s and more) and P's (7 s)
    # Q's wrap-up after the transfer belongs to B
    assert rec_b["wrap_s"] > 0


async def test_an_attended_transfer_moves_the_call_to_the_colleague_in_the_acd(
    tmp_path: Path,
) -> None:
    sim, server, _, db = await start_hotline(tmp_path)
    assert server.orchestrator is not None
    engine = server.orchestrator.engine
    try:
        c = await sim.place_call("5552000003", "Caller C", variables={"CC_QUEUE": "general"})
        await until(lambda: c.record.answered_at is not None, 10)
        first = str(c.record.agent)
        second = next(e for e in AGENTS.values() if e != first)
        giver, taker = (engine.agents[engine.by_endpoint[e]] for e in (first, second))
        await sim.sleep(4)
        await sim.attended_transfer(first, second, 3)  # consults, then hands C over
        await until(lambda: taker.call_id == c.linkedid, 10)
        assert taker.state.value == "on_call" and giver.call_id is None
        assert giver.state.value in ("wrap_up", "available") and giver.calls_handled == 1
        await sim.sleep(5)
        leg = sim.phones[second].channel
        assert leg is not None
        await sim.hangup_channel(leg.name)  # the colleague ends it
        await until(c.done.is_set, 10)
        await until(lambda: taker.call_id is None and c.linkedid not in engine.calls, 10)
        assert taker.calls_handled == 1
        await server.writer.flush()
    finally:
        await server.stop()
        await sim.stop()
    store = create_async_engine(db)
    start_at, end_at = c.record.arrived_at - 1, (c.record.ended_at or 0) + 60
    rows = await build_report(store, ReportRequest("calls", start_at, end_at), lambda _q: 20.0)
    await store.dispose()
    (rec,) = [r for r in rows if r["call_id"] == c.linkedid]
    ids = {ext: agent for agent, ext in AGENTS.items()}
    assert rec["disposition"] == "answered" and rec["agent"] == ids[second]
