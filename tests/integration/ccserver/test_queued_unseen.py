"""A caller who reaches the queue and hangs up while the AMI link is down.

The caller was followed into the IVR; the link drops; the IVR (FastAGI, its own
TCP) hands them to the queue, the dialplan notes ``CC_QUEUED``, and the caller
gives up before the link is back. The engine never queued them: the resync reads
the line's hangup note and puts the queue entry Asterisk timed on the record, so
the call counts as abandoned in the queue, not as a hang-up in the IVR.
"""

from __future__ import annotations

from support import until

from contracts import eventlog as el

GENERAL = "10"  # English, then 0 at the main menu: the general queue


async def test_a_caller_queued_and_gone_during_a_link_drop_is_on_the_record_as_queued(
    hotline,
) -> None:
    sim, server = hotline.sim, hotline.server
    call = await sim.place_call("5550100009", dtmf=GENERAL, patience=60.0)
    await until(lambda: server.cti.tracker.call(call.linkedid) is not None, 5)
    resyncs = server.cti.resyncs
    sim.set_link(False)
    await until(lambda: call.record.ended_at is not None, 10)
    assert call.record.outcome == "abandoned" and call.record.entered_hold_at is not None
    assert not hotline.events(call.linkedid, el.ACD_QUEUED)  # nothing seen meanwhile
    sim.set_link(True)
    await until(lambda: server.cti.resyncs > resyncs, 5)
    await until(lambda: bool(hotline.events(call.linkedid, el.ACD_QUEUED)), 5)
    [queued] = hotline.events(call.linkedid, el.ACD_QUEUED)
    assert queued.data["queue"] == "general"
    assert abs(queued.data["enqueued_at"] - call.record.entered_hold_at) < 0.002
    assert queued.at == queued.data["enqueued_at"]
