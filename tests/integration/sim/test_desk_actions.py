"""The AMI actions of the agent desktop on the simulator, as Asterisk 22 answers them.

``PJSIPNotify`` (res/res_pjsip_notify.c) to a remote-control phone holds and resumes
the call with the phone's own Hold / Unhold; to an unknown endpoint it is an Error.
``BlindTransfer``, ``Atxfer``, ``CancelAtxfer`` (main/manager.c) answer with manager.c's
words and raise the events the phones' own transfers raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from integration.sim.listening import ListeningClient, answered_by, logged_in
from support import until

from ccserver.sim import AsteriskSimulator, parse_scenario


@pytest.fixture
async def phones() -> AsyncIterator[tuple[AsteriskSimulator, ListeningClient]]:
    scenario = parse_scenario(
        {
            "agents": [
                {"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 1e6},
                {"extension": "1002", "answer_delay_s": 1, "talk_mean_s": 1e6},
                {"extension": "1003", "talk_mean_s": 1e6, "remote_control": False},
            ]
        }
    )
    sim = AsteriskSimulator(scenario, time_scale=0.01)
    await sim.start()
    try:
        async with logged_in(sim) as client:
            yield sim, client
    finally:
        await sim.stop()


async def test_pjsipnotify_holds_and_resumes_a_remote_control_phone(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    reply = await client.action("PJSIPNotify", ("Endpoint", "1001"), ("Variable", "Event=hold"))
    assert reply.response == "Success" and reply.get("Message") == "NOTIFY sent"
    await until(lambda: bool(client.named("Hold")), 5)
    (hold,) = client.named("Hold")
    assert str(hold.get("Channel")).startswith("PJSIP/1001-")  # who held: the phone's leg
    await sim.sleep(5)
    reply = await client.action("PJSIPNotify", ("Endpoint", "1001"), ("Variable", "Event=talk"))
    assert reply.response == "Success"
    await until(lambda: bool(client.named("Unhold")), 5)
    assert 5 <= call.record.hold_s < 7  # the wait, and the phone's re-INVITE after the NOTIFY

    # Asterisk's refusals, word for word
    reply = await client.action("PJSIPNotify", ("Endpoint", "7777"), ("Variable", "Event=hold"))
    assert reply.response == "Error"
    assert reply.get("Message") == "Unable to retrieve endpoint 7777"
    reply = await client.action("PJSIPNotify", ("Endpoint", "1001"))
    assert reply.response == "Error" and "either an Option or Variable" in str(reply.get("Message"))
    reply = await client.action(
        "PJSIPNotify", ("Endpoint", "1001"), ("URI", "sip:x@y"), ("Variable", "Event=hold")
    )
    assert reply.response == "Error" and "only one of them" in str(reply.get("Message"))


async def test_a_phone_without_remote_control_ignores_the_notify(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    await answered_by(sim, "1003")
    reply = await client.action("PJSIPNotify", ("Endpoint", "1003"), ("Variable", "Event=hold"))
    assert reply.response == "Success"  # Asterisk sent it; the phone does nothing with it
    leg = sim.phones["1003"].channel
    assert leg is not None
    await sim.sleep(5)
    assert leg.held_at is None and client.named("Hold") == []


async def test_blind_transfer_answers_and_events(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    reply = await client.action("BlindTransfer", ("Channel", "PJSIP/nobody-1"), ("Exten", "1"))
    assert reply.get("Message") == "Channel specified does not exist"
    leg = sim.phones["1001"].channel
    assert leg is not None
    reply = await client.action("BlindTransfer", ("Channel", leg.name))
    assert reply.get("Message") == "No extension specified"
    reply = await client.action(
        "BlindTransfer",
        ("Channel", leg.name),
        ("Context", "cc-transfer"),
        ("Exten", "queue-billing"),
    )
    assert reply.response == "Success" and reply.get("Message") == "Transfer succeeded"
    await until(lambda: bool(client.named("BlindTransfer")), 5)
    (moved,) = client.named("BlindTransfer")
    assert moved.get("IsExternal") == "Yes" and moved.get("Extension") == "queue-billing"
    assert moved.get("TransfereeChannel") == call.channel
    # the caller waits again, with a fresh wait start; the agent's leg is gone
    await until(lambda: sim.channels[call.channel].context == "cc-hold", 5)
    assert leg.hungup and sim.phones["1001"].channel is None
    assert sim.channels[call.channel].variables.get("CC_QUEUED")


async def test_atxfer_cancelled_then_completed(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    leg = sim.phones["1001"].channel
    assert leg is not None
    reply = await client.action("CancelAtxfer")
    assert reply.get("Message") == "No channel specified"
    atxfer = (("Channel", leg.name), ("Context", "cc-transfer"), ("Exten", "1002"))
    reply = await client.action("Atxfer", *atxfer)
    assert reply.response == "Success" and reply.get("Message") == "Atxfer successfully queued"
    # the feature holds the transferer (no music class), the Local channel rings 1002
    await until(
        lambda: any(m.get("DialStatus") == "ANSWER" for m in client.named("DialEnd")[1:]), 5
    )
    hold = client.named("Hold")[0]
    assert hold.get("Channel") == leg.name and hold.get("MusicClass") is None
    begin = client.named("DialBegin")[-1]
    assert str(begin.get("Channel")).startswith("Local/1002@cc-transfer-")
    assert begin.get("Linkedid") == call.linkedid
    reply = await client.action("CancelAtxfer", ("Channel", leg.name))
    assert reply.get("Message") == "CancelAtxfer successfully queued"
    await until(lambda: bool(client.named("Unhold")), 5)
    await until(lambda: sim.phones["1002"].channel is None, 5)
    assert leg.held_at is None and not leg.hungup

    # again, and the transferer hangs up: 1002 has the caller
    await client.action("Atxfer", *atxfer)
    answers = lambda: [m for m in client.named("DialEnd") if m.get("DialStatus") == "ANSWER"]  # noqa: E731
    await until(lambda: len(answers()) == 3, 5)
    reply = await client.action("Hangup", ("Channel", leg.name))
    assert reply.response == "Success"
    await until(lambda: bool(client.named("AttendedTransfer")), 5)
    (done,) = client.named("AttendedTransfer")
    assert done.get("OrigTransfererChannel") == leg.name == done.get("SecondTransfererChannel")
    assert done.get("IsExternal") == "No" and done.get("TransfereeChannel") == call.channel
    assert str(done.get("TransferTargetChannel")).startswith("PJSIP/1002-")
    assert leg.hungup and not call.done.is_set() and call.record.agent == "1002"
    assert [t["kind"] for t in call.record.transfers] == ["attended"]
