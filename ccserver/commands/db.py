"""``ccserver db upgrade``: migrate the event store to the newest schema."""

from __future__ import annotations

import argparse

from ccserver.store import upgrade_database

from .run import load_or_explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("operation", choices=["upgrade"], help="what to do")
    parser.add_argument("--config", help="YAML configuration file (else the environment)")


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args.config)
    if settings is None:
        return 2
    upgrade_database(settings.store.url)
    print("event store is at the newest schema")
    return 0
