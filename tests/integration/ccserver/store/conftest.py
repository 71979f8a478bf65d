"""A PostgreSQL cluster of this folder's own, for tests that stop and restart it.

The session's shared ``pg_server`` must stay up for the other tests, so the
restart test gets a cluster of its own (Debian's ``pg_createcluster``, as in
tests/conftest.py: initdb refuses to run as root). Its name does not start
with ``ccs_test_``, which the shared fixture treats as stale and drops.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ccserver.store.pgcluster import Cluster


@pytest.fixture(scope="module")
def own_cluster(pg_server: tuple[str, int]) -> Iterator[Cluster]:
    """A cluster for this module only, dropped afterwards (even if a test failed).

    Asks for ``pg_server`` first so that the shared cluster exists before this one.
    """
    cluster = Cluster.create("ccs_wtest_")
    try:
        yield cluster
    finally:
        cluster.drop()
