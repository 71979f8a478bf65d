"""A PostgreSQL cluster of this folder's own, for tests that stop and restart it.

The session's shared ``pg_server`` must stay up for the other tests, so the
restart test gets a cluster of its own (Debian's ``pg_createcluster``, as in
tests/conftest.py: initdb refuses to run as root). Its name does not start
with ``ccs_test_``, which the shared fixture treats as stale and drops.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PREFIX = "ccs_wtest_"


@dataclass
class Cluster:
    """A throwaway cluster that a test may stop and start again."""

    version: str
    name: str
    host: str
    port: int

    def stop(self) -> None:
        """Stop the server the way an administrator would, aborting open sessions."""
        subprocess.run(
            ["pg_ctlcluster", self.version, self.name, "stop", "-m", "fast"],
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        subprocess.run(
            ["pg_ctlcluster", self.version, self.name, "start"], check=True, capture_output=True
        )

    def create_database(self, name: str) -> str:
        """A fresh database; its asyncpg SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drop_orphans() -> None:
    """Drop clusters of this kind left by test runs that died (their pid is gone)."""
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1].startswith(PREFIX):
            pid = parts[1][len(PREFIX) :]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                subprocess.run(["pg_dropcluster", parts[0], parts[1], "--stop"], check=False)


@pytest.fixture(scope="module")
def own_cluster(pg_server: tuple[str, int]) -> Iterator[Cluster]:
    """A cluster for this module only, dropped afterwards (even if a test failed).

    Asks for ``pg_server`` first so that the shared fixture's clean-up of stale
    clusters has run before this one exists.
    """
    versions = sorted(
        (p.name for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin/postgres").exists()),
        key=int,
    )
    _drop_orphans()
    cluster = Cluster(versions[-1], f"{PREFIX}{os.getpid()}", "127.0.0.1", _free_port())
    subprocess.run(
        ["pg_createcluster", cluster.version, cluster.name, "-p", str(cluster.port),
         "--start", "--", "--auth=trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield cluster
    finally:
        subprocess.run(
            ["pg_dropcluster", cluster.version, cluster.name, "--stop"], capture_output=True
        )
