"""``ccserver sim-asterisk``: the Asterisk simulator alone, for any AMI client."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ccserver.logs import setup_logging
from ccserver.sim import AsteriskSimulator, Scenario, ScenarioError, default_scenario, load_scenario

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
    host, port = args.listen
    agi_host, agi_port = args.agi or (None, None)
    sim = AsteriskSimulator(
        scenario,
        host=host,
        port=port,
        username=args.user,
        secret=args.secret,
        seed=args.seed,
        time_scale=args.time_scale,
        agi_host=agi_host,
        agi_port=agi_port,
        traffic=not args.no_traffic,
    )
    if args.monitor_dir:
        sim.monitor_dir = Path(args.monitor_dir)
    await sim.start()
    logging.getLogger("ccserver.sim").info("simulated Asterisk listening on %s:%d", host, sim.port)
    try:
        await wait_for_stop(None)
    finally:
        await sim.stop()
        if args.ground_truth:
            sim.write_ground_truth(args.ground_truth)
