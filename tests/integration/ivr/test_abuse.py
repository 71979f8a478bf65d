"""FastAGI abuse: strangers, forged sessions, PIN brute force, premium-rate callbacks, surveys.

Each test reproduces a case of issue 14's probe against the real FastAGI
listener (the hotline fixture: simulator, AMI, ccserver) over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

import aiohttp
import pytest
from support import until

from ivr.agi import AgiServer, AgiSession

PIN_LIMIT = 20


async def forge(port: int, script: str, channel: str, uniqueid: str, caller: str) -> list[str]:
    """A FastAGI client that is not Asterisk: it claims a call and answers every command."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"agi_network: yes\nagi_network_script: {script}\nagi_channel: {channel}\n"
        f"agi_uniqueid: {uniqueid}\nagi_callerid: {caller}\n\n".encode()
    )
    await writer.drain()
    commands = []
    try:
        async with asyncio.timeout(10):
            while line := await reader.readline():
                commands.append(line.decode().strip())
                # "1" to everything: a key for every prompt, a value for every variable
                writer.write(b"200 result=1 (1)\n")
                await writer.drain()
    except ConnectionResetError:
        pass  # refused: closed without reading what we sent
    writer.close()
    return commands


async def test_host_outside_the_allow_list_is_refused() -> None:
    served: list[str] = []

    async def handler(session: AgiSession) -> None:
        served.append(session.channel)

    server = AgiServer({"ivr": handler}, "127.0.0.1", 0, allow=[ipaddress.ip_network("10.0.0.0/8")])
    await server.start()
    try:
        commands = await forge(server.port, "ivr", "PJSIP/trunk-1", "1.1", "5550100001")
    finally:
        await server.stop()
    assert commands == [] and served == []
    assert server.refused == {"not_allowed": 1}
    assert server.sessions_total == 0


async def test_wrong_or_missing_secret_is_refused_and_the_right_one_served() -> None:
    served: list[str] = []

    async def handler(session: AgiSession) -> None:
        served.append(session.channel)
        await session.command("NOOP")

    secret = "s3cret-s3cret-s3cret"
    server = AgiServer({"ivr": handler}, "127.0.0.1", 0, secret=secret)
    await server.start()
    try:
        assert await forge(server.port, "ivr", "PJSIP/a-1", "1.1", "1") == []
        assert await forge(server.port, "guess/ivr", "PJSIP/a-2", "1.2", "1") == []
        assert await forge(server.port, f"{secret}/ivr", "PJSIP/a-3", "1.3", "1") == ["NOOP"]
    finally:
        await server.stop()
    assert server.refused == {"bad_secret": 2}
    assert served == ["PJSIP/a-3"]


async def test_sessions_over_the_limit_are_refused() -> None:
    release = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        await release.wait()

    server = AgiServer({"ivr": handler}, "127.0.0.1", 0, max_sessions=2)
    await server.start()
    try:
        held = [
            asyncio.create_task(forge(server.port, "ivr", f"P/{i}", f"{i}", "1")) for i in (1, 2)
        ]
        await until(lambda: server.active == 2, 5)
        assert await forge(server.port, "ivr", "P/3", "3", "1") == []
        assert server.refused == {"too_many_sessions": 1}
        release.set()
        await asyncio.gather(*held)
    finally:
        await server.stop()


async def test_a_session_during_an_ami_link_drop_waits_for_the_picture_then_is_served() -> None:
    """A caller who reaches the IVR while the AMI link is down is served once the resync
    reports their channel; a forged session is still refused once the picture is back."""
    served: list[str] = []
    known: set[tuple[str, str]] = set()
    link_up = False

    async def handler(session: AgiSession) -> None:
        served.append(session.channel)

    server = AgiServer(
        {"ivr": handler},
        "127.0.0.1",
        0,
        channel_known=lambda name, uid: (name, uid) in known,
        channel_wait_s=0.3,
        blind=lambda: not link_up,
        blind_wait_s=10,
    )
    await server.start()
    try:
        real = asyncio.create_task(forge(server.port, "ivr", "PJSIP/trunk-1", "1.1", "555"))
        forged = asyncio.create_task(forge(server.port, "ivr", "PJSIP/trunk-2", "1.2", "555"))
        await asyncio.sleep(1.0)  # far longer than channel_wait_s: both still wait
        assert not real.done() and not forged.done() and not served
        known.add(("PJSIP/trunk-1", "1.1"))  # the resync after the drop reports the caller
        link_up = True
        await asyncio.gather(real, forged)
        assert served == ["PJSIP/trunk-1"]
        assert server.refused == {"unknown_channel": 1}
    finally:
        await server.stop()


