"""One ccserver follows two Asterisk nodes (README "Scaling out"), end to end over real TCP.

Two simulators play nodes A and B (systemname A and B: their Uniqueids are
"A-..." and "B-..."), joined by an inter-node trunk; each seat's softphone is
registered on one node. ccserver delivers each node's callers to seats on the
same node, a ``cross_node`` queue's caller on A to an idle seat on B through
the trunk (the line arriving on B is a leg of A's call, not a new caller), and
a link drop of node B neither stops routing on A nor leaves anyone stuck.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import create_async_engine
from support import ami_settings, until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import load_config
from ccserver.reporting.source import load_records
from ccserver.sim import AsteriskSimulator, link_trunk, parse_scenario
from contracts.sink import CallEvent, ListSink
from cti import events as ev
from cti.service import CtiService
from ivr.visit import QueueCallback

SEATS_A = {"ana": "1001", "ben": "1002"}
SEATS_B = {"chen": "1003", "dana": "1004"}
SEATS = SEATS_A | SEATS_B


def scenario(on_this_node: dict[str, str]) -> dict[str, Any]:
    """Every seat is configured on both nodes; only this node's softphones register here."""
    return {
        "ring_timeout_s": 8,
        "agents": [
            {
                "extension": e,
                "registered": e in on_this_node.values(),
                "answer_delay_s": 1.0,
                "talk_mean_s": 20,
            }
            for e in SEATS.values()
        ],
    }


class Floor:
    def __init__(
        self, a: AsteriskSimulator, b: AsteriskSimulator, server: Server, log: ListSink
    ) -> None:
        self.a, self.b, self.server, self.log = a, b, server, log

    @property
    def acd(self) -> list[CallEvent]:
        return [e for e in self.log.events if e.kind.startswith("acd.")]

    def agents(self) -> dict[str, dict[str, Any]]:
        assert self.server.orchestrator is not None
        return {a["id"]: a for a in self.server.orchestrator.snapshot()["agents"]}

    def offers(self, call_id: str) -> list[CallEvent]:
        return [e for e in self.acd if e.kind == "acd.offer" and e.call_id == call_id]

    def connected_to(self, call_id: str) -> str | None:
        for e in self.acd:
            if e.call_id == call_id and e.kind in ("acd.connected", "acd.adopted"):
                return str(e.data.get("agent"))
        return None


@pytest.fixture
async def two_nodes(tmp_path: Path, pg_url: str) -> AsyncIterator[Callable[..., Any]]:
    parts: list[Any] = []

    async def start(**queue: Any) -> Floor:
        a = AsteriskSimulator(
            parse_scenario(scenario(SEATS_A)),
            time_scale=0.01,
            timestamp_events=True,
            system_name="A",
        )
        b = AsteriskSimulator(
            parse_scenario(scenario(SEATS_B)),
            time_scale=0.01,
            timestamp_events=True,
            system_name="B",
        )
        link_trunk(a, b, "node_b", "node_a")
        await a.start()
        await b.start()
        parts.extend([a, b])
        # one clock for both nodes, as NTP keeps real ones
        b._epoch0, b._loop_t0 = a._epoch0, a._loop_t0
        fast = {"secret": "ccsecret", "backoff_min_s": 0.01, "backoff_max_s": 0.05}
        acd = {
            "default_queue": "general",
            "queues": [
                {"name": "general", "skills": {}, "ring_timeout_s": 8, "wrap_up_s": 2, **queue}
            ],
            "agents": [
                {"id": a_id, "endpoint": e, "skills": {"general": 5}} for a_id, e in SEATS.items()
            ],
        }
        (tmp_path / "acd.yaml").write_text(yaml.safe_dump(acd))
        settings = load_config(
            None,
            ami=[
                {"name": "A", "port": a.port, "trunk_to": {"B": "node_b"}, **fast},
                {"name": "B", "port": b.port, "trunk_to": {"A": "node_a"}, **fast},
            ],
            http={"host": "127.0.0.1", "port": 0},
            store={"url": pg_url, "flush_interval_s": 0.05, "spool_dir": str(tmp_path / "spool")},
            acd={"config": str(tmp_path / "acd.yaml"), "tick_s": 0.01},
        )
        log = ListSink()
        floor = Floor(a, b, Server(settings, clock=a.now, extra_sinks=(log,)), log)
        await floor.server.start()
        parts.append(floor.server)
        for node in floor.server.nodes:
            await node.wait_connected(5)
        orchestrator = floor.server.orchestrator
        assert orchestrator is not None
        # each seat's node is where its softphone registered
        await until(
            lambda: (
                {i: a["node"] for i, a in floor.agents().items()}
                == {i: "A" if i in SEATS_A else "B" for i in SEATS}
            ),
            5,
        )
        for agent in SEATS:
            orchestrator.agent_action(agent, "login")
            orchestrator.agent_action(agent, "ready")
        return floor

    yield start
    for part in reversed(parts):
        await part.stop()


