"""Throwaway PostgreSQL clusters from the system's server binaries (tests, benchmarks).

Debian's ``pg_createcluster`` makes the cluster as the postgres user (initdb
refuses to run as root), listening on localhost only with trust auth. Cluster
names end in the pid of the process that made them, so a crashed run's
clusters can be told from a live run's and dropped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


class NoPostgres(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def server_version() -> str:
    """The newest PostgreSQL major version installed (``/usr/lib/postgresql/N``)."""
    versions = sorted(
        (p.name for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin/postgres").exists()),
        key=int,
    )
    if not versions or shutil.which("pg_createcluster") is None:
        raise NoPostgres("PostgreSQL server binaries missing: apt-get install postgresql")
    return versions[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Cluster:
    """One throwaway cluster: create, stop and start it, make databases, drop it."""

    version: str
    name: str
    port: int
    host: str = "127.0.0.1"

    @classmethod
    def create(cls, prefix: str) -> Cluster:
        """A new running cluster named ``<prefix><pid>``; stale ones of this prefix go first."""
        version = server_version()
        drop_orphans(prefix)
        cluster = cls(version, f"{prefix}{os.getpid()}", free_port())
        subprocess.run(
            # listen_addresses stays at its default, 'localhost': loopback only
            ["pg_createcluster", version, cluster.name, "-p", str(cluster.port), "--start",
             "--", "--auth=trust"],
            check=True, capture_output=True,
        )  # fmt: skip
        return cluster

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", self.version, self.name, *args], check=True, capture_output=True
        )

    def stop(self) -> None:
        """Stop as an administrator would, aborting open sessions."""
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl("start")

    def drop(self) -> None:
        subprocess.run(["pg_dropcluster", self.version, self.name, "--stop"], capture_output=True)

    def create_database(self, name: str) -> str:
        """A fresh (emptied) database; its asyncpg SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{name}"


def drop_orphans(prefix: str) -> None:
    """Drop ``<prefix><pid>`` clusters whose process is gone (a run that died)."""
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1].startswith(prefix):
            pid = parts[1][len(prefix) :]
            if pid.isdigit() and not _pid_alive(int(pid)):
                subprocess.run(
                    ["pg_dropcluster", parts[0], parts[1], "--stop"], capture_output=True
                )
