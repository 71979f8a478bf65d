"""Shared fixtures: the captures, the simulator, and a throwaway PostgreSQL cluster.

The PostgreSQL cluster is made from the system's server binaries with Debian's
``pg_createcluster`` (initdb refuses to run as root, and this does it as the
postgres user), listens on 127.0.0.1 only, and is dropped after the run.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ccserver.sim import AsteriskSimulator, parse_scenario
from ccserver.store.pgcluster import Cluster, NoPostgres

# the real-Asterisk captures are part of the repository
CAPTURES = Path(__file__).resolve().parent / "data" / "ami-captures"


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


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole test run."""
    try:
        cluster = Cluster.create("ccs_test_")
    except NoPostgres as exc:
        pytest.fail(f"{exc} (scripts/test.sh does)")
    try:
        yield cluster
    finally:
        cluster.drop()


@pytest.fixture(scope="session")
def pg_server(pg_cluster: Cluster) -> tuple[str, int]:
    """Host and port of the session's PostgreSQL cluster."""
    return pg_cluster.host, pg_cluster.port


@pytest.fixture
def pg_url(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh database in the throwaway cluster, as an asyncpg SQLAlchemy URL."""
    return pg_cluster.create_database(f"t_{abs(hash(request.node.nodeid)) % 10**10}")
