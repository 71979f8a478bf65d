"""``ccserver report queues|agents|calls``: KPIs from the event log, as JSON or CSV."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from acd.config import AcdConfigError
from ccserver.reporting.source import (
    INTERVALS,
    build_report,
    report_body,
    report_request,
    to_csv,
)

from .common import prepare_store, shown_url, sl_thresholds, with_store
from .run import load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind", choices=["queues", "agents", "calls"], help="per queue and interval, agent or call"
    )
    parser.add_argument(
        "--config",
        help="YAML configuration file (store, ACD, reports); else the environment and the "
        "default store, the one the demo writes",
    )
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        help="start: ISO 8601 (in reports.timezone unless it has an offset) or epoch seconds",
    )
    parser.add_argument("--to", dest="end", required=True, help="end (excluded), as --from")
    parser.add_argument(
        "--interval", default="30", choices=list(INTERVALS), help="minutes, or day (default 30)"
    )
    parser.add_argument(
        "--variant",
        choices=["answered_only", "abandons_met", "abandons_against"],
        help="service-level variant (default: reports.service_level_variant)",
    )
    parser.add_argument(
        "--format", choices=["json", "csv"], default="json", help="output (default json)"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args.config)
    if settings is None:
        return 2
    params = {"from": args.start, "to": args.end, "interval": args.interval,
              "variant": args.variant}  # fmt: skip
    try:
        req = report_request(args.kind, params, settings.reports)
        threshold_s = sl_thresholds(settings)
    except (ValueError, AcdConfigError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2

    if not prepare_store("report", settings.store.url):
        return 1

    async def produce() -> list[dict[str, object]]:
        return await with_store(
            settings.store.url, lambda engine: build_report(engine, req, threshold_s)
        )

    rows = asyncio.run(produce())
    if not rows:  # an empty report may be the wrong store: say which one was read
        print(f"report: nothing in that range in {shown_url(settings.store.url)}", file=sys.stderr)
    if args.format == "csv":
        sys.stdout.write(to_csv(rows))
    else:
        print(json.dumps(report_body(req, rows), indent=1))
    return 0
