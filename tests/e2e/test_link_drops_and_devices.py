"""No caller stranded, no agent stuck: AMI link drops and dead softphones, end to end.

The simulator plays Asterisk over real TCP (PJSIP seats that register, die and
come back; callers who wait, are answered and hang up while the link is cut);
ccserver runs in-process on the simulator's clock with a PostgreSQL store, and
its own event log is folded by the reports' code and compared, call by call,
with the simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.reporting.source import load_records
from ccserver.sim import AsteriskSimulator, parse_scenario
from ccserver.sim.truth import mismatches
from contracts.sink import CallEvent, ListSink

SEATS = {"ana": "1001", "ben": "1002", "chen": "1003", "dana": "1004", "eli": "1005"}


def write_acd(path: Path, seats: dict[str, str], **queue: Any) -> str:
    spec = {
        "default_queue": "general",
        "queues": [{"name": "general", "skills": {}, "ring_timeout_s": 8, **queue}],
        "agents": [{"id": a, "endpoint": e, "skills": {"general": 5}} for a, e in seats.items()],
    }
    path.write_text(yaml.safe_dump(spec))
    return str(path)


class Run:
    """The simulator and ccserver, and the checks every scenario shares."""

    def __init__(self, sim: AsteriskSimulator, server: Server, log: ListSink) -> None:
        self.sim, self.server, self.log = sim, server, log

    @property
    def acd(self) -> list[CallEvent]:
        return [e for e in self.log.events if e.kind.startswith("acd.")]

    def agents(self) -> dict[str, dict[str, Any]]:
        assert self.server.orchestrator is not None
        return {a["id"]: a for a in self.server.orchestrator.snapshot()["agents"]}

    def check_no_double_offers(self) -> None:
        """No agent rings with two calls, no call rings two agents, none after connecting."""
        ringing: dict[str, str] = {}  # agent -> call
        holder: dict[str, str] = {}  # call -> agent
        connected: set[str] = set()
        for d in self.acd:
            agent = str(d.data.get("agent"))
            if d.kind == "acd.offer":
                assert agent not in ringing, f"{agent} offered {d.call_id} while ringing"
                assert d.call_id not in holder, f"{d.call_id} offered to two agents"
                assert d.call_id not in connected, f"{d.call_id} offered after it connected"
                ringing[agent], holder[d.call_id] = d.call_id, agent
            elif d.kind in ("acd.connected", "acd.adopted"):
                connected.add(d.call_id)
            elif d.kind == "acd.agent_state" and d.data.get("state") != "offered":
                call = ringing.pop(agent, None)
                if call is not None:
                    holder.pop(call, None)
            elif d.kind in ("acd.requeued", "acd.abandoned", "acd.cancel_offer"):
                ringing.pop(str(holder.pop(d.call_id, "")), None)


@pytest.fixture
async def run_factory(tmp_path: Path, pg_url: str) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[AsteriskSimulator, Server]] = []

    async def start(scenario: dict[str, Any], seats: dict[str, str], **queue: Any) -> Run:
        # timestampevents=yes, as asterisk/manager.conf ships it: Asterisk's own times
        sim = AsteriskSimulator(parse_scenario(scenario), time_scale=0.01, timestamp_events=True)
        await sim.start()
        settings = load_config(
            None,
            ami={
                "port": sim.port,
                "secret": "ccsecret",
                "backoff_min_s": 0.01,
                "backoff_max_s": 0.05,
                "reconcile_every_s": 0.5,
            },
            http={"host": "127.0.0.1", "port": 0},
            store={"url": pg_url, "flush_interval_s": 0.05, "spool_dir": str(tmp_path / "spool")},
            acd={"config": write_acd(tmp_path / "acd.yaml", seats, **queue), "tick_s": 0.01},
        )
        log = ListSink()
        server = Server(settings, clock=sim.now, extra_sinks=(log,))
        await server.start()
        started.append((sim, server))
        await server.cti.client.wait_connected(5)
        assert server.orchestrator is not None
        for agent in seats:
            server.orchestrator.agent_action(agent, "login")
            server.orchestrator.agent_action(agent, "ready")
        return Run(sim, server, log)

    yield start
    for sim, server in started:
        await server.stop()
        await sim.stop()


async def test_twenty_link_drops_leave_every_record_right_and_no_agent_stuck(
    run_factory: Callable[..., Any], pg_url: str
) -> None:
    seats = dict(list(SEATS.items())[:4])
    agents = [{"extension": e, "answer_delay_s": 1.5, "talk_mean_s": 30} for e in seats.values()]
    run: Run = await run_factory({"ring_timeout_s": 8, "agents": agents}, seats, wrap_up_s=2)
    sim, rng = run.sim, random.Random(9)
    handles = []

    async def traffic() -> None:
        for i in range(40):
            patience = rng.choice([20.0, 60.0, 900.0, 900.0])
            handles.append(await sim.place_call(f"55530{i:03d}", f"C{i}", patience=patience))
            await sim.sleep(rng.expovariate(1 / 6.0))

    async def drops() -> None:
        for _ in range(20):
            await sim.sleep(rng.uniform(4, 12))
            await sim.link_down(rng.uniform(2, 6))

    await asyncio.gather(traffic(), drops())
    await sim.wait_idle(timeout=60)
    await until(lambda: run.server.cti.connected, 5)
    run.server.cti.request_resync()
    await until(lambda: all(a["call_id"] is None for a in run.agents().values()), 5)
    await until(lambda: not run.server.orchestrator.engine.calls, 5)  # type: ignore[union-attr]
    await asyncio.sleep(0.3)  # the writer's last flush

    assert run.server.cti.client.sessions >= 21  # every drop was a new session
    # no agent stuck: each is available or in a wrap-up that ends by itself
    for agent_id, agent in run.agents().items():
        assert agent["state"] in ("available", "wrap_up"), (agent_id, agent["state"])
        assert agent["device"] == "ok"
    run.check_no_double_offers()
    # every call record right, from ccserver's own event log in PostgreSQL
    engine = create_async_engine(pg_url)
    try:
        records, _ = await load_records(engine, sim.now() - 86400, sim.now() + 60, 5.0)
    finally:
        await engine.dispose()
    by_call = {r.call_id: r for r in records}
    ids = {e: a for a, e in seats.items()}
    answered = abandoned = 0
    for h in handles:
        truth, rec = h.record, by_call[h.linkedid]
        story = (
            "\n".join(
                f"{e.kind} {e.at - truth.arrived_at:.2f} {dict(e.data)}"
                for e in run.log.events
                if e.call_id == h.linkedid
            )
            + f"\nTRUTH {truth}"
        )
        assert truth.outcome in ("answered", "abandoned"), story
        answered += truth.outcome == "answered"
        abandoned += truth.outcome == "abandoned"
        # waits and talk as Asterisk saw them: a drop hides events, the dialplan's notes do not
        wrong = mismatches(truth, rec, ids, tolerance_s=0.05)
        assert not wrong, (wrong, story)
    assert answered >= 20 and abandoned >= 1
    # the drops did hide calls: the engine was corrected from Asterisk's picture and notes
    orchestrator = run.server.orchestrator
    assert orchestrator is not None and orchestrator.corrections >= 5
    offers = sum(1 for d in run.acd if d.kind == "acd.offer")
    print(
        f"drops: 20, sessions {run.server.cti.client.sessions}, callers {len(handles)},"
        f" answered {answered}, abandoned {abandoned}, offers {offers},"
        f" corrections {orchestrator.corrections}"
    )
    assert len({r.call_id for r in records if r.arrived_at}) >= len(handles)


async def test_dead_and_unregistered_softphones_are_never_counted_as_no_answer(
    run_factory: Callable[..., Any],
) -> None:
    seats = {"ana": "1001", "ben": "1002", "chen": "1003"}
    scenario = {
        "ring_timeout_s": 8,
        "qualify_s": 30,
        "agents": [
            {"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 40},
            {"extension": "1002", "registered": False, "answer_delay_s": 1, "talk_mean_s": 40},
            {"extension": "1003", "answer_delay_s": 1, "talk_mean_s": 40},
        ],
    }
    run: Run = await run_factory(scenario, seats, wrap_up_s=1)
    sim = run.sim
    await until(lambda: run.agents()["ben"]["device"] == "unregistered", 5)
    assert run.agents()["ben"]["not_routable_because"] == "softphone unregistered"
    # chen's softphone dies without unregistering; ana is busy with long calls
    sim.kill_softphone("1003")
    calls = [await sim.place_call(f"55540{i:03d}", f"C{i}", patience=900.0) for i in range(4)]
    await until(lambda: run.agents()["chen"]["device"] == "unreachable", 10)
    killed_noticed = sim.now()
    # offers made to chen before Asterisk noticed failed at the device: a cool-off
    offers = [d for d in run.acd if d.kind == "acd.offer"]
    assert not any(d.data["agent"] == "ben" for d in offers)
    after = [d for d in offers if d.data["agent"] == "chen" and d.at > killed_noticed + 0.5]
    assert after == [], "offered to a softphone Asterisk reported unreachable"
    failed = [d for d in run.acd if d.kind == "acd.requeued" and d.data["agent"] == "chen"]
    assert failed and all("unavailable" in d.data["reason"] for d in failed)
    # ben registers mid-run: routable at once, offered a waiting call within a second
    sim.register("1002")
    registered_at = sim.now()
    await until(lambda: any(d.kind == "acd.offer" and d.data["agent"] == "ben" for d in run.acd), 5)
    first = next(d for d in run.acd if d.kind == "acd.offer" and d.data["agent"] == "ben")
    assert first.at - registered_at < 1.0
    # a device failure never put anyone in "not ready (no answer)"
    for d in run.acd:
        if d.kind == "acd.agent_state" and d.data.get("agent") in ("ben", "chen"):
            assert d.data.get("code") != "no answer", d
    for handle in calls:
        await sim.hangup_channel(handle.channel)
    run.check_no_double_offers()
