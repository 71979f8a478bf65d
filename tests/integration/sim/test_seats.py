"""Seat truth and link outages: dead softphones, dials to them, and a cut AMI link."""

from __future__ import annotations

import asyncio

from integration.sim.test_captures import Client
from support import until

from ccserver.sim import AsteriskSimulator, CallHandle, parse_scenario

LOGIN = "Action: Login\r\nActionID: l\r\nUsername: ccserver\r\nSecret: ccsecret\r\n\r\n"


async def started(**scenario: object) -> AsteriskSimulator:
    sim = AsteriskSimulator(parse_scenario(scenario), time_scale=0.01)
    await sim.start()
    return sim


async def held(sim: AsteriskSimulator, number: str) -> CallHandle:
    call = await sim.place_call(number, "Caller")
    await until(lambda: call.record.entered_hold_at is not None)
    return call


async def test_dial_to_a_killed_softphone_fails_at_the_transport() -> None:
    """Before the qualify notices: DialBegin, then CHANUNAVAIL after ~0.5 s; caller back to hold."""
    sim = await started(agents=[{"extension": "1001", "qualify_s": 3600}])
    try:
        client = await Client.connect(sim.port)
        client.send(LOGIN)
        await client.response("l")
        sim.kill_softphone("1001")
        handle = await held(sim, "5550001")
        channel = handle.channel
        sim.goto(sim.channels[channel], "cc-deliver", "1001")
        end = await client.until(lambda m: m.event == "DialEnd")
        begin = next(m for m in client.messages if m.event == "DialBegin")
        assert begin["DestChannel"].startswith("PJSIP/1001-")
        assert end["DialStatus"] == "CHANUNAVAIL"
        hung = await client.until(lambda m: m.event == "Hangup")
        assert hung["Channel"] == begin["DestChannel"]
        await until(
            lambda: (
                len(handle.record.ring_attempts) == 1 and sim.channels[channel].context == "cc-hold"
            )
        )
        attempt = handle.record.ring_attempts[0]
        assert (attempt["result"], attempt["seat"]) == ("CHANUNAVAIL", "dead")
        assert sim.seat_status("1001") == "dead"  # still Reachable to Asterisk
        devices = [m for m in client.messages if m.event == "DeviceStateChange"]
        assert devices == []  # nothing said about the seat yet
    finally:
        await sim.stop()


async def test_unreachable_seat_fails_at_once_and_can_register_again() -> None:
    """After the failed qualify a dial makes no PJSIP leg; a new registration brings it back."""
    sim = await started(agents=[{"extension": "1001", "qualify_s": 5, "answer_delay_s": 1}])
    try:
        before = sim.phones["1001"].contact
        assert before is not None
        sim.kill_softphone("1001")
        await until(lambda: sim.seat_status("1001") == "unreachable")
        call = await held(sim, "5550002")
        channel, record = call.channel, call.record
        sim.goto(sim.channels[channel], "cc-deliver", "1001")
        await until(lambda: len(record.ring_attempts) == 1 and "result" in record.ring_attempts[0])
        assert record.ring_attempts[0]["seat"] == "unreachable"
        assert not [c for c in sim.channels if c.startswith("PJSIP/1001-")]
        await until(lambda: sim.channels[channel].context == "cc-hold")
        sim.register("1001")
        assert sim.seat_status("1001") == "registered"
        after = sim.phones["1001"].contact
        assert after is not None and after.uri != before.uri
        sim.goto(sim.channels[channel], "cc-deliver", "1001")
        await until(lambda: record.outcome == "answered")
        assert [a["result"] for a in record.ring_attempts] == ["CHANUNAVAIL", "ANSWER"]
    finally:
        await sim.stop()


async def test_registered_false_seat_says_nothing_at_start() -> None:
    sim = await started(agents=[{"extension": "1001", "registered": False}])
    try:
        client = await Client.connect(sim.port)
        client.send(LOGIN)
        await client.response("l")
        await client.settle(0.05)
        assert [m.event for m in client.messages if m.event] == ["FullyBooted", "SuccessfulAuth"]
        assert sim.seat_status("1001") == "unregistered"
    finally:
        await sim.stop()


async def test_link_down_refuses_ami_while_calls_go_on() -> None:
    """Sessions are cut and new ones closed at once; callers keep arriving, talking, ending."""
    sim = AsteriskSimulator(
        parse_scenario(
            {
                "agents": [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 2}],
                "callers": {"calls_per_hour": 3600, "patience_mean_s": 1000},
            }
        ),
        time_scale=0.005,
        traffic=True,
    )
    await sim.start()
    try:
        client = await Client.connect(sim.port)
        client.send(LOGIN)
        await client.response("l")
        outage = asyncio.create_task(sim.link_down(200))
        async with asyncio.timeout(5):  # the session is cut: read to its end
            while await client.reader.read(65536):
                pass
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        assert await reader.read() == b""  # closed before any banner
        writer.close()
        arrived = len(sim.records)
        call = await held(sim, "5550003")
        channel, record = call.channel, call.record
        sim.goto(sim.channels[channel], "cc-deliver", "1001")
        await until(lambda: record.talk_ended_at is not None)
        assert not outage.done()
        assert len(sim.records) > arrived + 1  # the traffic went on too
        await outage
        again = await Client.connect(sim.port)
        again.send(LOGIN)
        assert (await again.response("l"))["Message"] == "Authentication accepted"
    finally:
        await sim.stop()
