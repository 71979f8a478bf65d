"""Python's cyclic garbage collector, tuned for the pauses of a server's event loop.

A collection stops the event loop while it runs. At 50 calls a second
(``bench soak``), with CPython's default thresholds, a full collection came
every 6 s or so and took 100-140 ms: each one held up the callers whose offer
was being decided, and made most of ``hold_to_ring_p99_ms``. Two changes, once
the server has started:

- ``gc.freeze()``: what exists then (modules, models, configuration, about
  120,000-220,000 objects) leaves the collector's scans for good; a full
  collection took 7-40 ms after it. Those objects are still freed by their
  reference counts; only a cycle among them would stay.
- a first generation of 50,000 objects instead of 700: a call's short-lived
  objects die by their reference counts before a collection could promote
  them, so the old generations hardly grow. Over 4 minutes there was no full
  collection; a young one took 15-45 ms every 30-50 s, and the p99 went from
  11.3 to 5.6 ms, the resident size unchanged.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # objects allocated (net) between young collections; CPython's is 700
OLDER = (20, 10)  # young collections per middle one, middle ones per full (CPython: 10, 10)


def settle_collector() -> None:
    """Freeze what the start made, and collect young objects less often."""
    gc.freeze()
    gc.set_threshold(YOUNG, *OLDER)
