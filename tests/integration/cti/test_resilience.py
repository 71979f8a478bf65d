"""The AMI client against a scripted loopback peer: resync ordering, overflow, backoff, lists.

Each test's peer is a real TCP server on 127.0.0.1 that plays one script per
connection, with event blocks taken from the real-Asterisk captures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from support import ami_settings, until

from contracts.sink import ListSink
from cti import events as ev
from cti.service import CtiService
from cti.tracker import counter_ids
from cti.wire import AmiFramer, AmiMessage, encode_message

Script = Callable[["Peer", int], Awaitable[None]]


class Peer:
    """One AMI connection seen from Asterisk's side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = AmiFramer(expect_banner=False)
        self.pending: list[AmiMessage] = []

    async def action(self) -> AmiMessage:
        """The next action ccserver sends."""
        while not self.pending:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("ccserver closed")
            self.pending += [m for m in self.framer.feed(data) if isinstance(m, AmiMessage)]
        return self.pending.pop(0)

    def send(self, *messages: list[tuple[str, str]] | bytes) -> None:
        for m in messages:
            self.writer.write(m if isinstance(m, bytes) else encode_message(m))

    async def login(self, uptime: int | str = 100) -> None:
        self.writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        login = await self.action()
        assert login.action == "Login"
        self.send(
            [("Response", "Success"), ("ActionID", login.action_id or ""), ("Message", "ok")],
            [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", str(uptime))],
        )

    async def expect(self, action: str) -> str:
        msg = await self.action()
        while msg.action == "Ping":  # answer the watchdog whenever it asks
            self.send(
                [("Response", "Success"), ("ActionID", msg.action_id or ""), ("Ping", "Pong")]
            )
            msg = await self.action()
        assert msg.action == action, msg
        return msg.action_id or ""

    async def no_notes(self) -> None:
        """Answer the resync's read of the dialplan's call notes (DBGetTree): none."""
        aid = await self.expect("DBGetTree")
        self.list_start(aid)
        self.list_end(aid, "DBGetTreeComplete", 0)

    async def idle(self) -> None:
        """Answer Ping and Logoff (then close) until ccserver goes."""
        while True:
            msg = await self.action()
            aid = ("ActionID", msg.action_id or "")
            if msg.action == "Logoff":
                self.send([("Response", "Goodbye"), aid, ("Message", "Thanks for all the fish.")])
                return
            if msg.action == "Ping":
                self.send([("Response", "Success"), aid, ("Ping", "Pong")])
            else:
                self.send([("Response", "Error"), aid, ("Message", "Invalid/unknown command")])

    def list_start(self, aid: str) -> None:
        self.send([("Response", "Success"), ("ActionID", aid), ("EventList", "start")])

    def list_end(self, aid: str, event: str, items: int) -> None:
        self.send([("Event", event), ("ActionID", aid), ("EventList", "Complete"),
                   ("ListItems", str(items))])  # fmt: skip


@pytest.fixture
async def peer_server() -> AsyncIterator[Callable[[Script], Awaitable[int]]]:
    servers: list[asyncio.Server] = []
    tasks: set[asyncio.Task[None]] = set()

    async def serve(script: Script) -> int:
        conns = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal conns
            conns += 1
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await script(Peer(reader, writer), conns)
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()
                tasks.discard(task)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield serve
    for task in list(tasks):
        task.cancel()
    for server in servers:
        server.close()


def channel_block(uid: str, name: str, linked: str, state: int = 6) -> list[tuple[str, str]]:
    desc = {4: "Ring", 6: "Up"}[state]
    return [
        ("Channel", name), ("ChannelState", str(state)), ("ChannelStateDesc", desc),
        ("CallerIDNum", "5551234"), ("CallerIDName", "Caller"), ("Context", "cc-hold"),
        ("Exten", "s"), ("Priority", "1"), ("Uniqueid", uid), ("Linkedid", linked),
    ]  # fmt: skip


def event(name: str, uid: str, chan: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [("Event", name), ("Privilege", "call,all"), *channel_block(uid, chan, uid), *extra]


def snapshot_item(aid: str, uid: str, chan: str, duration: str = "00:00:30"):
    return [("Event", "CoreShowChannel"), ("ActionID", aid), *channel_block(uid, chan, uid),
            ("Application", "MusicOnHold"), ("Duration", duration), ("BridgeId", "")]  # fmt: skip


async def test_events_during_the_snapshot_are_applied_after_it_in_order(
    peer_server: Callable[[Script], Awaitable[int]],
) -> None:
    first_done = asyncio.Event()

    async def script(p: Peer, conn: int) -> None:
        await p.login(uptime=100 if conn == 1 else 200)
        aid = await p.expect("CoreShowChannels")
        if conn == 1:
            p.list_start(aid)
            p.list_end(aid, "CoreShowChannelsComplete", 0)
            p.send(event("Newchannel", "1.1", "PJSIP/trunk-a"))
            p.send(event("Newchannel", "1.2", "PJSIP/trunk-b"))
            await first_done.wait()
            return  # the connection drops
        # the second session's snapshot, with live events interleaved
        p.list_start(aid)
        p.send(event("Hangup", "1.2", "PJSIP/trunk-b", ("Cause", "16"), ("Cause-txt", "Normal")))
        p.send(event("Newchannel", "1.3", "PJSIP/trunk-c"))
        p.send(
            snapshot_item(aid, "1.1", "PJSIP/trunk-a"), snapshot_item(aid, "1.3", "PJSIP/trunk-c")
        )
        p.send(event("Newchannel", "1.4", "PJSIP/trunk-d"))
        p.send(event("DTMFEnd", "1.1", "PJSIP/trunk-a", ("Digit", "5"), ("Direction", "Received")))
        p.list_end(aid, "CoreShowChannelsComplete", 2)
        await p.no_notes()
        # the adopted channel's own variables are read back
        aid = await p.expect("Status")
        p.list_start(aid)
        p.send(
            [("Event", "Status"), ("ActionID", aid), *channel_block("1.3", "PJSIP/trunk-c", "1.3"),
             ("Variable", "CC_QUEUE=sales"), ("Variable", "HOLD_SECS=4")]
        )  # fmt: skip
        p.list_end(aid, "StatusComplete", 1)
        await p.idle()

    port = await peer_server(script)
    sink = ListSink()
    svc = CtiService(ami_settings(port), sink, ids=counter_ids())
    seen: list[str] = []

    async def watch(e: ev.TypedEvent) -> None:
        seen.append(f"{e.name}:{getattr(e, 'uniqueid', '')}")

    svc.subscribe(watch)
    await svc.start()
    try:
        await until(lambda: svc.tracker.channel("1.2") is not None)
        first_done.set()
        await until(lambda: svc.tracker.channel("1.4") is not None and svc.resyncs == 2)
        t = svc.tracker
        assert t.channel("1.1") is not None and t.channel("1.3") is not None
        b = t.call("1.2")
        assert b is not None and b.state == "ended" and b.hangup_cause == 16
        assert not [e for e in sink.events if e.kind == "channel.vanished"]
        by_call = {(e.call_id, e.kind) for e in sink.events}
        assert ("1.2", "channel.hungup") in by_call and ("1.3", "channel.adopted") in by_call
        assert ("1.4", "channel.created") in by_call and ("1.1", "dtmf") in by_call
        assert t.call("1.1").dtmf == "5"  # type: ignore[union-attr]
        assert t.call("1.3").variables == {"CC_QUEUE": "sales"}  # type: ignore[union-attr]
        # subscribers saw the waiting events after the resync, in Asterisk's order
        assert seen[-5:] == [
            "FullyBooted:",
            "Hangup:1.2",
            "Newchannel:1.3",
            "Newchannel:1.4",
            "DTMFEnd:1.1",
        ]
        assert svc.client.hangups_seen == set()  # nothing remembered once resynced
    finally:
        await svc.stop()


async def test_queue_overflow_resets_the_session_and_resyncs(
    peer_server: Callable[[Script], Awaitable[int]], caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def script(p: Peer, conn: int) -> None:
        await p.login()
        aid = await p.expect("CoreShowChannels")
        p.list_start(aid)
        if conn == 1:
            p.list_end(aid, "CoreShowChannelsComplete", 0)
            for i in range(40):
                p.send(event("Newchannel", f"2.{i}", f"PJSIP/trunk-{i}"))
        else:
            for i in range(40):
                p.send(snapshot_item(aid, f"2.{i}", f"PJSIP/trunk-{i}"))
            p.list_end(aid, "CoreShowChannelsComplete", 40)
        await p.idle()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port, queue_size=8), ListSink(), ids=counter_ids())
    high_water = 0

    async def slow(e: ev.TypedEvent) -> None:
        nonlocal high_water
        high_water = max(high_water, svc.client.stats()["queued"])
        await release.wait()

    svc.subscribe(slow)
    with caplog.at_level(logging.ERROR):
        await svc.start()
        try:
            await until(lambda: svc.client.overflows >= 1)
            release.set()
            await until(lambda: svc.client.sessions >= 2 and svc.resyncs >= 2)
            await until(lambda: svc.tracker.summary().active_channels == 40)
        finally:
            await svc.stop()
    assert "queue overflow" in caplog.text
    assert high_water <= 8


async def test_refused_login_retries_with_backoff_and_hides_the_secret(
    peer_server: Callable[[Script], Awaitable[int]], caplog: pytest.LogCaptureFixture
) -> None:
    async def script(p: Peer, conn: int) -> None:
        p.writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        login = await p.action()
        p.send([("Response", "Error"), ("ActionID", login.action_id or ""),
                ("Message", "Authentication failed")])  # fmt: skip
        await p.writer.drain()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port, backoff_min_s=0.01, backoff_max_s=0.04), ListSink())
    with caplog.at_level(logging.DEBUG):
        await svc.start()
        try:
            await until(lambda: svc.client.reconnects >= 4)
            assert not svc.connected
        finally:
            await svc.stop()
    assert "login refused: Authentication failed" in caplog.text
    assert "ccsecret" not in caplog.text


