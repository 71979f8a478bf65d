"""The simulator as any AMI client sees it: panoramisk, bad input, seeded traffic."""

from __future__ import annotations

import asyncio

from panoramisk import Manager

from ccserver.sim import AsteriskSimulator, parse_scenario


async def test_plain_panoramisk_client_logs_in_and_follows_a_call(sim: AsteriskSimulator) -> None:
    manager = Manager(
        host="127.0.0.1", port=sim.port, username="ccserver", secret="ccsecret", ping_delay=3600
    )
    events: list[str] = []
    manager.register_event("*", lambda _mgr, msg: events.append(msg.event))
    await manager.connect()
    try:
        for _ in range(100):
            if manager.authenticated:
                break
            await asyncio.sleep(0.01)
        assert manager.authenticated
        call = await sim.place_call("5551234", patience=5)
        await asyncio.wait_for(call.done.wait(), 5)
        await asyncio.sleep(0.05)
        assert events[:2] == ["FullyBooted", "SuccessfulAuth"]
        for name in ("Newchannel", "Newstate", "Newexten", "Hangup"):
            assert name in events
        reply = await manager.send_action({"Action": "Ping"})
        assert reply.success and reply.ping == "Pong"
    finally:
        manager.close()


async def test_garbage_input_does_not_hurt_the_simulator(sim: AsteriskSimulator) -> None:
    bad_reader, bad = await asyncio.open_connection("127.0.0.1", sim.port)
    bad.write(b"\xff\xfe\x00garbage without end " + b"A" * 1_000_000)
    bad.write(b"\r\n\r\nAction: Login\r\nUsername: ccserver\r\nSecret: wrong\r\n\r\n")
    reader, good = await asyncio.open_connection("127.0.0.1", sim.port)
    good.write(b"Action: Login\r\nActionID: 1\r\nUsername: ccserver\r\nSecret: ccsecret\r\n\r\n")
    await good.drain()
    data = b""
    async with asyncio.timeout(5):
        while b"Authentication accepted" not in data:
            data += await reader.read(4096)
    assert data.startswith(b"Asterisk Call Manager/11.0.0\r\n")
    # the bad session is refused (wrong secret) and closed; the good one lives on
    async with asyncio.timeout(5):
        while await bad_reader.read(65536):
            pass
    good.write(b"Action: Ping\r\nActionID: 2\r\n\r\n")
    async with asyncio.timeout(5):
        while b"Ping: Pong" not in data:
            data += await reader.read(4096)
    good.close()


async def test_same_seed_same_callers() -> None:
    scenario = parse_scenario(
        {"seed": 11, "callers": {"calls_per_hour": 36000, "max_calls": 25, "patience_mean_s": 5}}
    )
    runs = []
    for _ in range(2):
        simulator = AsteriskSimulator(scenario, time_scale=0.002, traffic=True)
        await simulator.start()
        async with asyncio.timeout(10):
            while len(simulator.ground_truth()) < 25:
                await asyncio.sleep(0.01)
        await simulator.wait_idle(10)
        await simulator.stop()
        runs.append([(r.number, r.outcome) for r in simulator.ground_truth()])
    assert runs[0] == runs[1]
    assert {outcome for _, outcome in runs[0]} == {"abandoned"}  # no agents: everyone gives up


async def test_redirected_caller_reaches_a_registered_agent_only(sim: AsteriskSimulator) -> None:
    """Unregistered softphones cannot ring; a no-answer sends the caller back to hold."""
    call = await sim.place_call("5550003", patience=1000)
    await asyncio.sleep(0.02)
    channel = sim.channels[call.channel]
    sim.goto(channel, "cc-deliver", "1003")  # unregistered
    await asyncio.sleep(0.05)
    assert channel.context == "cc-hold" and channel.variables["DIALSTATUS"] == "CHANUNAVAIL"
    sim.goto(channel, "cc-deliver", "1002")  # never answers
    async with asyncio.timeout(5):
        while channel.variables.get("DIALSTATUS") != "NOANSWER":
            await asyncio.sleep(0.01)
    sim.goto(channel, "cc-deliver", "1001")
    async with asyncio.timeout(5):
        await call.done.wait()
    record = call.record
    assert record.outcome == "answered" and record.agent == "1001"
    assert [a["result"] for a in record.ring_attempts] == ["CHANUNAVAIL", "NOANSWER", "ANSWER"]
