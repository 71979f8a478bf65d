"""The CTI service over real TCP: against the simulator and a hostile peer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from support import ami_settings, until

from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts import eventlog as el
from contracts.sink import ListSink
from cti import events as ev
from cti.connection import AmiConnectionLost, AmiSettings
from cti.service import CtiService
from cti.tracker import counter_ids


def fast_ping(port: int, **overrides: float) -> AmiSettings:
    """A ping watchdog quick enough to notice a silent peer within a test."""
    return ami_settings(port, ping_interval_s=0.2, ping_timeout_s=0.2, **overrides)


@pytest.fixture
async def service(sim: AsteriskSimulator) -> AsyncIterator[CtiService]:
    svc = CtiService(
        fast_ping(sim.port),
        ListSink(),
        ids=counter_ids(),
    )
    await svc.start()
    await svc.client.wait_connected(5)
    await until(lambda: svc.resyncs >= 1)
    yield svc
    await svc.stop()


async def test_tracker_follows_a_delivered_call(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    call = await sim.place_call("5551234", patience=1000)
    await until(lambda: service.tracker.call(call.linkedid) is not None)
    reply = await service.send_action(
        "Redirect",
        [
            ("Channel", call.channel),
            ("Context", "cc-deliver"),
            ("Exten", "1001"),
            ("Priority", "1"),
        ],
    )
    assert reply.response == "Success"
    await asyncio.wait_for(call.done.wait(), 5)
    await until(lambda: service.tracker.summary().active_calls == 0)
    tracked = service.tracker.call(call.linkedid)
    assert tracked is not None and tracked.bridged_at is not None and tracked.hangup_cause == 16
    assert tracked.caller_num == "5551234"


async def test_reconnect_resyncs_vanished_and_adopted(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    early = await sim.place_call("5550001", patience=1000)
    await until(lambda: service.tracker.call(early.linkedid) is not None)
    sim.drop_sessions()
    await sim.hangup_channel(early.channel)  # ends while ccserver is not listening
    late = await sim.place_call("5550002", patience=1000)  # starts while it is not listening
    await until(lambda: service.resyncs >= 2)
    ended = service.tracker.call(early.linkedid)
    assert ended is not None and not ended.active
    kinds = {e.kind: e for e in service.tracker.sink.events if e.call_id == early.linkedid}  # type: ignore[attr-defined]
    assert kinds["call.ended"].data["reason"] == "vanished"
    adopted = service.tracker.call(late.linkedid)
    assert adopted is not None and adopted.active
    assert service.client.reconnects >= 1


async def test_asterisk_restart_closes_every_call(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    calls = [await sim.place_call(f"555000{i}", patience=1000) for i in range(3)]
    await until(lambda: service.tracker.summary().active_calls == 3)
    await sim.restart()
    await until(lambda: service.resyncs >= 2)
    assert service.tracker.summary().active_calls == 0
    assert all(not service.tracker.call(c.linkedid).active for c in calls)  # type: ignore[union-attr]


async def test_silent_peer_is_noticed_and_dropped(
    sim: AsteriskSimulator, service: CtiService, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = service.client.sessions
    with caplog.at_level(logging.ERROR):
        sim.set_silent(True)
        await until(lambda: not service.client.connected.is_set(), timeout=3)
    assert "peer is silent" in caplog.text
    sim.set_silent(False)
    await until(lambda: service.client.connected.is_set() and service.client.sessions > sessions)


async def test_actions_sent_together_take_effect_in_their_order(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    # a delivery's Setvars and Redirect go out in one write: one round trip, not three
    call = await sim.place_call("5551235", patience=1000)
    await until(lambda: service.tracker.call(call.linkedid) is not None)
    seen: list[tuple[str, str]] = []

    async def note(event: object) -> None:
        if isinstance(event, ev.VarSet) and event.variable.startswith("CC_T"):
            seen.append(("set", event.variable))
        elif isinstance(event, ev.Newexten) and event.context == "cc-deliver":
            seen.append(("deliver", event.context))

    service.subscribe(note)
    setvar = [("Channel", call.channel), ("Variable", "CC_TEST"), ("Value", "1")]
    replies = await service.send_actions(
        [
            ("Setvar", setvar),
            ("Setvar", [("Channel", "PJSIP/nobody-00000000"), ("Variable", "CC_TX")]),
            ("Redirect", [("Channel", call.channel), ("Context", "cc-deliver"),
                          ("Exten", "1001"), ("Priority", "1")]),
        ]
    )  # fmt: skip
    # each answer to its own action: the one for a channel that does not exist fails alone
    assert [r.response for r in replies] == ["Success", "Error", "Success"]
    await until(lambda: ("deliver", "cc-deliver") in seen)
    assert seen[0] == ("set", "CC_TEST")  # set before the caller moved
    assert service.tracker.call(call.linkedid).variables.get("CC_TEST") == "1"


async def test_actions_are_not_resent_after_a_reconnect(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    sim.set_silent(True)
    pending = asyncio.ensure_future(
        service.send_action("Originate", [("Channel", "PJSIP/1001"), ("Application", "Wait")])
    )
    await asyncio.sleep(0.05)
    sim.drop_sessions()
    with pytest.raises(AmiConnectionLost):
        await pending
    sim.set_silent(False)
    await until(lambda: service.client.connected.is_set())
    await asyncio.sleep(0.1)
    assert not [c for c in sim.channels if c.startswith("PJSIP/1001")]  # never originated


async def test_secret_never_reaches_the_log(
    sim: AsteriskSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        svc = CtiService(fast_ping(sim.port), ListSink())
        await svc.start()
        await svc.client.wait_connected(5)
        await svc.stop()
    assert "ccsecret" not in caplog.text


async def test_hostile_peer_cannot_crash_or_bloat_the_client() -> None:
    """Malformed frames, non-UTF-8, a 1 MB line, 10,000 headers, unknown channels."""
    done = asyncio.Event()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        login = await reader.readuntil(b"\r\n\r\n")
        aid = next(ln for ln in login.split(b"\r\n") if ln.startswith(b"ActionID"))
        writer.write(
            b"Response: Success\r\n" + aid + b"\r\nMessage: Authentication accepted\r\n\r\n"
        )
        listing = await reader.readuntil(b"\r\n\r\n")
        lid = next(ln for ln in listing.split(b"\r\n") if ln.startswith(b"ActionID"))
        writer.write(
            b"Response: Success\r\n" + lid + b"\r\nEventList: start\r\n\r\n"
            b"Event: CoreShowChannelsComplete\r\n" + lid + b"\r\nListItems: 0\r\n\r\n"
        )
        writer.write(b"no colon here\r\n\r\n")
        writer.write(
            b"Event: Newchannel\r\nChannel: PJSIP/x-1\r\nCallerIDName: \xff\xfe\r\n"
            b"Uniqueid: 1.1\r\nLinkedid: 1.1\r\n\r\n"
        )
        writer.write(
            b"Event: Hangup\r\nChannel: PJSIP/ghost\r\nUniqueid: 9.9\r\nLinkedid: 9.9\r\n\r\n"
        )
        writer.write(b"Event: Hangup\r\nChannel: PJSIP/x-1\r\nUniqueid: 1.1\r\nCause: bad\r\n\r\n")
        writer.write(b"Event: Big\r\nData: " + b"A" * 1_000_000 + b"\r\n\r\n")
        writer.write(
            b"Event: Many\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(10_000)) + b"\r\n"
        )
        writer.write(
            b"Event: Hangup\r\nChannel: PJSIP/x-1\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n"
            b"Cause: 16\r\n\r\n"
        )
        await writer.drain()
        await done.wait()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = ListSink()
    svc = CtiService(ami_settings(port, ping_timeout_s=0.2), sink, ids=counter_ids())
    await svc.start()
    try:
        await until(lambda: svc.tracker.calls_ended == 1)
        call = svc.tracker.call("1.1")
        assert call is not None and call.hangup_cause == 16
        assert svc.tracker.summary().unknown_channel_events == 1
        assert svc.client.frame_errors >= 2  # the 1 MB message and the 10,000 headers
        assert svc.client.connected.is_set()
    finally:
        done.set()
        await svc.stop()
        server.close()


async def test_restart_is_told_apart_from_a_disconnect(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    before = await sim.place_call("5550011", patience=1000)
    await until(lambda: service.tracker.call(before.linkedid) is not None)
    await sim.sleep(20)  # Asterisk has been up a while (Uptime is in whole seconds)
    sim.drop_sessions()  # a network blip: Asterisk keeps running
    await sim.hangup_channel(before.channel)
    await until(lambda: service.resyncs >= 2)
    assert service.restarts_seen == 0
    gone = await sim.place_call("5550012", patience=1000)
    await until(lambda: service.tracker.call(gone.linkedid) is not None)
    await sim.restart()
    await until(lambda: service.resyncs >= 3)
    details = {
        e.call_id: e.data["detail"]
        for e in service.tracker.sink.events  # type: ignore[attr-defined]
        if e.kind == "call.ended"
    }
    assert details == {before.linkedid: "during_disconnect", gone.linkedid: "asterisk_restart"}
    assert service.restarts_seen == 1 and service.health()["reconnects"] >= 2


async def test_call_placed_while_disconnected_is_adopted_with_its_variables(
    sim: AsteriskSimulator,
) -> None:
    sink = ListSink()
    svc = CtiService(
        ami_settings(
            sim.port, ping_interval_s=0.2, ping_timeout_s=0.2, backoff_min_s=0.6, backoff_max_s=1.0
        ),
        sink,
    )
    await svc.start()
    try:
        await svc.wait_connected(5)
        await until(lambda: svc.resyncs >= 1)
        sim.drop_sessions()
        await until(lambda: not svc.connected)
        call = await sim.place_call("5550042", patience=1000, variables={"CC_QUEUE": "billing"})
        await until(lambda: svc.resyncs >= 2)
        adopted = svc.tracker.call(call.linkedid)
        assert adopted is not None and adopted.active and adopted.caller_num == "5550042"
        assert adopted.variables.get("CC_QUEUE") == "billing"
        kinds = [e.kind for e in sink.events if e.call_id == call.linkedid]
        assert kinds[:2] == ["call.started", "channel.adopted"]
    finally:
        await svc.stop()


async def test_status_list_and_subscribers_see_the_updated_tracker(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    seen: list[tuple[str, bool]] = []

    async def watch(e: ev.TypedEvent) -> None:
        if isinstance(e, ev.Newchannel):
            seen.append((e.uniqueid, service.tracker.channel(e.uniqueid) is not None))

    unsubscribe = service.subscribe(watch)
    call = await sim.place_call("5550077", patience=1000)
    await until(lambda: bool(seen))
    assert seen[0] == (call.uniqueid, True)
    response, items = await service.list_action("Status")
    assert response.response == "Success"
    assert call.channel in {i.get("Channel") for i in items}
    unsubscribe()
    await sim.hangup_channel(call.channel)
    await until(lambda: service.tracker.summary().active_calls == 0)
    assert len(seen) == 1


async def test_variables_set_during_a_link_drop_are_read_back_at_the_resync(
    sim: AsteriskSimulator, service: CtiService
) -> None:
    # a caller followed live reaches cc-hold while the link is down: the dialplan's
    # CC_QUEUED (their wait start) is set unseen and must be known after the resync
    call = await sim.place_call("5551234", patience=1000)
    await until(lambda: service.tracker.call(call.linkedid) is not None)
    resyncs = service.resyncs
    sim.set_link(False)
    sim.set_var(sim.channels[call.channel], "CC_QUEUED", "1796030731.939")
    sim.set_link(True)
    await until(lambda: service.resyncs > resyncs, 5)
    tracked = service.tracker.call(call.linkedid)
    assert tracked is not None and tracked.variables.get("CC_QUEUED") == "1796030731.939"


async def test_a_talk_that_ended_during_a_drop_ends_when_the_agent_left_not_the_caller() -> None:
    """The caller stays on for the survey after the agent hangs up, all while the link is
    down: the resync closes the agent's leg at its own note, not at the caller's end."""

    async def agi(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        while not head.endswith(b"\n\n"):
            line = await reader.readline()
            if not line:
                break
            head += line
        if b"agi_network_script: survey" in head:
            await asyncio.sleep(0.05)  # the survey keeps the caller on, 5 s simulated
        writer.close()

    agi_server = await asyncio.start_server(agi, "127.0.0.1", 0)
    agents = [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 100_000}]
    scenario = parse_scenario({"agents": agents})
    sim = AsteriskSimulator(
        scenario, time_scale=0.01, agi_host="127.0.0.1",
        agi_port=agi_server.sockets[0].getsockname()[1],
    )  # fmt: skip
    await sim.start()
    sink = ListSink()
    svc = CtiService(fast_ping(sim.port), sink, ids=counter_ids(), clock=sim.now)
    await svc.start()
    try:
        await svc.client.wait_connected(5)
        call = await sim.place_call("5550001", "Caller", patience=1000)
        await until(lambda: call.record.entered_hold_at is not None)
        caller = sim.channels[call.channel]
        sim.set_var(caller, "CC_SURVEY", "1")
        sim.goto(caller, "cc-deliver", "1001")
        await until(lambda: call.record.answered_at is not None)
        await until(lambda: svc.tracker.call(call.linkedid) is not None)
        sim.set_link(False)
        agent = next(ch for ch in sim.channels.values() if ch.name.startswith("PJSIP/1001-"))
        sim.agent_hangs_up(agent)  # the agent hangs up: the caller goes to the survey
        await asyncio.wait_for(call.done.wait(), 5)
        sim.set_link(True)
        await until(lambda: svc.tracker.summary().active_calls == 0, 5)
        talk_end, end = call.record.talk_ended_at, call.record.ended_at
        assert talk_end is not None and end is not None and end - talk_end > 2
        gone = {
            e.data["channel"]: e.at
            for e in sink.events
            if e.kind == el.CHANNEL_VANISHED and e.call_id == call.linkedid
        }
        assert abs(gone[agent.name] - talk_end) < 0.01, (gone, talk_end)
        assert abs(gone[call.channel] - end) < 0.01, (gone, end)
    finally:
        await svc.stop()
        await sim.stop()
        agi_server.close()
