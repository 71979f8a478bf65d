"""``ccserver sim-asterisk``: the Asterisk simulator alone, for any AMI client."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ccserver.logs import setup_logging
from ccserver.sim import (
    AsteriskSimulator,
    Scenario,
    ScenarioError,
    default_scenario,
    link_trunk,
    load_scenario,
)
from ccserver.sim.truth import write_records

from .common import host_port, wait_for_stop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        type=host_port,
        default=("127.0.0.1", 5038),
        metavar="HOST:PORT",
        help="AMI address to listen on (default 127.0.0.1:5038)",
    )
    parser.add_argument("--user", default="ccserver", help="AMI username")
    parser.add_argument("--secret", required=True, help="AMI secret")
    parser.add_argument("--scenario", help="scenario YAML (default: the built-in hotline)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="real seconds per simulated second"
    )
    parser.add_argument(
        "--agi", type=host_port, metavar="HOST:PORT", help="FastAGI server of the IVR"
    )
    parser.add_argument("--no-traffic", action="store_true", help="no scripted callers")
    parser.add_argument(
        "--monitor-dir", help="where MixMonitor writes its WAV files (ccserver's recordings.dir)"
    )
    parser.add_argument(
        "--ground-truth", help="write the callers' record to this JSON file at exit"
    )
    parser.add_argument(
        "--node",
        action="append",
        type=_node,
        metavar="NAME=HOST:PORT",
        help='several Asterisk nodes (repeat; README "Scaling out"): one simulator per '
        "node with systemname NAME, joined by inter-node trunks to_<NAME>; the scenario's "
        "seats register on the nodes in turn; --listen is then not used",
    )


def _node(text: str) -> tuple[str, tuple[str, int]]:
    name, sep, address = text.partition("=")
    if not sep or not name.isidentifier() or "-" in name:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give NAME=HOST:PORT (NAME: letters, digits, _)"
        )
    return name, host_port(address)


def node_scenarios(scenario: Scenario, names: list[str]) -> dict[str, Scenario]:
    """Per node, the scenario with only that node's seats registered (seat i on node i mod n)."""
    out = {}
    for k, name in enumerate(names):
        agents = [
            a.model_copy(update={"registered": a.registered and i % len(names) == k})
            for i, a in enumerate(scenario.agents)
        ]
        out[name] = scenario.model_copy(update={"agents": agents, "seed": scenario.seed + k})
    return out


def run(args: argparse.Namespace) -> int:
    setup_logging("INFO", "text", [args.secret])
    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    except ScenarioError as exc:
        print(f"scenario error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(args, scenario))
    return 0


async def _serve(args: argparse.Namespace, scenario: Scenario) -> None:
    agi_host, agi_port = args.agi or (None, None)
    nodes: list[tuple[str | None, tuple[str, int]]] = list(args.node or [(None, args.listen)])
    names = [name for name, _ in nodes if name is not None]
    scenarios = node_scenarios(scenario, names) if names else {}
    sims: list[AsteriskSimulator] = []
    for k, (name, (host, port)) in enumerate(nodes):
        sims.append(
            AsteriskSimulator(
                scenarios.get(name or "", scenario),
                host=host,
                port=port,
                username=args.user,
                secret=args.secret,
                seed=None if args.seed is None else args.seed + k,
                time_scale=args.time_scale,
                agi_host=agi_host,
                agi_port=agi_port,
                traffic=not args.no_traffic,
                system_name=name,
            )
        )
    if args.monitor_dir:
        for sim in sims:  # where MixMonitor writes (one directory: file names carry the call id)
            sim.monitor_dir = Path(args.monitor_dir)
    for i, a in enumerate(sims):
        for b in sims[i + 1 :]:
            link_trunk(a, b, f"to_{b.system_name}", f"to_{a.system_name}")
    log = logging.getLogger("ccserver.sim")
    try:
        for sim in sims:
            await sim.start()
            node = f"node {sim.system_name}: " if sim.system_name else ""
            log.info("%ssimulated Asterisk listening on %s:%d", node, sim.host, sim.port)
        await wait_for_stop(None)
    finally:
        for sim in sims:
            await sim.stop()
        if args.ground_truth:
            write_records([r for sim in sims for r in sim.records], args.ground_truth)
