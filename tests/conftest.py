"""Shared fixtures: the captures, the simulator, and a throwaway PostgreSQL cluster.

The PostgreSQL cluster is made from the system's server binaries with Debian's
``pg_createcluster`` (initdb refuses to run as root, and this does it as the
postgres user), listens on 127.0.0.1 only, and is dropped after the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ccserver.commands.common import free_port
from ccserver.sim import AsteriskSimulator, parse_scenario

CAPTURES = Path(__file__).resolve().parents[1].parent / "shared" / "ami-captures"
if not CAPTURES.is_dir():  # CI clones beside shared/; a developer may point elsewhere
    CAPTURES = Path(os.environ.get("CCSERVER_CAPTURES", "/work/shared/ami-captures"))


@pytest.fixture(scope="session")
def captures() -> Path:
    """The folder of real-Asterisk captures."""
    assert CAPTURES.is_dir(), f"AMI captures not found at {CAPTURES}"
    return CAPTURES


@pytest.fixture
async def sim() -> AsyncIterator[AsteriskSimulator]:
    """A simulator with three agents, fast time, no background traffic."""
    scenario = parse_scenario(
        {
            "agents": [
                {"extension": "1001", "answer_delay_s": 2, "talk_mean_s": 10},
                {"extension": "1002", "answer_delay_s": 2, "talk_mean_s": 10, "no_answer_prob": 1},
                {"extension": "1003", "registered": False},
            ]
        }
    )
    simulator = AsteriskSimulator(scenario, time_scale=0.01)
    await simulator.start()
    yield simulator
    await simulator.stop()


def _pg_version() -> str | None:
    base = Path("/usr/lib/postgresql")
    versions = sorted(
        (p.name for p in base.glob("*") if (p / "bin" / "postgres").exists()), key=int
    )
    return versions[-1] if versions else None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[str, int]]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole test run."""
    version = _pg_version()
    if version is None or shutil.which("pg_createcluster") is None:
        pytest.fail(
            "PostgreSQL server binaries missing: apt-get install postgresql (scripts/test.sh does)"
        )
    for line in subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True
    ).stdout.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1].startswith("ccs_test_"):
            subprocess.run(["pg_dropcluster", parts[0], parts[1], "--stop"], capture_output=True)
    name, port = f"ccs_test_{os.getpid()}", free_port()
    subprocess.run(
        # listen_addresses stays at its default, 'localhost': loopback only
        ["pg_createcluster", version, name, "-p", str(port), "--start", "--", "--auth=trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield "127.0.0.1", port
    finally:
        subprocess.run(["pg_dropcluster", version, name, "--stop"], capture_output=True)


@pytest.fixture
def pg_url(pg_server: tuple[str, int], request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database in the throwaway cluster, as an asyncpg SQLAlchemy URL."""
    import psycopg

    host, port = pg_server
    db = f"t_{abs(hash(request.node.nodeid)) % 10**10}"
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as c:
        c.execute(f"DROP DATABASE IF EXISTS {db}")
        c.execute(f"CREATE DATABASE {db}")
    yield f"postgresql+asyncpg://postgres@{host}:{port}/{db}"
