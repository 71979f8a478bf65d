"""The simulator's seats against the PJSIP captures of a real Asterisk 22.

Each test drives over real TCP what pjsip_register, pjsip_dial and
pjsip_unreachable recorded, and compares what the simulator sends with what
Asterisk sent: the same messages in the same order with the same headers in
the same order, and the same values except those that differ on every run
(clocks, contact URIs and ids, round-trip times).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from integration.sim.test_captures import Client, received_messages, recorded

from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts import dialplan as dp
from cti.wire import AmiMessage

# the project's manager.conf read classes: no security events, as in the captures
LOGIN = (
    "Action: Login\r\nActionID: ami1-1\r\nUsername: ccserver\r\nSecret: ccsecret\r\n"
    "Events: system,call,dialplan,user,dtmf,agent,agi\r\n\r\n"
)
PER_RUN = {
    "Timestamp",
    "Uptime",
    "LastReload",
    "URI",
    "Uri",
    "ObjectName",
    "ID",
    "CallId",
    "CallID",
    "ViaPort",
    "ViaAddress",
    "ExpirationTime",
    "RegExpire",
    "Contacts",
    "UserAgent",
    "Password",  # the simulator never shows one
}
SEATS = [{"extension": f"100{i}", "registered": False} for i in range(1, 5)]


def shape(msg: AmiMessage) -> list[tuple[str, str]]:
    """Headers in order; per-run values starred; a round-trip time is only 'a number'."""
    out = []
    for key, value in msg.headers:
        if key in PER_RUN and not (key == "ObjectName" and msg.get("ObjectType") != "contact"):
            value = "*"
        elif key == "RoundtripUsec" and value.isdigit() and value != "0":
            value = "N"
        out.append((key, value))
    return out


def registration(messages: list[AmiMessage]) -> Counter[tuple[tuple[str, str], ...]]:
    """The four registration events, order aside (it varies between real runs)."""
    return Counter(tuple(shape(m)) for m in messages)


async def simulator(**scenario: object) -> AsteriskSimulator:
    sim = AsteriskSimulator(
        parse_scenario({"agents": SEATS, **scenario}), time_scale=0.01, timestamp_events=True
    )
    await sim.start()
    return sim


async def logged_in(sim: AsteriskSimulator) -> Client:
    client = await Client.connect(sim.port)
    client.send(LOGIN)
    await client.until(lambda m: m.event == "FullyBooted")
    return client


async def test_registration_and_lists_match_pjsip_register(captures: Path) -> None:
    """Register, the four list replies, unregister, the lists again: as Asterisk sent them."""
    real = received_messages(recorded(captures, "pjsip_register"), "ami1")
    sim = await simulator()
    try:
        client = await logged_in(sim)
        sim.register("1001")
        await client.until(lambda m: m.get("ContactStatus") == "Reachable")
        for aid, action, last in (
            ("ami1-2", "PJSIPShowContacts", "ContactListComplete"),
            ("ami1-3", "PJSIPShowEndpoint\r\nEndpoint: 1001", "EndpointDetailComplete"),
            ("ami1-4", "PJSIPShowEndpoint\r\nEndpoint: 1002", "EndpointDetailComplete"),
            ("ami1-5", "DeviceStateList", "DeviceStateListComplete"),
            ("ami1-6", "ExtensionStateList", "ExtensionStateListComplete"),
        ):
            client.send(f"Action: {action}\r\nActionID: {aid}\r\n\r\n")
            await client.until(lambda m, a=aid, e=last: m.action_id == a and m.event == e)
        assert sim.seat_status("1001") == "registered"
        sim.unregister("1001")
        await client.until(lambda m: m.get("ContactStatus") == "Removed")
        client.send("Action: PJSIPShowContacts\r\nActionID: ami1-7\r\n\r\n")
        await client.response("ami1-7")
        client.send("Action: DeviceStateList\r\nActionID: ami1-8\r\n\r\n")
        await client.until(
            lambda m: m.event == "DeviceStateListComplete" and m.action_id == "ami1-8"
        )
        client.send("Action: Logoff\r\nActionID: ami1-9\r\n\r\n")
        await client.response("ami1-9")
        assert [shape(m) for m in client.messages] == [shape(m) for m in real]
        assert sim.seat_status("1001") == "unregistered"
    finally:
        await sim.stop()


async def test_no_contacts_error_is_byte_exact() -> None:
    """Asterisk ends this one error message with a stray newline; so does the simulator."""
    sim = await simulator()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        writer.write(LOGIN.encode())
        writer.write(b"Action: PJSIPShowContacts\r\nActionID: ami1-7\r\n\r\n")
        data = b""
        while b"No Contacts" not in data or not data.endswith(b"\r\n\r\n"):
            data += await reader.read(4096)
        assert data.endswith(
            b"Response: Error\r\nActionID: ami1-7\r\nMessage: No Contacts found\n\r\n\r\n"
        )
        writer.close()
    finally:
        await sim.stop()


async def test_endpoint_errors_as_asterisk_22() -> None:
    """An unknown endpoint or none named: res_pjsip's error texts; PJSIP/ prefix accepted."""
    sim = await simulator()
    try:
        client = await logged_in(sim)
        client.send("Action: PJSIPShowEndpoint\r\nActionID: u\r\nEndpoint: 9999\r\n\r\n")
        assert (await client.response("u"))["Message"] == "Unable to retrieve endpoint 9999"
        client.send("Action: PJSIPShowEndpoint\r\nActionID: n\r\n\r\n")
        assert (await client.response("n"))["Message"] == (
            "PJSIPShowEndpoint requires an endpoint name"
        )
        client.send("Action: PJSIPShowEndpoint\r\nActionID: p\r\nEndpoint: PJSIP/1003\r\n\r\n")
        done = await client.until(lambda m: m.event == "EndpointDetailComplete")
        detail = next(m for m in client.messages if m.event == "EndpointDetail")
        assert (detail["ObjectName"], detail["DeviceState"]) == ("1003", "Unavailable")
        assert done["ListItems"] == "3"  # endpoint, auth, aor: no contact
        auth = next(m for m in client.messages if m.event == "AuthDetail")
        assert "pw" not in (auth["Password"] or "")
        client.send("Action: PJSIPShowEndpoints\r\nActionID: l\r\n\r\n")
        end = await client.until(lambda m: m.event == "EndpointListComplete")
        listed = [m["ObjectName"] for m in client.messages if m.event == "EndpointList"]
        assert listed == ["trunk", "1001", "1002", "1003", "1004"]
        assert end["ListItems"] == "5"
    finally:
        await sim.stop()


