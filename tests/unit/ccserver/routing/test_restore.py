"""Closing the calls that ended while no ccserver was listening."""

from __future__ import annotations

import itertools

from ccserver.reporting.calls import ABANDONED, IVR_HANGUP, disposition, fold_call
from ccserver.routing.restore import OpenCall, orphan_endings
from contracts import eventlog as el
from contracts.sink import CallEvent


def closed(call: OpenCall, queued: dict[str, float]) -> str:
    ids = (f"e{n}" for n in itertools.count())
    started = CallEvent("s", call.started_at, call.call_id, el.CALL_STARTED, {"caller": "1"})
    ivr = CallEvent("i", call.started_at + 0.1, call.call_id, el.IVR_STARTED, {"caller": "1"})
    endings = orphan_endings(
        [call], {call.call_id: 150.0}, 200.0, lambda: next(ids), queued, "general"
    )
    rec = fold_call(call.call_id, [started, ivr, *endings])
    return f"{disposition(rec, short_abandon_s=5.0)} {rec.wait_s}"


def test_a_caller_who_reached_the_queue_unseen_is_abandoned_there_with_asterisks_wait() -> None:
    # cut off from the IVR when the active process died, the caller went on to cc-hold
    # and hung up before the new active was listening: the note has CC_QUEUED
    call = OpenCall("100.1", 100.0, None, None)
    assert closed(call, {"100.1": 140.0}) == f"{ABANDONED} 10.0"
    assert closed(call, {}) == f"{IVR_HANGUP} None"


def test_a_caller_the_log_saw_queued_keeps_the_logged_wait_start() -> None:
    call = OpenCall("100.2", 100.0, 120.0, "general")
    ids = (f"e{n}" for n in itertools.count())
    endings = orphan_endings([call], {"100.2": 150.0}, 200.0, lambda: next(ids), {"100.2": 140.0})
    assert [e.kind for e in endings] == [el.CALL_ENDED]
