"""The soak benchmark's 60-second version: a busy hotline through every fault at once.

``ccserver bench soak`` (``ccserver/bench/soak.py``) runs two simulated Asterisk nodes at 10 call
arrivals a second to 100 agents, two ``ccserver run`` processes (active and
standby) on a throwaway PostgreSQL cluster, and injects two AMI link drops, a
database outage and a SIGKILL of the active. Every caller's record in ccserver's
event log must match the simulator's ground truth, no agent may be left stuck,
and the standby must take over within 10 s. The full-size run (50 a second, 500
agents, longer) is a benchmark command; its figures are in the README.
"""

from __future__ import annotations

import json

import pytest
from support import run_cli


# a minute of traffic, then the callers' last patience and the killed process's restart:
# about 110 s on a quiet 2-core machine, more beside other jobs
@pytest.mark.timeout(420)
def test_a_minute_of_traffic_through_drops_a_database_outage_and_a_kill() -> None:
    proc, _ = run_cli(
        "bench", "soak", "--json",
        "--minutes", "1", "--rate", "10", "--agents", "100", "--db-outage-s", "10",
        timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print("soak:", result)
    assert result["calls"] >= 400
    assert result["mismatched_records"] == 0, proc.stderr[-3000:]
    assert result["stuck_agents"] == 0, proc.stderr[-3000:]
    assert result["takeover_s"] is not None and result["takeover_s"] < 10
    assert result["hold_to_ring_samples"] > 0 and result["nodes"] == 2
