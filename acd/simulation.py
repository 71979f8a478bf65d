"""Discrete-event simulation of a contact center driven by the real ACD engine.

Simulated callers arrive by a Poisson process per queue, wait with an
exponential patience (or forever), and are handled for an exponential time;
simulated agents answer after a ring delay or not at all. Time is virtual: a
heap of timed events, no sleeping, so ten hours run in seconds. The engine sees
exactly the events it sees in production, so the numbers show what a roster or
a routing change would do before it goes live.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field

from .effects import AgentStateChanged, Offer
from .engine import Engine, EngineSettings
from .events import (
    AgentLogin,
    AgentReady,
    CallAbandoned,
    CallArrived,
    CallEnded,
    Event,
    OfferAnswered,
    OfferFailed,
    OfferFailure,
    Tick,
)
from .model import Agent, AgentState, QueueConfig
from .queue_kpis import QueueTally


@dataclass(frozen=True)
class QueueTraffic:
    """Load offered to one queue."""

    queue: str
    calls_per_hour: float
    aht_s: float
    patience_s: float | None = None  # mean; None: callers never hang up
    vip_share: float = 0.0


@dataclass(frozen=True)
class AgentBehaviour:
    """How simulated agents answer."""

    answer_delay_s: float = 0.0
    no_answer_prob: float = 0.0


@dataclass(frozen=True)
class SimulationSpec:
    queues: tuple[QueueConfig, ...]
    agents: tuple[Agent, ...]
    traffic: tuple[QueueTraffic, ...]
    hours: float = 10.0
    seed: int = 1
    behaviour: AgentBehaviour = field(default_factory=AgentBehaviour)
    engine: EngineSettings = field(default_factory=EngineSettings)
    tick_s: float = 5.0
    short_abandon_s: float = 5.0
    sl_variant: str = "answered_only"


@dataclass
class QueueStats:
    """A queue's settled calls (the KPI tally the reports use) and who answered them."""

    tally: QueueTally = field(default_factory=QueueTally)
    agents: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class QueueReport:
    """Per-queue KPIs, by the formulas of kpis.md."""

    queue: str
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    service_level: float
    sl_variant: str
    sl_threshold_s: float
    asa_s: float
    occupancy: float
    answer_rate: float


def simulate(spec: SimulationSpec) -> list[QueueReport]:
    """Run the simulation; return one report per queue."""
    rng = random.Random(spec.seed)
    agents = [Agent(a.id, a.name, a.endpoint, dict(a.skills)) for a in spec.agents]
    engine = Engine(spec.queues, agents, spec.engine)
    end = spec.hours * 3600.0
    heap: list[tuple[float, int, str, str, str]] = []
    seq = itertools.count()
    stats: dict[str, QueueStats] = defaultdict(QueueStats)
    traffic = {t.queue: t for t in spec.traffic}
    arrived: dict[str, tuple[str, float]] = {}  # call -> (queue, arrival time)
    busy_since: dict[str, float] = {}
    busy_s: dict[str, float] = defaultdict(float)
    ids = itertools.count(1)

    def push(at: float, kind: str, a: str = "", b: str = "") -> None:
        heapq.heappush(heap, (at, next(seq), kind, a, b))

    def apply(event: Event, now: float) -> None:
        for d in engine.handle(event, now):
            if isinstance(d, Offer) and d.call_id and d.agent_id:
                if rng.random() < spec.behaviour.no_answer_prob:
                    push(now + d.ring_timeout_s, "no_answer", d.call_id, d.agent_id)
                else:
                    push(now + spec.behaviour.answer_delay_s, "answer", d.call_id, d.agent_id)
            elif isinstance(d, AgentStateChanged) and d.agent_id:
                agent = engine.agents[d.agent_id]
                if agent.state_until is not None:
                    push(agent.state_until, "timer")
                working = d.state in (AgentState.ON_CALL, AgentState.WRAP_UP)
                if working and d.agent_id not in busy_since:
                    busy_since[d.agent_id] = now
                elif not working and d.agent_id in busy_since:
                    busy_s[d.agent_id] += now - busy_since.pop(d.agent_id)

    for agent in agents:
        apply(AgentLogin(agent.id), 0.0)
        apply(AgentReady(agent.id), 0.0)
    for t in spec.traffic:
        push(rng.expovariate(t.calls_per_hour / 3600.0), "arrive", t.queue)
    push(spec.tick_s, "tick")

    while heap:
        now, _, kind, a, b = heapq.heappop(heap)
        if now > end and kind in ("arrive", "tick"):
            continue
        if kind == "arrive":
            t = traffic[a]
            call_id = f"c{next(ids)}"
            arrived[call_id] = (a, now)
            stats[a].tally.offered += 1
            if t.patience_s is not None:
                push(now + rng.expovariate(1.0 / t.patience_s), "abandon", call_id)
            push(now + rng.expovariate(t.calls_per_hour / 3600.0), "arrive", a)
            apply(CallArrived(call_id, a, caller=call_id, vip=rng.random() < t.vip_share), now)
        elif kind == "abandon":
            call = engine.calls.get(a)
            if call is not None and call.state.value in ("waiting", "offered"):
                queue, at = arrived[a]
                waited = now - at
                stats[queue].tally.add_abandoned(
                    waited,
                    engine.queues[queue].sl_threshold_s,
                    short=waited < spec.short_abandon_s,
                )
                apply(CallAbandoned(a), now)
        elif kind == "answer":
            call = engine.calls.get(a)
            if call is None or call.agent_id != b or call.state.value != "offered":
                continue
            queue, at = arrived[a]
            s = stats[queue]
            s.agents.add(b)
            apply(OfferAnswered(a, b), now)
            handle = rng.expovariate(1.0 / traffic[queue].aht_s)
            s.tally.add_answered(now - at, engine.queues[queue].sl_threshold_s, handle)
            push(now + handle, "end", a)
        elif kind == "no_answer":
            apply(OfferFailed(a, b, OfferFailure.NO_ANSWER), now)
            apply(AgentReady(b), now)  # the simulated agent comes back at once
        elif kind == "end":
            apply(CallEnded(a), now)
        elif kind == "timer":
            apply(Tick(), now)
        else:  # the periodic tick: escalations, max waits, preferred-agent timeouts
            apply(Tick(), now)
            if now + spec.tick_s <= end:
                push(now + spec.tick_s, "tick")
    horizon = max(end, now if heap == [] else end)
    for agent_id, since in busy_since.items():
        busy_s[agent_id] += horizon - since
    reports = []
    for q in spec.queues:
        s = stats[q.name]
        tally = s.tally
        staffed = s.agents or set()
        busy = sum(busy_s[a] for a in staffed)
        sl = tally.service_level(spec.sl_variant)
        reports.append(
            QueueReport(
                queue=q.name,
                offered=tally.offered,
                answered=tally.answered,
                abandoned=tally.abandoned,
                short_abandons=tally.short_abandons,
                service_level=round(1.0 if sl is None else sl, 4),  # None: no call missed it
                sl_variant=spec.sl_variant,
                sl_threshold_s=q.sl_threshold_s,
                asa_s=round(tally.asa_s or 0.0, 3),
                occupancy=round(busy / (len(staffed) * horizon), 4) if staffed else 0.0,
                answer_rate=round(tally.answer_rate or 0.0, 4),
            )
        )
    return reports