async def test_list_without_its_complete_event_times_out_and_the_session_lives_on(
    peer_server: Callable[[Script], Awaitable[int]],
) -> None:
    async def script(p: Peer, conn: int) -> None:
        await p.login()
        aid = await p.expect("CoreShowChannels")
        p.list_start(aid)
        p.list_end(aid, "CoreShowChannelsComplete", 0)
        while True:  # the resync's DBGetTree and the test's actions, in whatever order
            msg = await p.action()
            aid = msg.action_id or ""
            if msg.action == "DBGetTree":
                p.list_start(aid)
                p.list_end(aid, "DBGetTreeComplete", 0)
            elif msg.action == "Status":
                p.list_start(aid)  # ...and never completes it
            elif msg.action == "Getvar":
                p.send(
                    [("Response", "Success"), ("ActionID", aid), ("Variable", "X"), ("Value", "1")]
                )
                break
        await p.idle()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port), ListSink())
    await svc.start()
    try:
        await svc.wait_connected(5)
        with pytest.raises(TimeoutError):
            await svc.list_action("Status", timeout=0.2)
        reply = await svc.send_action("Getvar", [("Variable", "X")])
        assert reply["Value"] == "1" and svc.connected and svc.client.sessions == 1
    finally:
        await svc.stop()


async def test_capture_traffic_over_tcp_tracks_the_call(
    peer_server: Callable[[Script], Awaitable[int]], captures: Path
) -> None:
    """The raw bytes of a real Asterisk session, in odd-sized chunks, after the login."""
    raw = (captures / "holding_redirect.txt").read_bytes()
    # the capture's own login and boot are replaced by this peer's
    blocks = raw[raw.index(b"\r\n") + 2 :].split(b"\r\n\r\n")
    body = b"\r\n\r\n".join(b for b in blocks if not b.startswith(b"Event: FullyBooted"))

    async def script(p: Peer, conn: int) -> None:
        await p.login()
        aid = await p.expect("CoreShowChannels")
        p.list_start(aid)
        p.list_end(aid, "CoreShowChannelsComplete", 0)
        for start in range(0, len(body), 777):
            p.writer.write(body[start : start + 777])
            await p.writer.drain()
        await p.idle()

    port = await peer_server(script)
    sink = ListSink()
    svc = CtiService(ami_settings(port), sink, ids=counter_ids())
    await svc.start()
    try:
        await until(lambda: svc.tracker.summary().calls_ended == 1)
        (call,) = svc.tracker.recent.values()
        assert call.caller_num == "5551234" and call.bridged_at and call.hangup_cause == 16
        assert svc.health()["last_event_at"] is not None
        assert svc.events_by_name["Hangup"] == 4
    finally:
        await svc.stop()


