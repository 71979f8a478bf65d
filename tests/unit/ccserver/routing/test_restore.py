"""Closing the calls that ended while no ccserver was listening."""

from __future__ import annotations

import itertools

from ccserver.reporting.calls import ABANDONED, IVR_HANGUP, OTHER, disposition, fold_call
from ccserver.routing.restore import OpenCall, orphan_endings, unseen_lines
from contracts import eventlog as el
from contracts.sink import CallEvent
from cti.astdb import read_call_notes


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


def test_a_line_that_began_and_ended_unseen_is_on_the_record_from_its_note() -> None:
    # a caller rang while the active process was dead: no IVR (FastAGI unreachable),
    # straight to cc-hold, hung up before the standby took over; only the note is left
    notes = read_call_notes(
        [
            ("/cc/100.1_ended", "130.000/112.500/110.250/13900001234"),  # waited 17.5 s
            ("/cc/100.2_ended", "131.000//111.000/13900005678"),  # hung up before the queue
            ("/cc/100.3_ended", "132.000/120.000/112.000/139"),  # the log has this one
            ("/cc/100.4_ended", "133.000/120.000/50.000/139"),  # older than the lookback
            ("/cc/100.5_ended", "134.000/120.000"),  # an older dialplan's note: no arrival
        ]
    )
    ids = (f"n{n}" for n in itertools.count())
    events = unseen_lines(notes, {"100.3"}.__contains__, 100.0, lambda: next(ids), "general")
    records = {
        cid: fold_call(cid, [e for e in events if e.call_id == cid]) for cid in ("100.1", "100.2")
    }
    assert {e.call_id for e in events} == set(records)
    first, second = records["100.1"], records["100.2"]
    assert (first.arrived_at, first.ended_at, first.caller) == (110.25, 130.0, "13900001234")
    assert (first.queue, first.wait_s, disposition(first, short_abandon_s=5.0)) == (
        "general",
        17.5,
        ABANDONED,
    )
    assert disposition(second, short_abandon_s=5.0) == OTHER  # never reached the IVR either
    assert (second.arrived_at, second.ended_at, second.queue) == (111.0, 131.0, None)
    # the same notes read again (a second process, a replay) give the same events but ids
    again = unseen_lines(notes, {"100.3"}.__contains__, 100.0, lambda: next(ids), "general")
    assert [(e.kind, e.at, e.data) for e in again] == [(e.kind, e.at, e.data) for e in events]
