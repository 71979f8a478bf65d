"""Hold, transfers and ChanSpy on the simulator, as an AMI client sees them over TCP.

Each event's headers, in order, are the ones Asterisk 22's source builds (see the
docstring of ``ccserver/sim/features.py`` for the file of each): a channel block is
``ast_manager_build_channel_state_string_prefix`` (main/manager_channels.c), a bridge
block ``ast_manager_build_bridge_state_string_prefix`` (main/manager_bridges.c).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from integration.sim.listening import ListeningClient, answered_by, logged_in
from support import until

from ccserver.sim import AsteriskSimulator, parse_scenario
from cti import events as ev
from cti.wire import AmiMessage

CHANNEL = [
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten",
    "Priority", "Uniqueid", "Linkedid",
]  # fmt: skip
BRIDGE = [
    "BridgeUniqueid", "BridgeType", "BridgeTechnology", "BridgeCreator", "BridgeName",
    "BridgeNumChannels", "BridgeVideoSourceMode",
]  # fmt: skip


def block(prefix: str, names: list[str] = CHANNEL) -> list[str]:
    return [f"{prefix}{n}" for n in names]


@pytest.fixture
async def phones() -> AsyncIterator[tuple[AsteriskSimulator, ListeningClient]]:
    scenario = parse_scenario(
        {
            "agents": [
                {"extension": e, "answer_delay_s": 1, "talk_mean_s": 1e6}
                for e in ("1001", "1002", "1009")
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


def names(msg: AmiMessage) -> list[str]:
    return [k for k, _ in msg.headers]


async def test_hold_and_unhold_as_asterisk_reports_them(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    await sim.hold("1001")
    await sim.sleep(10)
    await sim.unhold("1001")
    await until(lambda: bool(client.named("MusicOnHoldStop")), 5)
    (hold,) = client.named("Hold")
    (unhold,) = client.named("Unhold")
    (moh_start,) = client.named("MusicOnHoldStart")
    (moh_stop,) = client.named("MusicOnHoldStop")
    # channel_hold_cb: the block, then MusicClass (a PJSIP endpoint's moh_suggest)
    assert names(hold) == ["Event", "Privilege", *CHANNEL, "MusicClass"]
    assert hold.get("Privilege") == "call,all" and hold.get("MusicClass") == "default"
    assert names(unhold) == ["Event", "Privilege", *CHANNEL]
    # channel_moh_start_cb: the block, then Class; stop: the block alone
    assert names(moh_start) == ["Event", "Privilege", *CHANNEL, "Class"]
    assert names(moh_stop) == ["Event", "Privilege", *CHANNEL]
    # who held: the agent's channel; who heard the music: the caller's
    assert str(hold.get("Channel")).startswith("PJSIP/1001-")
    assert moh_start.get("Channel") == call.channel == moh_stop.get("Channel")
    assert client.messages.index(hold) < client.messages.index(moh_start)
    assert client.messages.index(unhold) < client.messages.index(moh_stop)
    assert call.record.hold_s == pytest.approx(10, abs=0.5)
    for msg in (hold, unhold):
        typed = ev.type_event(msg)
        assert isinstance(typed, ev.Hold | ev.Unhold)


async def test_blind_transfer_to_an_agent(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    first_leg = sim.phones["1001"].channel
    assert first_leg is not None
    await sim.blind_transfer("1001", "1002")
    await until(lambda: len(call.record.talk_segments) == 2, 5)
    await until(lambda: bool(client.named("BlindTransfer")), 5)
    (xfer,) = client.named("BlindTransfer")
    # blind_transfer_to_ami: Result, Transferer, Transferee, bridge, IsExternal, Context, Extension
    assert names(xfer) == [
        "Event", "Privilege", "Result", *block("Transferer"), *block("Transferee"), *BRIDGE,
        "IsExternal", "Context", "Extension",
    ]  # fmt: skip
    assert xfer.get("Result") == "Success" and xfer.get("IsExternal") == "Yes"
    assert (xfer.get("Context"), xfer.get("Extension")) == ("cc-deliver", "1002")
    assert xfer.get("TransfererChannel") == first_leg.name
    assert xfer.get("TransfereeChannel") == call.channel
    # the caller went to cc-deliver,1002 and was answered there; the first leg hung up
    assert first_leg.hungup and sim.phones["1002"].channel is not None
    assert call.record.agent == "1002" and call.record.transfers[0]["to"] == "1002"
    typed = ev.type_event(xfer)
    assert isinstance(typed, ev.BlindTransfer) and typed.transferee_linkedid == call.linkedid


async def test_blind_transfer_to_the_queue(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    await sim.blind_transfer("1001", "billing")
    await until(lambda: sim.channels[call.channel].context == "cc-hold", 5)
    await until(lambda: bool(client.named("BlindTransfer")), 5)
    (xfer,) = client.named("BlindTransfer")
    assert (xfer.get("Context"), xfer.get("Extension")) == ("cc-hold", "s")
    caller = sim.channels[call.channel]
    assert caller.variables["CC_QUEUE"] == "billing" and caller.bridge is None


async def test_attended_transfer_bridges_the_caller_with_the_target(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    call = await answered_by(sim, "1001")
    await sim.attended_transfer("1001", "1002", consult_s=5)
    await until(lambda: bool(client.named("AttendedTransfer")), 5)
    (xfer,) = client.named("AttendedTransfer")
    # attended_transfer_to_ami: Result, OrigTransferer, Orig bridge, SecondTransferer,
    # Second bridge, Transferee, TransferTarget, IsExternal, DestType, DestBridgeUniqueid
    assert names(xfer) == [
        "Event", "Privilege", "Result", *block("OrigTransferer"), *block("Orig", BRIDGE),
        *block("SecondTransferer"), *block("Second", BRIDGE), *block("Transferee"),
        *block("TransferTarget"), "IsExternal", "DestType", "DestBridgeUniqueid",
    ]  # fmt: skip
    assert xfer.get("DestType") == "Bridge"
    assert xfer.get("DestBridgeUniqueid") == xfer.get("OrigBridgeUniqueid")
    caller = sim.channels[call.channel]
    target = sim.phones["1002"].channel
    assert caller.bridge is not None and target is not None and target.bridge is caller.bridge
    assert xfer.get("TransferTargetChannel") == target.name
    # the consult held the caller (Hold on the first agent's leg) until the swap
    assert call.record.hold_s == pytest.approx(6, abs=0.5)  # 1 s ringing + 5 s consult
    assert sim.phones["1001"].channel is None and call.record.agent == "1002"
    typed = ev.type_event(xfer)
    assert isinstance(typed, ev.AttendedTransfer) and typed.transferee_linkedid == call.linkedid


async def test_chanspy_from_a_supervisors_phone(
    phones: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = phones
    await answered_by(sim, "1001")
    reply = (
        b"Action: Originate\r\nActionID: spy\r\nChannel: PJSIP/1009\r\nApplication: ChanSpy\r\n"
        b"Data: PJSIP/1001,qw\r\nAsync: true\r\n\r\n"
    )
    client.writer.write(reply)
    await until(lambda: bool(client.named("ChanSpyStart")), 5)
    spyer = sim.phones["1009"].channel
    assert spyer is not None
    await sim.hangup_channel(spyer.name)
    await until(lambda: bool(client.named("ChanSpyStop")), 5)
    (start,) = client.named("ChanSpyStart")
    (stop,) = client.named("ChanSpyStop")
    for msg in (start, stop):
        assert names(msg) == ["Event", "Privilege", *block("Spyer"), *block("Spyee")]
        assert str(msg.get("SpyerChannel")).startswith("PJSIP/1009-")
        assert str(msg.get("SpyeeChannel")).startswith("PJSIP/1001-")
    # ChanSpy returns before its channel hangs up
    hangup = next(m for m in client.named("Hangup") if m.get("Channel") == spyer.name)
    assert client.messages.index(stop) < client.messages.index(hangup)
    assert isinstance(ev.type_event(start), ev.ChanSpyStart)


async def test_scripted_holds_are_seeded_and_off_by_default() -> None:
    def scenario(hold_prob: float) -> AsteriskSimulator:
        agent = {"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 30}
        if hold_prob:
            agent |= {"hold_prob": hold_prob, "hold_mean_s": 8}
        return AsteriskSimulator(parse_scenario({"seed": 3, "agents": [agent]}), time_scale=0.005)

    results = []
    for prob in (0.0, 1.0):
        sim = scenario(prob)
        await sim.start()
        try:
            call = await answered_by(sim, "1001")
            await until(call.done.is_set, 10)
        finally:
            await sim.stop()
        results.append(call.record)
    never, always = results
    assert never.hold_s == 0
    assert always.hold_s > 0
    talk = always.talk_s
    assert talk is not None and talk > 0
