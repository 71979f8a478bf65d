"""``ccserver staffing``: agents needed for a service level (Erlang C, or Erlang A)."""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from ccserver.config import format_errors
from ccserver.staffing import StaffingQuery, staffing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=float, required=True, help="calls offered in the interval")
    parser.add_argument(
        "--interval-minutes", type=float, default=30, help="interval length (default 30)"
    )
    parser.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    parser.add_argument("--target", type=float, default=80, help="service level target, percent")
    parser.add_argument("--within", type=float, default=20, help="answer threshold, seconds")
    parser.add_argument(
        "--shrinkage", type=float, default=0, help="percent of paid time off phones"
    )
    parser.add_argument(
        "--patience", type=float, help="callers' mean patience in seconds: use Erlang A"
    )
    parser.add_argument("--agents", type=int, help="evaluate this many agents instead")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    fields = ("calls", "interval_minutes", "aht", "target", "within", "shrinkage", "patience",
              "agents")  # fmt: skip
    try:
        query = StaffingQuery(**{f: getattr(args, f) for f in fields})
    except ValidationError as exc:
        text = format_errors(exc, "; ").replace("_", "-")
        print(f"staffing: --{text}", file=sys.stderr)
        return 2
    try:
        result = staffing(query)
    except ValueError as exc:
        print(f"staffing: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    sl, asa = result["service_level"], result["asa_s"]
    line = (
        f"{result['traffic_erlangs']:.2f} Erlangs ({result['model'].replace('_', ' ')}): "
        f"{result['agents']} agents on the phones ({result['scheduled_agents']} scheduled with "
        f"{args.shrinkage:g}% shrinkage) give {sl:.1%} in {args.within:g} s, "
        f"ASA {'n/a' if asa is None else f'{asa:.1f} s'}, occupancy {result['occupancy']:.1%}"
    )
    if result["model"] == "erlang_a":
        # Erlang A's service level counts abandoned calls against it; say so
        line += (
            f", {result['abandon_rate']:.1%} abandon (service level of offered calls;"
            f" {result['service_level_answered']:.1%} of answered ones)"
        )
    print(line)
    return 0
