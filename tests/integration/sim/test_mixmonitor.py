"""MixMonitor on the simulator as an AMI client sees it over TCP (apps/app_mixmonitor.c).

The action's answers (Success, or Error with the source's messages), the
``MIXMONITOR_FILENAME`` VarSet before the response, ``MixMonitorStart`` after it,
``MixMonitorStop`` at the hang-up or ``StopMixMonitor``, and the WAV file written
under the monitor directory.
"""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from integration.sim.listening import ListeningClient, logged_in
from support import until

from ccserver.sim import AsteriskSimulator, parse_scenario

CHANNEL = [
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten",
    "Priority", "Uniqueid", "Linkedid",
]  # fmt: skip


@pytest.fixture
async def sim_client(tmp_path: Path) -> AsyncIterator[tuple[AsteriskSimulator, ListeningClient]]:
    sim = AsteriskSimulator(parse_scenario({"agents": []}), time_scale=0.01)
    sim.monitor_dir = tmp_path / "monitor"
    await sim.start()
    try:
        async with logged_in(sim) as client:
            yield sim, client
    finally:
        await sim.stop()


async def test_mixmonitor_records_until_the_hangup(
    sim_client: tuple[AsteriskSimulator, ListeningClient], tmp_path: Path
) -> None:
    sim, client = sim_client
    call = await sim.place_call("5551234", patience=1000)
    await until(lambda: call.channel in sim.channels)
    reply = await client.action(
        "MixMonitor", Channel=call.channel, File="2026/11/30/c1.wav", Options="b"
    )
    assert reply.response == "Success" and reply.get("MixMonitorID") is None
    path = "/var/spool/asterisk/monitor/2026/11/30/c1.wav"
    varset = next(m for m in client.named("VarSet") if m.get("Variable") == "MIXMONITOR_FILENAME")
    assert varset.get("Value") == path and varset.get("Channel") == call.channel
    # the VarSet comes before the response, the start event after it
    await until(lambda: bool(client.named("MixMonitorStart")))
    (start,) = client.named("MixMonitorStart")
    order = client.messages
    assert order.index(varset) < order.index(reply) < order.index(start)
    assert [k for k, _ in start.headers] == ["Event", "Privilege", *CHANNEL]
    assert start.get("Privilege") == "call,all" and start.get("Channel") == call.channel
    file = tmp_path / "monitor" / "2026" / "11" / "30" / "c1.wav"
    assert file.is_file()  # opened as it starts
    # a second one on the same channel is refused here (the simulator records once)
    again = await client.action("MixMonitor", Channel=call.channel, File="x.wav")
    assert again.response == "Error"

    await sim.sleep(5)
    mon = sim.monitors.get(call.channel)
    assert mon is not None
    recorded_s = sim.now() - mon.started_at
    sim.hangup(sim.channels[call.channel])
    await until(lambda: bool(client.named("MixMonitorStop")), 5)
    stopped_s = sim.now() - mon.started_at
    (stop,) = client.named("MixMonitorStop")
    hangup = next(m for m in client.named("Hangup") if m.get("Channel") == call.channel)
    assert order.index(hangup) < order.index(stop)
    with wave.open(str(file)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        # as long as the call was recorded: from the start to when the file was closed
        assert 5 <= recorded_s <= wav.getnframes() / 8000 <= stopped_s


async def test_mixmonitor_refusals_and_stop(
    sim_client: tuple[AsteriskSimulator, ListeningClient],
) -> None:
    sim, client = sim_client
    for headers, message in (
        ({}, "No channel specified"),
        ({"Channel": "PJSIP/none-00000001", "File": "x.wav"}, "No such channel"),
    ):
        reply = await client.action("MixMonitor", **headers)
        assert (reply.response, reply.get("Message")) == ("Error", message)
    call = await sim.place_call("5551234", patience=1000)
    await until(lambda: call.channel in sim.channels)
    for file in ("", "../../etc/x.wav"):
        reply = await client.action("MixMonitor", Channel=call.channel, File=file)
        assert (reply.response, reply.get("Message")) == (
            "Error", "Could not start monitoring channel"
        )  # fmt: skip
    reply = await client.action("StopMixMonitor", Channel=call.channel)
    assert (reply.response, reply.get("Message")) == ("Error", "Could not stop monitoring channel")
    # the i(VAR) option: the id in the variable and in the response
    reply = await client.action(
        "MixMonitor", Channel=call.channel, File="y.wav", Options="bi(MONID)"
    )
    assert reply.response == "Success" and reply.get("MixMonitorID")
    assert sim.channels[call.channel].variables["MONID"] == reply.get("MixMonitorID")
    reply = await client.action("StopMixMonitor", Channel=call.channel)
    assert reply.response == "Success"
    await until(lambda: bool(client.named("MixMonitorStop")))
    assert call.channel in sim.channels  # stopping the recording does not end the call
    assert sim.monitors.get(call.channel) is None
