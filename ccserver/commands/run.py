"""``ccserver run --config FILE``: the production entry point against a real Asterisk."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from ccserver.app import Server
from ccserver.collector import settle_collector
from ccserver.config import ConfigError, Settings, load_config
from ccserver.heap import trimmed_heap
from ccserver.logs import setup_logging
from ccserver.startup import StartupError

from .common import StopSignals

log = logging.getLogger("ccserver")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        help="YAML configuration file (relative paths in it are relative to the file)",
    )


def load_or_explain(path: str | None) -> Settings | None:
    """Load the config, or print what is wrong with it (no traceback)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args.config)
    if settings is None:
        return 2
    secrets = [node.secret.get_secret_value() for node in settings.ami_nodes()]
    secrets += [t.get_secret_value() for t in settings.http.api_tokens]
    setup_logging(settings.log.level, settings.log.format, secrets)
    try:
        return asyncio.run(_serve(settings))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:  # what started is stopped again: one line, no traceback
        print(f"ccserver: {exc}", file=sys.stderr)
        return 1


async def _serve(settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM (also during start-up); 0 for a requested stop."""
    with StopSignals() as stop:
        try:
            # a server runs for months: its heap must not creep (ccserver/heap.py)
            async with trimmed_heap(), Server(settings):
                stop.started()
                settle_collector()  # short pauses for months of calls (ccserver/collector.py)
                await stop.wait()
        except asyncio.CancelledError:
            if not stop.stopped_by_signal():
                raise
    log.info("stopped")
    return 0
