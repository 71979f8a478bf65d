"""``ccserver staffing``: agents needed for a service level (Erlang C)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from acd.erlang import agents_needed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=float, required=True, help="calls offered in the interval")
    parser.add_argument("--interval-minutes", type=float, default=30)
    parser.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    parser.add_argument("--target", type=float, default=80, help="service level target, percent")
    parser.add_argument("--within", type=float, default=20, help="answer threshold, seconds")
    parser.add_argument(
        "--shrinkage", type=float, default=0, help="percent of paid time off phones"
    )
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    for name in ("calls", "aht", "interval_minutes", "within"):
        if not getattr(args, name) > 0:
            print(f"staffing: --{name.replace('_', '-')} must be positive", file=sys.stderr)
            return 2
    if not 0 < args.target < 100 or not 0 <= args.shrinkage < 100:
        print("staffing: --target must be in (0, 100) and --shrinkage in [0, 100)", file=sys.stderr)
        return 2
    s = agents_needed(
        args.calls,
        args.interval_minutes * 60,
        args.aht,
        args.target / 100,
        args.within,
        args.shrinkage / 100,
    )
    result = {
        "agents": s.agents,
        "scheduled_agents": s.scheduled,
        "traffic_erlangs": round(s.traffic_erlangs, 3),
        "service_level": round(s.service_level, 4),
        "asa_s": round(s.asa_s, 2) if math.isfinite(s.asa_s) else None,
        "occupancy": round(s.occupancy, 4),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{s.traffic_erlangs:.2f} Erlangs: {s.agents} agents on the phones "
            f"({s.scheduled} scheduled with {args.shrinkage:g}% shrinkage) give "
            f"{s.service_level:.1%} in {args.within:g} s, ASA {s.asa_s:.1f} s, "
            f"occupancy {s.occupancy:.1%}"
        )
    return 0
