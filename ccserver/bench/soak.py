"""Soak: a busy hotline for minutes, two ccservers on one PostgreSQL, faults injected.

The simulator plays ``--nodes`` Asterisk servers (systemname A, B...) in this
process, on real time, over real TCP: callers arrive at ``--rate`` a second
(Poisson, spread over the nodes), go through the IVR to the general queue and
wait with an exponential patience; ``--agents`` softphones, each registered on
one node, answer and talk.
Two ``ccserver run`` processes (``ha.enabled``) share a throwaway PostgreSQL
cluster: ``alpha`` starts first and is active, ``beta`` stands by. Injected, at
fixed shares of the run: two AMI link drops (the last node, then the first), a
database outage (the cluster
stopped for ``--db-outage-s``, capped at a quarter of the run), and a SIGKILL of
the active process. After the last caller is gone, the killed process is started
again (its spool holds what it had not written when it died, as a service
manager would restart it) and both stop cleanly. The database outage does not
stop routing: the active keeps the floor on Asterisk's word (``fence.py``).

Printed, from ccserver's own event log in PostgreSQL against the simulator's
ground truth (``ccserver.sim.truth.mismatches``, 0.25 s tolerance on waits and
talk): ``calls``, ``mismatched_records`` (goal 0), ``stuck_agents`` (an agent
still on a call, offered or logged out when every line is idle; goal 0),
``takeover_s`` (SIGKILL to the standby active and connected; goal < 10),
``rss_mb_start/middle/end`` (the active process at 10 %, 45 % and 75 % of the
run, before the kill: flat; ``rss_of`` names the process of each sample, as the
outage may move the role), ``hold_to_ring_p99_ms`` (caller entering ``cc-hold`` to the
agent's phone ringing, for calls offered in the decision that queued them, i.e.
an agent was free, outside the fault windows; goal < 20), and of it
``hold_to_offer_p99_ms``, up to ccserver's decision (the rest is the Redirect's way
to Asterisk and the Dial).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contracts import eventlog as el

from ..collector import settle_collector
from ..commands.common import positive
from ..reporting.projector import row_event
from ..reporting.source import load_records
from ..sim import AsteriskSimulator, CallHandle, parse_scenario
from ..sim.truth import mismatches
from ..store.pgcluster import Cluster, NoPostgres, free_port
from ..store.schema import call_events
from .process import REPO, CcserverProcess

TOKEN = "soak-bench-token"
GENERAL = "10"  # the example IVR: English, then 0 at the main menu: the general queue
TOLERANCE_S = 0.25
SKILLS = ("general", "lang_en", "lang_zh")  # what the example IVR's queue callers need
log = logging.getLogger("ccserver.bench.soak")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--minutes", type=positive(float), default=10.0, help="how long callers arrive"
    )
    parser.add_argument(
        "--rate", type=positive(float), default=50.0, help="call arrivals per second"
    )
    parser.add_argument("--agents", type=positive(int), default=500, help="agents' softphones")
    parser.add_argument(
        "--nodes", type=int, default=2, choices=range(1, 9), help="Asterisk nodes (simulated)"
    )
    parser.add_argument(
        "--db-outage-s",
        type=positive(float),
        default=60.0,
        help="the database outage (≤ a quarter run)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same run)")
    parser.add_argument("--keep", help="keep the configs and logs in this directory")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    try:
        cluster = Cluster.create("ccs_soak_")
    except NoPostgres as exc:
        raise SystemExit(str(exc)) from None
    if args.keep:  # the cluster too, to look into afterwards
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        print(f"the cluster stays: {cluster.create_database('soak')}", file=sys.stderr)
        return asyncio.run(Soak(args, cluster, Path(args.keep)).run())
    try:
        with tempfile.TemporaryDirectory(prefix="ccs-soak-") as tmp:
            return asyncio.run(Soak(args, cluster, Path(tmp)).run())
    finally:
        cluster.drop()


def _p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class Soak:
    """One soak run: the simulator, two processes, the faults, the checks."""

    def __init__(self, args: argparse.Namespace, cluster: Cluster, work: Path) -> None:
        self.args, self.cluster, self.work = args, cluster, work
        self.seconds = args.minutes * 60
        self.rng = random.Random(args.seed)
        self.extensions = {f"a{i:04d}": str(20000 + i) for i in range(args.agents)}
        # talk so that agents are busy about 70 % of the time (1 s wrap-up, 0.3 s to answer)
        self.talk_s = max(1.0, 0.7 * args.agents / args.rate - 1.3)
        self.handles: list[CallHandle] = []
        self.faults: list[tuple[float, float]] = []  # (start, end) in simulator time
        self.rss: dict[str, float] = {}
        self.rss_of: list[str] = []  # which process each RSS sample was taken of
        self.takeover_s: float | None = None
        self.sims: list[AsteriskSimulator] = []

    async def run(self) -> dict[str, Any]:
        url = self.cluster.create_database("soak")
        agi_port = free_port()
        seats = [
            {"extension": e, "answer_delay_s": 0.3, "talk_mean_s": self.talk_s}
            for e in self.extensions.values()
        ]
        names = [chr(ord("A") + i) for i in range(self.args.nodes)]
        for i, node in enumerate(names):
            # every seat is configured on every node; each softphone registers on one
            here = [dict(s, registered=n % len(names) == i) for n, s in enumerate(seats)]
            scenario = {"agents": here, "ring_timeout_s": 10, "seed": self.args.seed + i}
            sim = AsteriskSimulator(
                parse_scenario(scenario),
                time_scale=1.0,
                agi_host="127.0.0.1",
                agi_port=agi_port,
                timestamp_events=True,
                system_name=node if len(names) > 1 else "",
            )
            await sim.start()
            if self.sims:  # one clock for every node, as NTP keeps real ones
                sim._epoch0, sim._loop_t0 = self.sims[0]._epoch0, self.sims[0]._loop_t0
            self.sims.append(sim)
        config = self._write_config(url, dict(zip(names, self.sims, strict=True)), agi_port)
        alpha = CcserverProcess(config, self.work / "alpha.log", TOKEN, "alpha")
        beta = CcserverProcess(config, self.work / "beta.log", TOKEN, "beta")
        started = time.monotonic()
        try:
            await alpha.start()
            await alpha.until_healthy("active", 60)
            await beta.start()
            await beta.until_healthy("standby", 60)
            await self._until_staffed(alpha)
            # the simulated Asterisk runs in this process: its collector's pauses, like the
            # server's, would show in every call's timings (Asterisk itself has none)
            settle_collector()
            await asyncio.gather(self._traffic(), self._faults(alpha, beta))
            # the last callers finish; then every agent must be free again
            await self._until_idle(timeout=max(120.0, 4 * self.talk_s))
            await self.survivor.until_written(120)
            await asyncio.sleep(2.0)  # the last wrap-ups (1 s) end
            agents = await self.survivor.agents()
            await self.survivor.stop()
            # the killed process comes back (as a service manager restarts it): its
            # spool holds what it had not written when it died
            await self.killed.start()
            await self.killed.until_healthy("active", 60)
            await self.killed.until_written(120)
            await self.killed.stop()
        finally:
            for process in (alpha, beta):
                with contextlib.suppress(Exception):
                    await process.stop()
            for sim in self.sims:
                await sim.stop()
        return await self._results(url, agents, time.monotonic() - started)

    def now(self) -> float:
        """The simulators' clock (one for every node)."""
        return self.sims[0].now()

    def _write_config(self, url: str, nodes: dict[str, AsteriskSimulator], agi_port: int) -> Path:
        acd = self.work / "acd.yaml"
        acd.write_text(
            yaml.safe_dump(
                {
                    "default_queue": "general",
                    # the example IVR's queues; callers choose the general one
                    "queues": [
                        {"name": q, "skills": {}, "wrap_up_s": 1, "ring_timeout_s": 8}
                        for q in ("general", "billing", "faults")
                    ],
                    "agents": [
                        {"id": a, "endpoint": e, "skills": dict.fromkeys(SKILLS, 5)}
                        for a, e in self.extensions.items()
                    ],
                }
            )
        )
        config = self.work / "ccserver.yaml"
        settings = {
            "ami": [
                {
                    "name": name,
                    "port": sim.port,
                    "secret": "ccsecret",
                    "backoff_min_s": 0.05,
                    "backoff_max_s": 0.5,
                }
                for name, sim in nodes.items()
            ],
            "http": {"host": "127.0.0.1", "api_tokens": [TOKEN]},
            "store": {"url": url, "spool_dir": str(self.work / "spool"), "flush_interval_s": 0.05},
            "acd": {"config": str(acd), "tick_s": 0.05, "auto_ready": True},
            "ivr": {"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port},
            "ha": {"enabled": True},
            "log": {"level": "WARNING"},
        }
        config.write_text(yaml.safe_dump(settings))
        return config

    async def _until_staffed(self, active: CcserverProcess) -> None:
        async with asyncio.timeout(60):
            while True:
                agents = (await active.agents()).values()
                if sum(a["routable"] for a in agents) == len(self.extensions):
                    return
                await asyncio.sleep(0.2)

    async def _traffic(self) -> None:
        """Poisson arrivals for the run, each through the IVR to the general queue."""
        end = self.now() + self.seconds
        n = 0
        while self.now() < end:
            patience = self.rng.expovariate(1 / 60.0) + 2.0
            node = self.sims[n % len(self.sims)]  # the trunks spread callers over the nodes
            self.handles.append(
                await node.place_call(f"1390{n:07d}", f"S{n}", GENERAL, patience=patience)
            )
            n += 1
            await asyncio.sleep(self.rng.expovariate(self.args.rate))

    async def _at(self, share: float, t0: float) -> None:
        await asyncio.sleep(max(0.0, t0 + share * self.seconds - time.monotonic()))

    async def _faults(self, alpha: CcserverProcess, beta: CcserverProcess) -> None:
        t0 = time.monotonic()
        outage = min(self.args.db_outage_s, self.seconds / 4)
        await self._at(0.10, t0)
        self._sample_rss("start", (await self._roles(alpha, beta))[0])
        await self._at(0.15, t0)
        await self._link_drop(self.sims[-1], 2.0)
        await self._at(0.25, t0)
        began = self.now()
        await asyncio.to_thread(self.cluster.stop)
        await asyncio.sleep(outage)
        await asyncio.to_thread(self.cluster.start)
        # the active steps down while the database is away; it (or the standby) takes the
        # lock again when it is back: the fault lasts until one of them is active again
        await self._until_active(alpha, beta)
        self.faults.append((began, self.now() + 2.0))
        await self._at(0.45, t0)
        self._sample_rss("middle", (await self._roles(alpha, beta))[0])
        await self._at(0.55, t0)
        await self._link_drop(self.sims[0], 2.0)
        await self._at(0.75, t0)
        self._sample_rss("end", (await self._roles(alpha, beta))[0])
        # the kill: whichever process is active now dies; the other must take over
        active, standby = await self._roles(alpha, beta)
        began, killed = self.now(), time.monotonic()
        await active.kill()
        await standby.until_healthy("active", 60)
        self.takeover_s = time.monotonic() - killed
        self.faults.append((began, self.now() + 2.0))
        self.killed, self.survivor = active, standby

    def _sample_rss(self, moment: str, active: CcserverProcess) -> None:
        self.rss[moment] = active.rss_mb()
        self.rss_of.append(active.name)  # the role may have moved (the outage, the kill)

    async def _link_drop(self, node: AsteriskSimulator, seconds: float) -> None:
        began = self.now()
        await node.link_down(seconds)
        self.faults.append((began, self.now() + 2.0))

    async def _roles(
        self, alpha: CcserverProcess, beta: CcserverProcess
    ) -> tuple[CcserverProcess, CcserverProcess]:
        body = (await alpha.health())[1]
        return (alpha, beta) if body.get("role") == "active" else (beta, alpha)

    async def _until_active(self, alpha: CcserverProcess, beta: CcserverProcess) -> None:
        try:
            async with asyncio.timeout(60):
                while True:
                    for process in (alpha, beta):
                        status, body = await process.health()
                        if status == 200 and body.get("role") == "active":
                            return
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise TimeoutError(
                f"neither process active within 60 s of the database's return; see {alpha.log}"
                f" and {beta.log}"
            ) from None

    async def _until_idle(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                while any(h.record.ended_at is None for h in self.handles):
                    await asyncio.sleep(0.2)
        except TimeoutError:
            left = [h.record for h in self.handles if h.record.ended_at is None]
            for rec in left[:5]:
                print(f"still on the line: {rec}", file=sys.stderr)
            raise SystemExit(
                f"{len(left)} callers still on the line {timeout:.0f} s after the run"
            ) from None

    async def _results(
        self, url: str, agents: dict[str, dict[str, Any]], wall_s: float
    ) -> dict[str, Any]:
        first = min(h.record.arrived_at for h in self.handles) - 60
        last = max(h.record.ended_at or 0 for h in self.handles) + 60
        engine = create_async_engine(url)
        try:
            records, _ = await load_records(engine, first, last, 5.0)
            queued_at, offered_at = await _decisions(engine)
        finally:
            await engine.dispose()
        by_call = {r.call_id: r for r in records}
        agent_of = {e: a for a, e in self.extensions.items()}
        wrong = 0
        for h in self.handles:
            if h.record.outcome not in ("answered", "abandoned"):
                continue  # left in the IVR: not a queue call
            found = mismatches(h.record, by_call.get(h.linkedid), agent_of, TOLERANCE_S)
            if found:
                wrong += 1
                if wrong <= 5:
                    print(f"mismatch {h.linkedid}: {found}", file=sys.stderr)
                with (self.work / "mismatches.txt").open("a") as out:
                    out.write(f"{h.linkedid} {found} {h.record}\n")
        stuck = [
            a["id"]
            for a in agents.values()
            if a["call_id"] is not None or a["state"] not in ("available", "wrap_up")
        ]
        if stuck:
            print(f"stuck agents: {stuck[:10]}", file=sys.stderr)
        hold_to_ring, hold_to_offer, samples = [], [], []
        for h in self.handles:
            rec = h.record
            if rec.entered_hold_at is None or not rec.ring_attempts:
                continue
            if any(a <= rec.entered_hold_at <= b for a, b in self.faults):
                continue
            # an agent was free: the decision that queued the call also offered it
            offered = offered_at.get(h.linkedid)
            if h.linkedid in queued_at and queued_at[h.linkedid] == offered:
                hold_to_ring.append(rec.ring_attempts[0]["at"] - rec.entered_hold_at)
                # the share up to ccserver's decision (its clock: the same host's)
                hold_to_offer.append(offered - rec.entered_hold_at)
                samples.append(
                    f"{rec.entered_hold_at:.3f},{hold_to_ring[-1]:.4f},{hold_to_offer[-1]:.4f}\n"
                )
        # each sample by when the caller came (--keep): a slow moment is found in the logs
        (self.work / "hold_to_ring.csv").write_text(
            "entered_hold_at,ring_s,offer_s\n" + "".join(samples)
        )
        p99 = _p99(hold_to_ring)
        offer_p99 = _p99(hold_to_offer)
        outcomes = [h.record.outcome for h in self.handles]
        return {
            "calls": len(self.handles),
            "answered": outcomes.count("answered"),
            "abandoned": outcomes.count("abandoned"),
            "agents": len(self.extensions),
            "nodes": len(self.sims),
            "rate_per_s": self.args.rate,
            "mismatched_records": wrong,
            "stuck_agents": len(stuck),
            "takeover_s": None if self.takeover_s is None else round(self.takeover_s, 2),
            "rss_mb_start": round(self.rss.get("start", 0.0), 1),
            "rss_mb_middle": round(self.rss.get("middle", 0.0), 1),
            "rss_mb_end": round(self.rss.get("end", 0.0), 1),
            "rss_of": "/".join(self.rss_of),
            "hold_to_ring_p99_ms": None if p99 is None else round(p99 * 1000, 1),
            "hold_to_ring_samples": len(hold_to_ring),
            "hold_to_offer_p99_ms": None if offer_p99 is None else round(offer_p99 * 1000, 1),
            "wall_s": round(wall_s, 1),
        }


async def _decisions(engine: AsyncEngine) -> tuple[dict[str, float], dict[str, float]]:
    """Per call, when the ACD first queued it and first offered it (the decision's time)."""
    queued: dict[str, float] = {}
    offered: dict[str, float] = {}
    query = (
        select(call_events)
        .where(call_events.c.kind.in_([el.ACD_QUEUED, el.ACD_OFFER]))
        .order_by(call_events.c.seq)
    )
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            event = row_event(row)
            target = queued if event.kind == el.ACD_QUEUED else offered
            target[event.call_id] = min(event.at, target.get(event.call_id, event.at))
    return queued, offered