async def test_killed_softphone_matches_pjsip_unreachable(captures: Path) -> None:
    """Killed without unregistering: silence, then after the qualify Unreachable, as captured."""
    real = received_messages(recorded(captures, "pjsip_unreachable"), "ami1")
    sim = await simulator()
    try:
        client = await logged_in(sim)
        sim.register("1003")
        await client.until(lambda m: m.get("ContactStatus") == "Reachable")
        sim.kill_softphone("1003")
        assert sim.seat_status("1003") == "dead"
        await client.until(lambda m: m.get("ContactStatus") == "Unreachable", timeout=5)
        assert sim.seat_status("1003") == "unreachable"
        client.send("Action: PJSIPShowContacts\r\nActionID: ami1-2\r\n\r\n")
        await client.until(lambda m: m.event == "ContactListComplete")
        client.send("Action: DeviceStateList\r\nActionID: ami1-3\r\n\r\n")
        await client.until(lambda m: m.event == "DeviceStateListComplete")
        client.send("Action: Logoff\r\nActionID: ami1-4\r\n\r\n")
        await client.response("ami1-4")
        got = client.messages
        # login (2 messages), registration (4 events, order varies between real runs), the rest
        assert [shape(m) for m in got[:2]] == [shape(m) for m in real[:2]]
        assert registration(got[2:6]) == registration(real[2:6])
        assert [shape(m) for m in got[6:]] == [shape(m) for m in real[6:]]
        contact = next(m for m in got if m.event == "ContactList")
        assert (contact["Status"], contact["RoundtripUsec"]) == ("Unreachable", "N/A")
    finally:
        await sim.stop()


LEG_SKIPPED_VARS = ("BRIDGEPEER", "BRIDGEPVTCALLID", "RTPAUDIOQOS")  # not modelled, not read
LEG_SKIPPED_EVENTS = {"SoftHangupRequest", "HangupRequest"}
LEG_VALUES = ("ChannelStateDesc", "DestChannelStateDesc", "DialStatus", "State", "Variable")


