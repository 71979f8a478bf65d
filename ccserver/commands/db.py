"""``ccserver db``: migrate the store; load subscriber accounts for the IVR."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys

from ccserver.selfservice.accounts_sql import load_accounts

from .common import prepare_store, shown_url, with_store
from .run import load_or_explain

ACCOUNT_COLUMNS = ("number", "name", "phone", "pin", "balance_cents")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "operation",
        choices=["upgrade", "load-accounts"],
        help="upgrade: migrate the store; load-accounts: load an accounts CSV",
    )
    parser.add_argument("file", nargs="?", help="accounts CSV for load-accounts")
    parser.add_argument(
        "--config",
        help="YAML configuration file; else the environment and the default store "
        "(the one the demo writes)",
    )


def read_accounts_csv(path: str) -> list[dict[str, str]]:
    """The rows of an accounts CSV (number,name,phone,pin,balance_cents,...)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def load_accounts_csv(url: str, path: str) -> int:
    """Load an accounts CSV into the store (PINs hashed on the way in)."""
    rows = read_accounts_csv(path)
    missing = [c for c in ACCOUNT_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return await with_store(url, lambda engine: load_accounts(engine, rows))


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args.config)
    if settings is None:
        return 2
    if not prepare_store(f"db {args.operation}", settings.store.url):
        return 1
    if args.operation == "upgrade":
        print(f"store {shown_url(settings.store.url)} is at the newest schema")
        return 0
    if not args.file:
        print("db load-accounts: give the accounts CSV file", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(load_accounts_csv(settings.store.url, args.file))
    except (OSError, ValueError, KeyError) as exc:
        print(f"db load-accounts: {exc}", file=sys.stderr)
        return 2
    print(f"loaded {count} accounts")
    return 0