async def test_a_flood_of_unknown_event_names_stays_bounded(
    peer_server: Callable[[Script], Awaitable[int]],
) -> None:
    async def script(p: Peer, conn: int) -> None:
        await p.login()
        aid = await p.expect("CoreShowChannels")
        p.list_start(aid)
        p.list_end(aid, "CoreShowChannelsComplete", 0)
        for i in range(1000):
            p.send([("Event", f"Made-Up-{i}"), ("Privilege", "call,all")])
        p.send(event("Newchannel", "3.1", "PJSIP/trunk-z"))
        await p.idle()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port), ListSink())
    await svc.start()
    try:
        await until(lambda: svc.tracker.channel("3.1") is not None)
        assert len(svc.events_by_name) <= 257
        assert sum(svc.events_by_name.values()) == 1002  # FullyBooted, 1000 made up, Newchannel
    finally:
        await svc.stop()


async def test_an_endless_list_fails_its_action_resets_the_session_and_stays_bounded(
    peer_server: Callable[[Script], Awaitable[int]], caplog: pytest.LogCaptureFixture
) -> None:
    cap = 500
    sent = 0

    async def script(p: Peer, conn: int) -> None:
        nonlocal sent
        await p.login()
        aid = await p.expect("CoreShowChannels")
        p.list_start(aid)
        if conn == 1:
            # the list never ends: items until ccserver hangs up
            while True:
                for _ in range(50):
                    p.send(snapshot_item(aid, f"9.{sent}", f"PJSIP/trunk-{sent}"))
                    sent += 1
                await p.writer.drain()
        p.send(snapshot_item(aid, "9.1", "PJSIP/trunk-1"))
        p.list_end(aid, "CoreShowChannelsComplete", 1)
        await p.idle()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port, max_list_items=cap), ListSink(), ids=counter_ids())
    collected = 0

    async def sample() -> None:
        nonlocal collected
        while True:
            for pending in list(svc.client._pending.values()):
                collected = max(collected, len(pending.items))
            await asyncio.sleep(0)

    sampler = asyncio.create_task(sample())
    with caplog.at_level(logging.ERROR):
        await svc.start()
        try:
            await until(lambda: svc.client.sessions >= 2 and svc.resyncs >= 1, timeout=10)
            await until(lambda: svc.tracker.channel("9.1") is not None)
            assert svc.connected and svc.client.stats()["list_overflows"] == 1
        finally:
            sampler.cancel()
            await svc.stop()
    assert sent > cap and 0 < collected <= cap
    assert caplog.text.count(f"more than {cap} list items") == 1
    assert "too long" in caplog.text  # the resync's own error names the cause


