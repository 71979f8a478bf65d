"""``ccserver simulate``: try a roster or a routing change on a virtual clock."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from acd.config import AcdConfigError, load_simulation
from acd.simulation import simulate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, help="simulation scenario YAML")
    parser.add_argument(
        "--report", choices=["text", "json"], default="text", help="output (default text)"
    )
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--hours", type=float, help="override the simulated hours")


def run(args: argparse.Namespace) -> int:
    try:
        model = load_simulation(args.scenario)
    except AcdConfigError as exc:
        print(f"scenario error: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None:
        model.seed = args.seed
    if args.hours is not None:
        model.hours = args.hours
    started = time.perf_counter()
    reports = simulate(model.build())
    elapsed = time.perf_counter() - started
    if args.report == "json":
        print(
            json.dumps(
                {
                    "hours": model.hours,
                    "seed": model.seed,
                    "queues": {r.queue: asdict(r) for r in reports},
                }
            )
        )
        return 0
    print(
        f"{model.hours:g} simulated hours in {elapsed:.1f} s (seed {model.seed}); "
        f"service level: {model.sl_variant}"
    )
    heads = ("offered", 8), ("answered", 9), ("abandoned", 10), ("SL", 7), ("ASA s", 8), ("occ", 6)
    print(f"{'queue':<12}" + "".join(f"{h:>{w}}" for h, w in heads))
    for r in reports:
        print(
            f"{r.queue:<12}{r.offered:>8}{r.answered:>9}{r.abandoned:>10}"
            f"{r.service_level:>7.1%}{r.asa_s:>8.1f}{r.occupancy:>6.0%}"
        )
    return 0
