"""``ccserver bench TARGET``: benchmarks that print one JSON object of numbers."""

from __future__ import annotations

import argparse
import importlib
import json

# target -> module offering add_arguments(parser) and measure(args) -> dict
TARGETS = {
    "ami": "ccserver.bench.ami",
    "acd": "ccserver.bench.acd",
    "eventlog": "ccserver.bench.eventlog",
    "reports": "ccserver.bench.reports",
    "soak": "ccserver.bench.soak",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register one sub-parser per benchmark target."""
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, module_name in TARGETS.items():
        module = importlib.import_module(module_name)
        sp = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        sp.add_argument("--json", action="store_true", help="print only the JSON object")
        module.add_arguments(sp)
        sp.set_defaults(_measure=module.measure)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark and print its numbers."""
    result = args._measure(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    return 0
