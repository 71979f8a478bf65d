"""``ccserver user``: add people, list them, set a password, make a system token.

The password is asked for at the terminal (twice), or read from the first
line of standard input with ``--password-stdin``; it never goes on the
command line, where ``ps`` and the shell's history would show it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, cast

from ccserver.people import LANGUAGES, ROLES, People, UserExists
from ccserver.people.model import Role

from .common import prepare_store, with_store
from .run import load_or_explain

MIN_PASSWORD = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "operation",
        choices=["add", "list", "passwd", "token"],
        help="add a user, list users, set a password, or create a system token",
    )
    parser.add_argument("name", nargs="?", help="the user's name (add, passwd) or the token's")
    parser.add_argument("--role", choices=ROLES, help="add: the user's role; token: its role")
    parser.add_argument("--agent", help="add: the ACD agent id an agent logs in as")
    parser.add_argument("--teams", help="add: a supervisor's queues, comma-separated (default all)")
    parser.add_argument(
        "--language", choices=LANGUAGES, default="zh-CN", help="add: the pages' language"
    )
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    parser.add_argument("--config", help="YAML configuration file (for the store)")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


async def _with_people(url: str, work: Callable[[People], Awaitable[Any]]) -> Any:
    return await with_store(url, lambda engine: work(People(engine)))


def run(args: argparse.Namespace) -> int:
    settings = load_or_explain(args.config)
    if settings is None:
        return 2
    where = f"user {args.operation}"
    if args.operation != "list" and not args.name:
        print(f"{where}: give the name", file=sys.stderr)
        return 2
    if not prepare_store(where, settings.store.url):
        return 1
    url = settings.store.url
    try:
        if args.operation == "list":
            users = asyncio.run(_with_people(url, lambda p: p.users()))
            for u in users:
                extra = u.agent_id or (",".join(u.teams) if u.teams else "")
                state = " (disabled)" if u.disabled else ""
                print(f"{u.name}\t{u.role}\t{extra}\t{u.language}{state}")
            return 0
        if args.operation == "token":
            role = cast(Role, args.role or "admin")
            _, token = asyncio.run(
                _with_people(url, lambda p: p.create_token(args.name, role, "ccserver user"))
            )
            print(token)  # shown this once: only its hash is kept
            return 0
        password = _password(args)
        if args.operation == "passwd":
            if not asyncio.run(_with_people(url, lambda p: p.set_password(args.name, password))):
                print(f"{where}: no user {args.name!r}", file=sys.stderr)
                return 1
            print(f"password of {args.name} set")
            return 0
        if not args.role:
            print(f"{where}: give --role ({', '.join(ROLES)})", file=sys.stderr)
            return 2
        teams = [t.strip() for t in args.teams.split(",") if t.strip()] if args.teams else None
        asyncio.run(
            _with_people(
                url,
                lambda p: p.add_user(
                    args.name, password, args.role,
                    agent_id=args.agent, teams=teams, language=args.language,
                ),
            )
        )  # fmt: skip
    except (ValueError, UserExists) as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.name} added ({args.role})")
    return 0
