"""The hotline end to end: simulated callers and softphones, real AMI, the real ACD."""

from __future__ import annotations

import random
from pathlib import Path

import yaml
from support import until

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts.sink import ListSink

SKILLS = {"billing": ("billing", 5), "faults": ("tech", 4), "general": ("general", 1)}
AGENTS = [  # id, extension, skills, no-answer odds
    ("ana", "1001", {"general": 5, "billing": 8}, 0.0),
    ("ben", "1002", {"general": 5, "tech": 6}, 1.0),  # never answers
    ("chen", "1003", {"general": 3, "billing": 4, "tech": 3}, 0.0),
    ("dana", "1004", {"tech": 9}, 0.0),
    ("eli", "1005", {"billing": 6}, 0.0),
    ("fay", "1006", {"general": 2}, 0.2),
    ("gus", "1007", {"billing": 9, "tech": 5}, 0.0),
    ("hal", "1008", {"general": 6}, 0.0),
    ("ivy", "1009", {"tech": 4, "general": 1}, 0.0),
    ("jo", "1010", {"billing": 5, "general": 4}, 0.0),
]
VIP = "5550199999"


def write_acd(path: Path) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "vip_numbers": [VIP],
                "default_queue": "general",
                "queues": [
                    {"name": q, "skills": {s: lvl}, "wrap_up_s": 2, "ring_timeout_s": 8}
                    for q, (s, lvl) in SKILLS.items()
                ],
                "agents": [{"id": i, "endpoint": e, "skills": sk} for i, e, sk, _ in AGENTS],
            }
        )
    )


async def test_fifty_callers_ten_agents(tmp_path: Path) -> None:
    scenario = parse_scenario(
        {
            "ring_timeout_s": 8,
            "agents": [
                {"extension": e, "answer_delay_s": 2, "talk_mean_s": 25, "no_answer_prob": p}
                for _, e, _, p in AGENTS
            ],
        }
    )
    sim = AsteriskSimulator(scenario, time_scale=0.01)
    await sim.start()
    write_acd(tmp_path / "acd.yaml")
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        http={"host": "127.0.0.1", "port": 0},
        store={"url": f"sqlite+aiosqlite:///{tmp_path}/e2e.db"},
        acd={"config": str(tmp_path / "acd.yaml"), "auto_ready": True, "tick_s": 0.02},
    )
    log = ListSink()
    server = Server(settings, clock=sim.now, extra_sinks=(log,))
    await server.start()
    await server.cti.client.wait_connected(5)
    rng = random.Random(5)
    handles = []
    try:
        for i in range(50):
            queue = rng.choice(list(SKILLS))
            number = VIP if i == 25 else f"55520{i:03d}"
            patience = rng.choice([4.0, 40.0, 600.0, 600.0, 600.0])
            handles.append(
                (
                    queue,
                    await sim.place_call(
                        number, f"Caller {i}", patience=patience, variables={"CC_QUEUE": queue}
                    ),
                )
            )
            await sim.sleep(rng.expovariate(1 / 3.0))
        await sim.wait_idle(timeout=60)
        await until(lambda: server.cti.tracker.summary().active_calls == 0)
    finally:
        await server.stop()
        await sim.stop()

    agents = {ext: skills for _, ext, skills, _ in AGENTS}
    ids = {ext: agent_id for agent_id, ext, _, _ in AGENTS}
    decisions = [e for e in log.events if e.kind.startswith("acd.")]
    outcomes = {"answered": 0, "abandoned": 0}
    for queue, handle in handles:
        record = handle.record
        assert record.outcome in outcomes, (record.number, record.outcome)
        outcomes[record.outcome] += 1
        mine = [d for d in decisions if d.call_id == handle.linkedid]
        if record.outcome == "answered":
            skill, level = SKILLS[queue]
            assert agents[record.agent][skill] >= level, f"{record.agent} lacks {skill}>={level}"
            offer = [
                d for d in mine if d.kind == "acd.offer" and d.data["agent"] == ids[record.agent]
            ]
            assert offer and "needs" in offer[-1].data["reason"]
            assert any(d.kind == "acd.connected" for d in mine)
        else:
            assert any(d.kind == "acd.abandoned" for d in mine), record.number
    assert outcomes["answered"] >= 25 and outcomes["abandoned"] >= 1
    # ben never answers: his offers went back to the queue, and he went not ready
    assert any(d.kind == "acd.requeued" and d.data["agent"] == "ben" for d in decisions)
    assert not any(d.kind == "acd.connected" and d.data["agent"] == "ben" for d in decisions)
    # the VIP caller was boosted
    vip = next(h for _, h in handles if h.record.number == VIP)
    assert any(
        d.kind == "acd.queued" and d.data["priority"] >= 10
        for d in decisions
        if d.call_id == vip.linkedid
    )
    # nobody was offered two calls at once
    ringing: dict[str, str] = {}
    for d in decisions:
        agent = d.data.get("agent")
        if d.kind == "acd.offer":
            assert agent not in ringing, f"{agent} offered two calls"
            ringing[str(agent)] = d.call_id
        elif d.kind == "acd.agent_state" and d.data.get("state") in (
            "available",
            "not_ready",
            "wrap_up",
        ):
            ringing.pop(str(agent), None)
