"""Throwaway PostgreSQL clusters from the system's server binaries (tests, benchmarks).

Debian's ``pg_createcluster`` makes the cluster as the postgres user (initdb
refuses to run as root), listening on localhost only with trust auth. Cluster
names end in the pid of the process that made them, so a crashed run's
clusters can be told from a live run's and dropped.
"""

from __future__ import annotations

import os
import random
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


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (Linux; else 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nothing uses on 127.0.0.1 now, chosen below the ephemeral range.

    A port the kernel hands out for ``bind(0)`` is an ephemeral one, which it may
    give again at once as the local port of an outgoing connection (to
    PostgreSQL, to the simulator...); the server that meant to listen there then
    finds it taken. Below that range only listeners compete.
    """
    low = _ephemeral_low()
    rng = random.SystemRandom()
    if low > 11000:
        for _ in range(200):
            port = rng.randrange(10000, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
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
