"""Reports against ground truth: a seeded hotline, PostgreSQL, and the simulator's own record.

Seeded callers go through the IVR and the ACD of the example configuration;
the simulator keeps what happened to each caller (arrival, entering the
queue, answer, hang-up, in its own clock) and ccserver's report, computed
from the event log in PostgreSQL, must give exactly the same figures.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import load_config
from ccserver.reporting.kpis import ALL, interval_start
from ccserver.reporting.source import ReportRequest, build_report
from ccserver.selfservice.accounts_sql import load_accounts
from ccserver.sim import AsteriskSimulator, parse_scenario

REPO = Path(__file__).resolve().parents[2]
THRESHOLD_S = 20.0
SHORT_S = 5.0
INTERVAL_S = 900
PATIENCE = [1.0, 3.0, 8.0, 25.0, 60.0, 600.0]  # seconds in the queue before hanging up


async def give_up(sim: AsteriskSimulator, call: Any, patience: float) -> None:
    """The caller hangs up after ``patience`` in the queue, unless answered by then."""
    while call.record.entered_hold_at is None and not call.done.is_set():
        await asyncio.sleep(0.005)
    if call.done.is_set():
        return
    await sim.sleep(patience)
    if call.record.answered_at is None and not call.done.is_set():
        await sim.hangup_channel(call.channel)


# (DTMF script, where the IVR sends the caller) -- see config/ivr.example.yaml
SCRIPTS = [
    ("10w", "general"),  # English, an agent
    ("10" + "1" + "w" + "4", "general"),  # ... opts in to the survey, rates the call 4
    ("20" + "1" + "w" + "2", "general"),  # Spanish, rates 2
    ("20w", "general"),  # Spanish, an agent
    ("", "general"),  # silence: retries, then the fallback queue
    ("11" + "1111" + "2222" + "3333", "billing"),  # three wrong PINs
    ("11" + "1234", None),  # balance read back: self-served
    ("12" + "1" + "1", None),  # fault ticket: self-served
    ("1h", None),  # hangs up in the menu
]


@pytest.mark.postgres
async def test_queue_report_matches_the_simulators_record_exactly(
    pg_url: str, tmp_path: Path
) -> None:
    agi_port = free_port()
    scenario = parse_scenario(
        {
            "seed": 11,
            "agents": [
                {"extension": "1001", "answer_delay_s": 3, "talk_mean_s": 120},
                {"extension": "1002", "answer_delay_s": 5, "talk_mean_s": 150,
                 "no_answer_prob": 0.2},
                {"extension": "1003", "answer_delay_s": 2, "talk_mean_s": 100},
            ],
        }
    )  # fmt: skip
    sim = AsteriskSimulator(
        scenario, time_scale=0.01, agi_host="127.0.0.1", agi_port=agi_port, timestamp_events=True
    )
    await sim.start()
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02},
        http={"host": "127.0.0.1", "port": 0},
        store={"url": pg_url, "flush_interval_s": 0.05, "spool_dir": str(tmp_path / "spool")},
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.01},
        ivr={"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port},
    )
    server = Server(settings, clock=sim.now)  # ccserver and "Asterisk" share one clock
    await server.start()
    engine = create_async_engine(pg_url)
    await load_accounts(
        engine,
        [{"number": "10000001", "name": "A", "phone": "5550100001", "pin": "1234",
          "balance_cents": "4250", "due_date": "2026-12-15"},
         # the wrong-PIN caller has an account of their own: enough failures lock an
         # account across calls, and that must not turn A's balance call into a hand-off
         {"number": "10000002", "name": "B", "phone": "5550100002", "pin": "8642",
          "balance_cents": "100", "due_date": "2026-12-15"}],
    )  # fmt: skip
    await server.cti.client.wait_connected(5)
    orchestrator = server.orchestrator
    assert orchestrator is not None
    for agent in ("ana", "ben", "chen"):
        server.orchestrator.agent_action(agent, "login")
        server.orchestrator.agent_action(agent, "ready")

    rng = __import__("random").Random(5)
    expected_queue: dict[str, str | None] = {}
    handles = []
    waiting: list[asyncio.Task[None]] = []
    try:
        for i in range(42):
            script, queue = SCRIPTS[i % len(SCRIPTS)]
            # some numbers call again: the repeat-call rate has something to count
            number = "5550100001" if script.startswith(("11", "12")) else f"55502{i % 11:05d}"
            if script.startswith("111111"):
                number = "5550100002"
            elif script.startswith("12"):  # callbacks are limited per number and hour
                number = f"55503{i:05d}"
            call = await sim.place_call(number, dtmf=script)
            expected_queue[call.uniqueid] = queue
            handles.append(call)
            # how long this caller will wait in the queue before hanging up
            waiting.append(asyncio.create_task(give_up(sim, call, rng.choice(PATIENCE))))
            await sim.sleep(rng.expovariate(1 / 25))
        await asyncio.wait_for(asyncio.gather(*(h.done.wait() for h in handles)), 120)
        await asyncio.gather(*waiting)
        await sim.sleep(60)  # wrap-ups end
        # ccserver has seen every call end and every agent leave wrap-up
        await until(lambda: server.cti.tracker.summary().active_calls == 0, 10)
        await until(
            lambda: all(a.state.value != "wrap_up" for a in orchestrator.engine.agents.values()),
            10,
        )
    finally:
        await server.stop()
        await sim.stop()

    truth = [r for r in sim.ground_truth() if r.uniqueid in expected_queue]
    assert Counter(r.outcome for r in truth).keys() >= {"answered", "self_served"}
    start = min(r.arrived_at for r in truth) - 1
    end = max(r.ended_at or 0 for r in truth) + 1
    rows = await build_report(
        engine,
        ReportRequest("queues", start, end, INTERVAL_S, "abandons_against", SHORT_S),
        lambda queue: THRESHOLD_S,
    )
    # the simulator's clock runs ahead of the wall clock: the report's "now" is its own
    agents = await build_report(
        engine, ReportRequest("agents", start, end), lambda q: 20.0, now=sim.now()
    )
    await engine.dispose()

    # per agent: calls and talk time, against the softphones' own record
    extension = {"ana": "1001", "ben": "1002", "chen": "1003"}
    for row in agents:
        mine = [r for r in truth if r.outcome == "answered" and r.agent == extension[row["agent"]]]
        assert row["calls"] == len(mine), row["agent"]
        talk = sum((r.talk_ended_at or 0) - (r.answered_at or 0) for r in mine)
        assert row["talk_s"] == round(talk, 3), row["agent"]
        assert 0 <= row["occupancy"] <= 1 and 0 <= row["utilization"] <= row["occupancy"]

    # what the report must say, from the simulator's record alone
    want: dict[tuple[str, float], dict[str, Any]] = defaultdict(
        lambda: {"offered": 0, "answered": 0, "abandoned": 0, "short_abandons": 0,
                 "answered_within_threshold": 0, "waits": [], "abandon_waits": [], "talks": [],
                 "scores": [], "repeats": 0}
    )  # fmt: skip
    ivr: dict[float, Counter[str]] = defaultdict(Counter)
    for r in truth:
        ivr[interval_start(r.arrived_at, INTERVAL_S)]["calls"] += 1
        ivr[interval_start(r.arrived_at, INTERVAL_S)][r.outcome] += 1
        if r.entered_hold_at is None:
            continue
        queue = expected_queue[r.uniqueid]
        assert queue is not None, r
        slot = interval_start(r.entered_hold_at, INTERVAL_S)
        for key in ((queue, slot), (ALL, slot)):
            w = want[key]
            w["offered"] += 1
            wait = r.wait_s
            assert wait is not None
            if r.outcome == "answered":
                w["answered"] += 1
                w["answered_within_threshold"] += wait <= THRESHOLD_S
                w["waits"].append(wait)
                assert r.talk_ended_at is not None and r.answered_at is not None
                w["talks"].append(r.talk_ended_at - r.answered_at)
                score = next((k for k in r.keys.get("survey", "") if k in "12345"), None)
                if score is not None:
                    w["scores"].append(int(score))
                w["repeats"] += any(
                    o.number == r.number and r.arrived_at < o.arrived_at <= r.arrived_at + 86400
                    for o in truth
                )
            else:
                assert r.outcome == "abandoned", r
                w["abandoned"] += 1
                w["short_abandons"] += wait < SHORT_S
                w["abandon_waits"].append(wait)

    totals = Counter()
    for (queue, _), w in want.items():
        if queue == ALL:
            totals.update({k: v for k, v in w.items() if isinstance(v, int)})
    # the run exercises every kind of figure, not only the easy ones
    assert totals["answered"] >= 10 and totals["abandoned"] >= 3 and totals["short_abandons"] >= 1
    assert 0 < totals["answered_within_threshold"] < totals["answered"]
    assert sum(len(w["scores"]) for (q, _), w in want.items() if q == ALL) >= 2
    assert sum(w["repeats"] for (q, _), w in want.items() if q == ALL) >= 1
    assert len({slot for _, slot in want}) >= 2  # more than one interval
    print("ground truth:", dict(totals), "intervals:", len({slot for _, slot in want}))

    got = {(row["queue"], row["interval_start"]): row for row in rows}
    offered_rows = {k: v for k, v in got.items() if v["offered"]}
    assert set(offered_rows) == set(want)
    for key, w in want.items():
        row = got[key]
        for field in ("offered", "answered", "abandoned", "short_abandons",
                      "answered_within_threshold"):  # fmt: skip
            assert row[field] == w[field], (key, field)
        if w["waits"]:
            assert row["asa_s"] == round(sum(w["waits"]) / len(w["waits"]), 3), key
            assert row["avg_talk_s"] == round(sum(w["talks"]) / len(w["talks"]), 3), key
            assert row["repeat_call_rate"] == round(w["repeats"] / w["answered"], 4), key
            assert row["aht_s"] == pytest.approx(row["avg_talk_s"] + row["avg_wrap_s"], abs=2e-3)
        if w["scores"]:
            assert row["surveys"] == len(w["scores"]), key
            assert row["csat"] == round(sum(w["scores"]) / len(w["scores"]), 4), key
        if w["abandon_waits"]:
            mean = sum(w["abandon_waits"]) / len(w["abandon_waits"])
            assert row["avg_abandon_time_s"] == round(mean, 3), key
        assert row["longest_wait_s"] == round(max(w["waits"] + w["abandon_waits"]), 3), key
        den = w["answered"] + w["abandoned"] - w["short_abandons"]
        sl = w["answered_within_threshold"] / den if den else None
        assert row["service_level"] == (None if sl is None else round(sl, 4)), key
        assert row["answer_rate"] == round(w["answered"] / w["offered"], 4), key
    for slot, counts in ivr.items():
        row = got[(ALL, slot)]
        assert row["ivr_calls"] == counts["calls"]
        assert row["self_served"] == counts["self_served"]
        assert row["self_service_rate"] == round(counts["self_served"] / counts["calls"], 4)
