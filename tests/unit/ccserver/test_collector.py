"""The server's garbage collector: start-up objects out of its scans, cycles still collected
(ccserver/collector.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# in a process of its own: freezing is for the rest of a process's life
PROBE = """
import gc, json, weakref
from ccserver.collector import settle_collector

class Part:
    pass

started = [Part() for _ in range(1000)]  # what the start made: models, configuration
settle_collector()
scanned = {id(o) for o in gc.get_objects()}
later = [Part() for _ in range(1000)]  # a call's objects, made while serving
scanned_later = {id(o) for o in gc.get_objects()}

first, second = Part(), Part()  # a cycle made while serving, then dropped
first.other, second.other = second, first
freed = []
weakref.finalize(first, freed.append, True)
del first, second
gc.collect()
print(json.dumps({
    "started_scanned": sum(id(o) in scanned for o in started),
    "later_scanned": sum(id(o) in scanned_later for o in later),
    "cycle_freed": freed == [True],
    "young": gc.get_threshold()[0],
}))
"""


def test_start_up_objects_leave_the_scans_and_later_cycles_are_still_freed() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["started_scanned"] == 0  # frozen: a full collection no longer walks them
    assert seen["later_scanned"] == 1000  # what serving makes is collected as before
    assert seen["cycle_freed"] is True
    assert seen["young"] > 700  # young collections rarer than CPython's default
