"""The ccserver command line: one subcommand per job, each in its own module.

Run "ccserver COMMAND --help" for a command's options. A failure is one line
on stderr naming the part and what to do, with a non-zero exit; --debug adds
the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

# name -> (module, one-line help). Each module offers add_arguments(parser) and
# run(args) -> int; modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("ccserver.commands.demo", "run the server against the built-in Asterisk simulator"),
    "run": ("ccserver.commands.run", "run the server against a real Asterisk (production)"),
    "simulate": ("ccserver.commands.simulate", "discrete-event simulation of a roster and routing"),
    "sim-asterisk": ("ccserver.commands.sim_asterisk", "run the Asterisk simulator alone"),
    "staffing": ("ccserver.commands.staffing", "agents needed for a service level (Erlang C/A)"),
    "forecast": ("ccserver.commands.forecast", "monthly call forecast; a day's staffing plan"),
    "db": ("ccserver.commands.db", "database migrations; load subscriber accounts"),
    "user": ("ccserver.commands.user", "add users with a role, list them, passwords, tokens"),
    "report": ("ccserver.commands.report", "KPIs per queue, agent or call (JSON or CSV)"),
    "bench": ("ccserver.commands.bench", "benchmarks that print JSON numbers"),
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ccserver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ccserver {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sp = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sp)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a failure no command explains: still one line, no traceback
        if args.debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"ccserver {args.command}: unexpected error: {type(exc).__name__}: {first} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
