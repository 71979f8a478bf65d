"""``ccserver report queues|agents|calls``: KPIs from the event log, as JSON or CSV."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from acd.config import AcdConfigError
from ccserver.reporting.source import INTERVALS, build_report, report_request, to_csv

from .common import sl_thresholds
from .run import load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["queues", "agents", "calls"])
    parser.add_argument("--config", help="YAML configuration file (store, ACD, reports)")
    parser.add_argument("--from", dest="start", required=True, help="ISO 8601 or epoch")
    parser.add_argument("--to", dest="end", required=True, help="ISO 8601 or epoch")
    parser.add_argument("--interval", default="30", choices=list(INTERVALS))
    parser.add_argument("--variant", choices=["answered_only", "abandons_met", "abandons_against"])
    parser.add_argument("--format", choices=["json", "csv"], default="json")


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

    async def produce() -> list[dict[str, object]]:
        engine = create_async_engine(settings.store.url)
        try:
            return await build_report(engine, req, threshold_s)
        finally:
            await engine.dispose()

    rows = asyncio.run(produce())
    if args.format == "csv":
        sys.stdout.write(to_csv(rows))
    else:
        print(json.dumps({"report": req.kind, "service_level_variant": req.variant,
                          "rows": rows}, indent=1))  # fmt: skip
    return 0