@pytest.mark.parametrize("uptime", ["²", "٣", "-1", "1e99", "9" * 50, "", "nan"])
async def test_a_bad_uptime_never_kills_the_session(
    peer_server: Callable[[Script], Awaitable[int]], uptime: str
) -> None:
    async def script(p: Peer, conn: int) -> None:
        await p.login(uptime=uptime)  # read in the same data_received as the Login response
        aid = await p.expect("CoreShowChannels")
        p.list_start(aid)
        p.list_end(aid, "CoreShowChannelsComplete", 0)
        p.send([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", uptime)])
        p.send(event("Newchannel", "4.1", "PJSIP/trunk-u"))
        await p.idle()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port), ListSink(), ids=counter_ids())
    await svc.start()
    try:
        await until(lambda: svc.tracker.channel("4.1") is not None)
        assert svc.connected and svc.client.sessions == 1 and svc.client.boot_uptime is None
        assert svc.events_by_name["FullyBooted"] == 2
    finally:
        await svc.stop()


async def test_hangups_remembered_during_a_resync_are_capped(
    peer_server: Callable[[Script], Awaitable[int]], caplog: pytest.LogCaptureFixture
) -> None:
    async def script(p: Peer, conn: int) -> None:
        await p.login()
        aid = await p.expect("CoreShowChannels")
        # a flood of hangups while the resync waits for its list
        for i in range(50):
            p.send(event("Hangup", f"5.{i}", f"PJSIP/trunk-{i}", ("Cause", "16")))
        p.list_start(aid)
        p.list_end(aid, "CoreShowChannelsComplete", 0)
        p.send(event("Newchannel", "5.100", "PJSIP/trunk-x"))
        await p.idle()

    port = await peer_server(script)
    svc = CtiService(ami_settings(port, max_hangups_seen=10), ListSink(), ids=counter_ids())
    with caplog.at_level(logging.ERROR):
        await svc.start()
        try:
            await until(lambda: svc.tracker.channel("5.100") is not None and svc.resyncs == 1)
            stats = svc.client.stats()
            assert stats["hangups_overflows"] == 40 and svc.connected
            assert svc.client.hangups_seen == set()  # forgotten once the resync is done
        finally:
            await svc.stop()
    assert caplog.text.count("more than 10 hangups") == 1