async def test_calls_stay_on_their_node_and_a_link_drop_of_one_node_spares_the_other(
    two_nodes: Callable[..., Any], pg_url: str
) -> None:
    floor: Floor = await two_nodes()
    a, b, server = floor.a, floor.b, floor.server
    # two callers on each node: each answered by a seat of its own node
    calls = [await a.place_call(f"5556100{i}", f"A{i}", patience=900.0) for i in range(2)]
    calls += [await b.place_call(f"5556200{i}", f"B{i}", patience=900.0) for i in range(2)]
    await until(lambda: all(floor.connected_to(h.linkedid) for h in calls), 10)
    for h in calls:
        node = h.linkedid.partition("-")[0]
        assert node in ("A", "B")
        agent = floor.connected_to(h.linkedid)
        assert agent in (SEATS_A if node == "A" else SEATS_B), (h.linkedid, agent)
        assert {e.data["node"] for e in floor.offers(h.linkedid)} == {node}
    await a.wait_idle(timeout=30)
    await b.wait_idle(timeout=30)

    # node B's link drops while one of its seats talks; that call ends unseen
    talking = await b.place_call("55562999", "B-talking", patience=900.0)
    await until(lambda: floor.connected_to(talking.linkedid) in SEATS_B, 10)
    b.set_link(False)
    await until(lambda: not server.nodes[1].connected, 5)
    await b.hangup_channel(talking.channel)
    # A's callers are still answered meanwhile, B's seats wait
    await until(lambda: all(floor.agents()[i]["device"] == "unknown" for i in SEATS_B), 5)
    assert all(floor.agents()[i]["device"] == "ok" for i in SEATS_A)
    during = await a.place_call("55563000", "A-during", patience=900.0)
    stranded = await b.place_call("55563001", "B-during", patience=900.0)
    await until(lambda: floor.connected_to(during.linkedid) in SEATS_A, 10)
    assert floor.offers(stranded.linkedid) == []  # ccserver cannot hear B: nothing offered
    # B is back: its caller is found holding, queued and answered on B; nobody stuck
    b.set_link(True)
    await until(lambda: floor.connected_to(stranded.linkedid) in SEATS_B, 15)
    await a.wait_idle(timeout=30)
    await b.wait_idle(timeout=30)
    for node in server.nodes:
        node.request_resync()
    orchestrator = server.orchestrator
    assert orchestrator is not None
    await until(lambda: not orchestrator.engine.calls, 5)
    await until(lambda: all(x["call_id"] is None for x in floor.agents().values()), 5)
    for agent_id, agent in floor.agents().items():
        assert agent["state"] in ("available", "wrap_up"), (agent_id, agent)
        assert agent["device"] == "ok", (agent_id, agent)
    health = server.snapshot().to_json()
    assert set(health["cti"]["nodes"]) == {"A", "B"}
    assert all(n["connected"] for n in health["cti"]["nodes"].values())
    metrics = generate_latest(server.registry).decode()
    assert 'ccserver_node_ami_up{node="A"} 1.0' in metrics
    assert 'ccserver_node_ami_up{node="B"} 1.0' in metrics
    assert 'ccserver_node_agents{node="B",state="logged_out"} 0.0' in metrics
    # every call on the record with its node in its id, answered by the right seat
    await asyncio.sleep(0.3)  # the writer's last flush
    engine = create_async_engine(pg_url)
    try:
        records, _ = await load_records(engine, a.now() - 86400, a.now() + 60, 5.0)
    finally:
        await engine.dispose()
    by_call = {r.call_id: r for r in records}
    truth = {h.linkedid: h.record for h in [*calls, talking, during, stranded]}
    ids = {e: i for i, e in SEATS.items()}
    for call_id, rec in truth.items():
        assert rec.outcome == "answered"
        assert by_call[call_id].disposition == "answered"
        assert by_call[call_id].agent == ids[str(rec.agent)]


