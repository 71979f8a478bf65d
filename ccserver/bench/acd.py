"""ACD routing throughput: decisions per second at 2,000 agents and 10,000 waiting calls.

Each measured decision is an agent becoming free (wrap-up ended) and the engine
choosing that agent's next call among 10,000 waiting calls over 200 queues and
200 skills; the offer is then answered and ended off the clock so the agent
frees up again. The baseline is a naive router that scans every waiting call
for the same decision.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from typing import Any

from acd.engine import Engine
from acd.events import (
    AgentLogin,
    CallArrived,
    CallEnded,
    OfferAnswered,
    WrapUpDone,
)
from acd.model import Agent, AgentState, CallState, QueueConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=2000, help="agents (default 2000)")
    parser.add_argument("--skills", type=int, default=200, help="skills, one queue each")
    parser.add_argument("--calls", type=int, default=10_000, help="calls waiting")
    parser.add_argument("--decisions", type=int, default=20_000, help="decisions measured")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")


def build(args: argparse.Namespace) -> Engine:
    """The benchmark's center: one queue per skill, agents with 3-6 skills each."""
    rng = random.Random(args.seed)
    skills = [f"skill{i:03d}" for i in range(args.skills)]
    queues = [
        QueueConfig(f"q{i:03d}", ((s, rng.randint(1, 5)),), wrap_up_s=60)
        for i, s in enumerate(skills)
    ]
    agents = [
        Agent(
            f"a{i:04d}",
            "",
            f"{10000 + i}",
            {s: rng.randint(1, 10) for s in rng.sample(skills, rng.randint(3, 6))},
        )
        for i in range(args.agents)
    ]
    engine = Engine(queues, agents)
    for a in agents:
        engine.handle(AgentLogin(a.id), 0.0)
    for i in range(args.calls):
        engine.handle(CallArrived(f"c{i}", rng.choice(queues).name, f"555{i:07d}"), i * 0.01)
    return engine


def naive_pick(engine: Engine, agent: Agent) -> str | None:
    """The baseline: scan every waiting call, keep the best eligible one."""
    best: tuple[tuple[float, float, int, str], str] | None = None
    for call in engine.calls.values():
        if call.state is CallState.WAITING and engine.eligible(agent, call):
            key = engine._keys[call.id]
            if best is None or key < best[0]:
                best = (key, call.id)
    return best[1] if best else None


def measure(args: argparse.Namespace) -> dict[str, Any]:
    engine = build(args)
    now = args.calls * 0.01 + 1
    agents = list(engine.agents.values())
    rng = random.Random(args.seed + 1)
    # every agent starts in wrap-up, so each WrapUpDone is one routing decision
    for agent in agents:
        agent.state = AgentState.WRAP_UP
    latencies: list[int] = []
    offers = 0
    next_id = args.calls
    for _ in range(args.decisions):
        agent = rng.choice(agents)
        if agent.state is not AgentState.WRAP_UP:
            continue
        now += 0.001
        t0 = time.perf_counter_ns()
        decisions = engine.handle(WrapUpDone(agent.id), now)
        latencies.append(time.perf_counter_ns() - t0)
        offer = next((d for d in decisions if d.kind == "offer"), None)
        if offer is None:
            continue
        offers += 1
        # off the clock: answer, end (back to wrap-up) and keep 10,000 calls waiting
        engine.handle(OfferAnswered(offer.call_id or "", agent.id), now)
        engine.handle(CallEnded(offer.call_id or ""), now)
        call_queue = rng.choice(list(engine.queues))
        engine.handle(CallArrived(f"c{next_id}", call_queue), now)
        next_id += 1
    seconds = sum(latencies) / 1e9
    lat_ms = sorted(x / 1e6 for x in latencies)
    # the baseline over the same state, for a sample of agents
    sample = rng.sample(agents, min(200, len(agents)))
    for agent in sample:
        agent.state = AgentState.AVAILABLE
    started = time.perf_counter()
    for agent in sample:
        naive_pick(engine, agent)
    baseline_s = (time.perf_counter() - started) / len(sample)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "agents": args.agents,
        "skills": args.skills,
        "waiting_calls": sum(len(w) for w in engine._waiting.values()),
        "decisions": len(latencies),
        "offers": offers,
        "decisions_per_s": round(len(latencies) / seconds),
        "p50_ms": round(statistics.median(lat_ms), 4),
        "p99_ms": round(lat_ms[int(len(lat_ms) * 0.99) - 1], 4),
        "baseline_decisions_per_s": round(1 / baseline_s),
        "ratio": round((len(latencies) / seconds) * baseline_s, 1),
        "rss_mb": round(rss_mb, 1),
    }