def agent_leg(messages: list[AmiMessage], leg: str, device: str) -> list[tuple[object, ...]]:
    """The events about the agent's PJSIP leg and device: name, role, headers, state values."""
    out: list[tuple[object, ...]] = []
    for m in messages:
        if m.event is None or m.event in LEG_SKIPPED_EVENTS:
            continue
        own = m.get("Channel") == leg
        if not (own or m.get("DestChannel") == leg or m.get("Device") == device):
            continue
        if m.event == "VarSet" and (m.get("Variable") or "").startswith(LEG_SKIPPED_VARS):
            continue
        if m.event == "Newexten" and m.get("Context") == dp.RECORD_CONTEXT:
            continue  # the project's dialplan notes the answer in AstDB; the capture's had no U()
        keys = tuple(k for k, _ in m.headers)
        # the caller's own state differs by design (the hotline answered it; a Local leg rings)
        values = tuple(m.get(h) for h in LEG_VALUES if own or h != "ChannelStateDesc")
        app = m.get("Application") if m.event == "Newexten" else None
        out.append((m.event, "agent" if own else "caller", keys, values, app))
    return out


async def test_dial_of_a_seat_matches_pjsip_dial(captures: Path) -> None:
    """Dial of a registered seat (answered, then the agent hangs up) and of an unregistered one.

    The caller differs by design (the capture dialled from a Local channel, the
    simulator from the trunk caller in cc-deliver); the agent's PJSIP leg and
    its device match event for event.
    """
    real = received_messages(recorded(captures, "pjsip_dial"), "ami1")
    first = next(i for i, m in enumerate(real) if m.event == "Newchannel")
    last = next(
        i
        for i, m in enumerate(real)
        if i > first and m.get("Device") == "PJSIP/1001" and m["State"] == "NOT_INUSE"
    )
    real_leg = agent_leg(real[first : last + 1], "PJSIP/1001-00000000", "PJSIP/1001")
    assert not any("PJSIP/1002" in (m.get("Channel") or m.get("Device") or "") for m in real)
    sim = await simulator(agents=[{**s, "answer_delay_s": 0.5} for s in SEATS])
    try:
        client = await logged_in(sim)
        sim.register("1001")
        await client.until(lambda m: m.get("ContactStatus") == "Reachable")
        start = len(client.messages)
        call = await sim.place_call("5551234", "Hotline Caller")
        await client.until(lambda m: m.get("Application") == "MusicOnHold")
        sim.goto(sim.channels[call.channel], "cc-deliver", "1001")
        enter = await client.until(
            lambda m: m.event == "BridgeEnter" and m["Channel"] != call.channel
        )
        leg = enter["Channel"]
        client.send(f"Action: Hangup\r\nActionID: ami1-3\r\nChannel: {leg}\r\n\r\n")
        await client.until(lambda m: m.event == "Hangup" and m["Channel"] == leg)
        await client.settle(0.05)
        assert agent_leg(client.messages[start:], leg, "PJSIP/1001") == real_leg

        # 1002 never registered: no PJSIP leg at all, DIALSTATUS=CHANUNAVAIL, back to cc-hold
        start = len(client.messages)
        call2 = await sim.place_call("5551235", "Hotline Caller")

        def on_hold() -> int:
            return sum(
                m.get("Channel") == call2.channel and m.get("Application") == "MusicOnHold"
                for m in client.messages
            )

        await client.until(lambda _: on_hold() == 1)
        sim.goto(sim.channels[call2.channel], "cc-deliver", "1002")
        await client.until(lambda _: on_hold() == 2)  # back in cc-hold
        after = client.messages[start:]
        assert not [
            m for m in after if "PJSIP/1002" in (m.get("Channel") or m.get("DestChannel") or "")
        ]
        assert not [m for m in after if m.event in ("DialBegin", "DialEnd")]
        status = [
            m["Value"] for m in after if m.event == "VarSet" and m["Variable"] == "DIALSTATUS"
        ]
        assert status == ["CHANUNAVAIL"]
        attempt = call2.record.ring_attempts[-1]
        assert (attempt["result"], attempt["seat"]) == ("CHANUNAVAIL", "unregistered")

        # the softphone closes: unregistration as captured (same events; order varies)
        start = len(client.messages)
        sim.unregister("1001")
        await client.until(lambda m: m.get("ContactStatus") == "Removed")
        real_end = [
            m for m in real if m.event in ("PeerStatus", "DeviceStateChange", "ContactStatus")
        ][-3:]
        assert registration(client.messages[start:]) == registration(real_end)
    finally:
        await sim.stop()