async def test_forged_session_for_a_victims_number_reads_no_account(hotline) -> None:
    # no such channel in Asterisk: refused before the IVR reads the account of 5550100001
    agi = hotline.server.agi
    commands = await forge(agi.port, "ivr", "PJSIP/trunk-0000beef", "1700000000.99", "5550100001")
    assert commands == []
    assert agi.refused.get("unknown_channel") == 1
    assert not [e for e in hotline.seen.events if e.call_id == "1700000000.99"]
    # a survey for a call forged the same way stores nothing
    commands = await forge(agi.port, "survey", "PJSIP/trunk-0000cafe", "1700000000.98", "1")
    assert commands == []
    _, surveys = await hotline.api("GET", "/api/surveys")
    assert surveys["surveys"] == []


@pytest.fixture
def ivr_overrides() -> dict[str, Any]:
    return {"pin_max_failures": PIN_LIMIT, "pin_window_s": 3600}


async def test_twenty_wrong_pins_across_seven_calls_lock_the_account(
    hotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = "9876" * 3
    for _n in range(7):  # 3 tries a call: the 20th failure comes in the 7th call
        call = await hotline.sim.place_call("5550100001", dtmf="11" + wrong)
        await hotline.left_ivr(call, timeout=15)
        assert hotline.ended(call)["outcome"] == "handoff"
        assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "billing"
    fails = [e for e in hotline.seen.events if e.kind == "ivr.pin_failed"]
    assert len(fails) == PIN_LIMIT  # the 7th call stopped asking at the 20th
    locked = [e.data for e in hotline.seen.events if e.kind == "ivr.pin_locked"]
    assert locked[-1] == {"account": "10000001", "reason": "failures"}

    # now even the right PIN is not asked for: the caller goes to an agent
    call = await hotline.sim.place_call("5550100001", dtmf="11" + "1234")
    await hotline.left_ivr(call, timeout=15)
    assert not hotline.events(call.uniqueid, "ivr.balance_read")
    assert hotline.events(call.uniqueid, "ivr.pin_locked")[0].data["reason"] == "locked"
    assert 'STREAM FILE cc-enter-pin ""' not in " ".join(hotline.agi(call))

    status, body = await hotline.api("GET", "/api/accounts/locked")
    assert status == 200 and body["accounts"] == [{"account": "10000001", "failures": PIN_LIMIT}]
    metrics = await metrics_text(hotline)
    assert "ccserver_ivr_pin_lockouts_total 1.0" in metrics
    ours = "\n".join(r.getMessage() for r in caplog.records)
    assert "account *****001 locked" in ours and "10000001" not in ours

    # a supervisor lifts the lock: the right PIN works again
    status, body = await hotline.api("POST", "/api/accounts/10000001/unlock")
    assert status == 200 and body == {"account": "10000001", "unlocked": True}
    call = await hotline.sim.place_call("5550100001", dtmf="11" + "1234")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "self_served"


async def metrics_text(hotline) -> str:
    async with aiohttp.ClientSession() as http, http.get(hotline.base + "/metrics") as resp:
        return await resp.text()


async def test_premium_rate_callback_number_is_refused(hotline) -> None:
    # fault report, category 1, then three times "2" to change the number: a premium-rate
    # 900 and 976 number and an international one, each refused; then an agent, no ticket
    numbers = ("9005551234#", "00441234567890#", "9765551234#")
    call = await hotline.sim.place_call(
        "5550100001", dtmf="12" + "1" + "".join("2" + n for n in numbers)
    )
    await hotline.left_ivr(call, timeout=20)
    refused = hotline.events(call.uniqueid, "ivr.callback_refused")
    assert [e.data["reason"] for e in refused] == ["not_dialable"] * 3
    assert hotline.ended(call)["outcome"] == "handoff"
    assert not hotline.events(call.uniqueid, "ticket.created")
    _, tickets = await hotline.api("GET", "/api/tickets")
    assert tickets["tickets"] == []


async def test_callbacks_are_rate_limited_per_caller(hotline) -> None:
    # the same caller files fault reports; after 3 callbacks an hour the 4th is refused
    for _n in range(4):
        call = await hotline.sim.place_call("5550100001", dtmf="12" + "1" + "1")
        await hotline.left_ivr(call, timeout=15)
    created = [e for e in hotline.seen.events if e.kind == "ticket.created"]
    refused = [e.data for e in hotline.seen.events if e.kind == "ivr.callback_refused"]
    assert len(created) == 3
    assert refused == [{"reason": "number_rate"}]
