"""An operator's mistakes, each run as a command: one line naming the problem, a prompt exit.

Every case runs the real CLI in a subprocess from a temporary directory (so
nothing lands in the repository's var/) and checks the exit code, that stderr
is exactly one line saying what is wrong and what to do, that no traceback
reaches the user, that the command ends within 10 s and that nothing is left
listening.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import can_bind, run_cli

from ccserver.commands.common import free_port

REPO = Path(__file__).resolve().parents[2]


def unreachable_pg() -> str:
    """A PostgreSQL URL on a port where nothing listens: connection refused at once."""
    return f"postgresql+asyncpg://cc:hunter2@127.0.0.1:{free_port()}/cc"


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr (asserts there is exactly one and no traceback)."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


REFUSED = "cannot reach the database at postgresql+asyncpg://cc:***@127.0.0.1:"


@pytest.mark.parametrize(
    ("store", "code", "expected"),
    [
        ("nonsense", 2, "demo: store.url: 'nonsense' is not a database URL; use sqlite+aiosqlite"),
        ("mysql://nope", 2, "demo: store.url: 'mysql' is not a supported store; use sqlite"),
        ("unreachable", 1, f"demo: store: {REFUSED}"),
    ],
    ids=["nonsense", "mysql", "unreachable-postgresql"],
)
def test_demo_with_a_bad_store(tmp_path: Path, store: str, code: int, expected: str) -> None:
    url = unreachable_pg() if store == "unreachable" else store
    http = free_port()
    proc, took = run_cli("demo", "--store", url, "--http", f"127.0.0.1:{http}", cwd=tmp_path)
    line = one_line(proc)
    assert proc.returncode == code and took < 10
    assert line.startswith(expected), line
    assert "hunter2" not in line
    if store == "unreachable":
        assert line.endswith("connection refused (check --store URL)")
    assert can_bind(http)  # nothing left listening


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["db", "upgrade"], "db upgrade"),
        (["report", "queues", "--from", "2026-11-22", "--to", "2026-11-23"], "report"),
        (["forecast", "plan", "--date", "2026-11-30"], "forecast"),
    ],
    ids=["db-upgrade", "report", "forecast-plan"],
)
def test_an_unreachable_database_is_one_line(tmp_path: Path, args: list[str], prefix: str) -> None:
    proc, took = run_cli(*args, env={"CCSERVER_STORE__URL": unreachable_pg()}, cwd=tmp_path)
    line = one_line(proc)
    assert proc.returncode == 1 and took < 10
    assert line.startswith(f"{prefix}: store: {REFUSED}"), line
    assert line.endswith("connection refused (check store.url)") and "hunter2" not in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "CCSERVER_HTTP__API_TOKENS",
            "tok",
            "config error: http.api_tokens: every API token needs at least 12 characters",
        ),
        (
            "CCSERVER_HTTP__API_TOKENS",
            '["unclosed',
            "config error: environment variable CCSERVER_HTTP__API_TOKENS: not a JSON list",
        ),
        (
            "CCSERVER_NOPE__X",
            "1",
            "config error: environment variable CCSERVER_NOPE__X: no section 'nope' (sections: ami",
        ),
        (
            "CCSERVER_HTTP__PROT",
            "1",
            "config error: environment variable CCSERVER_HTTP__PROT: http has no setting 'prot'",
        ),
    ],
    ids=["short-token", "bad-json-list", "unknown-section", "unknown-key"],
)
def test_a_bad_environment_variable_is_one_line(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    proc, took = run_cli("db", "upgrade", env={variable: value}, cwd=tmp_path)
    line = one_line(proc)
    assert proc.returncode == 2 and took < 10
    assert line.startswith(expected), line
    assert not (tmp_path / "var").exists()  # refused before anything was created


def test_a_fresh_store_is_migrated_by_the_command_that_reads_it(tmp_path: Path) -> None:
    """``report`` on a store nobody migrated: an empty report, not "no such table"."""
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh/cc.db"
    proc, took = run_cli("report", "calls", "--from", "2026-11-22", "--to", "2026-11-23",
        env={"CCSERVER_STORE__URL": url}, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and took < 10, proc.stderr
    body = json.loads(proc.stdout)
    assert body["rows"] == [] and body["report"] == "calls"
    # the missing directory was created, and said so; the empty report names its store
    assert proc.stderr.splitlines() == [
        f"store: created {tmp_path}/fresh for the SQLite database",
        f"report: nothing in that range in {url}",
    ]


def test_version_and_help_text_on_every_option() -> None:
    import argparse

    from ccserver import __version__
    from ccserver.cli import build_parser

    proc = subprocess.run([sys.executable, "-m", "ccserver", "--version"],
                          capture_output=True, text=True, timeout=30, cwd=REPO)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == f"ccserver {__version__}"
    parser = build_parser()
    assert "``" not in parser.format_help()  # no reST markup in the top-level help
    missing: list[str] = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "ccserver")
    assert missing == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--minutes", "-1"], "argument --minutes: must be above zero and finite, got '-1'"),
        (["--rate", "0"], "argument --rate: must be above zero and finite, got '0'"),
        (["--agents", "1.5"], "argument --agents: expected a whole number, got '1.5'"),
        (["--db-outage-s", "nan"], "argument --db-outage-s: must be above zero and finite"),
    ],
)
def test_a_soak_with_a_bad_figure_is_one_line(args: list[str], expected: str) -> None:
    proc, _ = run_cli("bench", "soak", *args)
    assert proc.returncode == 2 and expected in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_a_reports_bench_of_no_days_is_one_line() -> None:
    proc, _ = run_cli("bench", "reports", "--days", "0")
    expected = "argument --days: must be above zero and finite, got '0'"
    assert proc.returncode == 2 and expected in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