async def test_a_cross_node_queue_delivers_over_the_trunk(
    two_nodes: Callable[..., Any], pg_url: str
) -> None:
    floor: Floor = await two_nodes(cross_node=True)
    a, b, server = floor.a, floor.b, floor.server
    orchestrator = server.orchestrator
    assert orchestrator is not None
    # A's seats are busy elsewhere (not ready): only B's seats are free
    for agent in SEATS_A:
        orchestrator.agent_action(agent, "not_ready", "break")
    orchestrator.agent_action("dana", "not_ready", "break")
    call = await a.place_call("55564000", "Cross", patience=900.0)
    await until(lambda: floor.connected_to(call.linkedid) == "chen", 15)
    offer = floor.offers(call.linkedid)[0]
    assert (offer.data["agent"], offer.data["node"], offer.data["call_node"]) == ("chen", "B", "A")
    # node B saw an inbound trunk line for it: a leg of A's call, not a caller of its own
    assert orchestrator.engine.calls.keys() == {call.linkedid}
    tracker_b = server.nodes[1].tracker
    legs = [c for c in [*tracker_b.calls.values(), *tracker_b.recent.values()]]
    marks = [c.variables.get("CC_REMOTE_OF") for c in legs]
    assert f"A/{call.linkedid}" in marks and all(c.call_id.startswith("B-") for c in legs)
    assert b.trunks["node_a"][0] is a
    await a.wait_idle(timeout=30)
    await until(lambda: not orchestrator.engine.calls, 5)
    await until(lambda: floor.agents()["chen"]["call_id"] is None, 5)
    assert call.record.outcome == "answered" and call.record.agent == "1003"
    # B's own calls never reached the engine or the record as callers
    queued = {e.call_id for e in floor.acd if e.kind == "acd.queued"}
    assert queued == {call.linkedid}
    assert not any(e.call_id.startswith("B-") for e in floor.acd if e.call_id)
    await asyncio.sleep(0.3)  # the writer's last flush
    engine = create_async_engine(pg_url)
    try:
        records, _ = await load_records(engine, a.now() - 86400, a.now() + 60, 5.0)
    finally:
        await engine.dispose()
    answered = [r for r in records if r.disposition == "answered"]
    assert [(r.call_id, r.agent) for r in answered] == [(call.linkedid, "chen")]
    assert chen_free(floor)


async def test_a_queue_callback_rings_the_customer_from_the_free_seats_node(
    two_nodes: Callable[..., Any],
) -> None:
    floor: Floor = await two_nodes()  # the queue keeps callers on their node
    a, b, server = floor.a, floor.b, floor.server
    orchestrator = server.orchestrator
    assert orchestrator is not None
    for agent in (*SEATS_A, "dana"):  # only chen, on node B, is free
        orchestrator.agent_action(agent, "not_ready", "break")
    # a callback has no line, so no node: chen takes it, and the customer is rung from
    # B, whose dialplan then dials chen's softphone there
    asked = QueueCallback("cb-multi", "5556500001", "general", {}, 0.0, False)
    assert orchestrator.request_callback(asked)
    await until(lambda: floor.connected_to("cb-multi") == "chen", 15)
    assert [(o["number"], o["answered"]) for o in b.outbound] == [("5556500001", True)]
    assert a.outbound == []
    await b.wait_idle(timeout=30)
    await until(lambda: "cb-multi" not in orchestrator.engine.calls, 5)
    await until(lambda: chen_free(floor), 5)


def chen_free(floor: Floor) -> bool:
    agent = floor.agents()["chen"]
    return agent["state"] in ("available", "wrap_up") and agent["device"] == "ok"


async def test_sim_asterisk_runs_several_nodes() -> None:
    """``ccserver sim-asterisk --node A=... --node B=...``: one simulated Asterisk per node,
    each with its own port, Uniqueids and seats (the scenario's seats in turn)."""
    ports = {"A": free_port(), "B": free_port()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccserver",
        "sim-asterisk",
        *(f"--node={n}=127.0.0.1:{p}" for n, p in ports.items()),
        "--secret",
        "ccsecret",
        "--time-scale",
        "0.01",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(30):
            listening = 0
            while listening < 2:
                listening += b"listening" in await proc.stderr.readline()
        seen: dict[str, list[str]] = {}
        contacts: dict[str, set[str]] = {}
        for node, port in ports.items():
            service = CtiService(ami_settings(port), ListSink(), node=node)
            ids = seen.setdefault(node, [])

            async def note(event: object, ids: list[str] = ids) -> None:
                if isinstance(event, ev.Newchannel):
                    ids.append(event.uniqueid)

            service.subscribe(note)
            await service.start()
            try:
                await service.wait_connected(10)
                await until(lambda ids=ids: bool(ids), 30)  # the built-in traffic's callers
                _, found = await service.device_truth()
                assert found is not None
                contacts[node] = set(found)
            finally:
                await service.stop()
        assert all(uid.startswith("A-") for uid in seen["A"])
        assert all(uid.startswith("B-") for uid in seen["B"])
        # each seat registered on one node only
        assert contacts["A"] and contacts["B"] and not contacts["A"] & contacts["B"]
    finally:
        proc.terminate()
        await proc.communicate()
