"""The Asterisk simulator: an AMI server over real TCP with a channel model behind it.

Theory of operation
-------------------
``AsteriskSimulator`` listens like Asterisk's manager (banner, Login/Challenge,
actions, events) and keeps a small model of channels and bridges. Callers
arrive on a SIP trunk (``PJSIP/trunk-...``) into the hotline dialplan:

    cc-hotline: Answer, Set(CC_ENTERED), [AGI(agi://host:port/ivr)], Goto(cc-hold)
    cc-hold:    MusicOnHold until redirected or the caller hangs up
    cc-deliver: Dial(PJSIP/<exten>, ring timeout, g); back to cc-hold unless
                answered; after the agent hangs up, AGI(.../survey) if CC_SURVEY=1
    cc-wait:    offer / announce: AGI(.../wait_offer|announce), back to cc-hold
    cc-callback: repair / outage: AGI(.../<exten>), Hangup;
                 queue: AGI(.../callback), Goto(cc-deliver,${CC_AGENT_ENDPOINT},1)

Outbound calls (``Originate`` of ``PJSIP/<number>@trunk``) ring a simulated
customer, who answers after ``customer_answer_delay_s`` unless the number is
in ``unanswered_numbers``, and presses the keys of ``customer_dtmf[number]``.

Each channel runs its dialplan in one asyncio task; ``Redirect`` cancels that
task and starts the channel again at the new place, as Asterisk's async goto
does. Agents are PJSIP softphones with a seeded behaviour script (answer
delay, talk time, no answer, busy, registration drops). Simulated time is real
asyncio time divided by ``time_scale``; every duration in a scenario is in
simulated seconds. The simulator keeps its own record of what happened to every
caller (``ground_truth()``), which reports are checked against.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cti.masking import mask_number
from cti.wire import AmiFramer, AmiMessage, FrameError, encode_message

from .agi import AgiHooks, AgiSession, DtmfScript
from .channels import (
    CAUSE_TXT,
    RING,
    RINGING,
    UP,
    Bridge,
    Channel,
    Headers,
    event,
)
from .scenario import AgentScript, Scenario

log = logging.getLogger("ccserver.sim")

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
VERSION = "22.10.1"
CONTEXTS = ("cc-hotline", "cc-hold", "cc-deliver", "cc-callback", "cc-wait")
SESSION_QUEUE_LIMIT = 20_000  # messages; a reader this far behind is dropped
LIST_ACTIONS_NO_AUTH = {"login", "challenge"}
_EPOCH_TV = "1970-01-01T00:00:00.000+0000"


@dataclass
class CallerRecord:
    """Ground truth: what happened to one caller, as the simulator saw it."""

    seq: int
    number: str
    arrived_at: float
    uniqueid: str = ""
    channel: str = ""
    vip: bool = False
    entered_hold_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    agent: str | None = None
    talk_ended_at: float | None = None  # the agent hung up
    keys: dict[str, str] = field(default_factory=dict)  # AGI script -> keys pressed
    # abandoned | answered | self_served | deflected | callback | hung_up_in_ivr
    outcome: str = "in_progress"
    ring_attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def wait_s(self) -> float | None:
        """Seconds from entering the queue to being answered or giving up."""
        if self.entered_hold_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.entered_hold_at


@dataclass
class Softphone:
    """A simulated agent softphone and its behaviour script."""

    script: AgentScript
    registered: bool
    channel: Channel | None = None  # the agent leg while ringing or talking

    @property
    def device(self) -> str:
        return f"PJSIP/{self.script.extension}"


class CallHandle:
    """What ``place_call`` returns: the caller's channel and ground-truth record."""

    def __init__(self, channel: Channel, record: CallerRecord) -> None:
        self.channel = channel.name
        self.uniqueid = channel.uniqueid
        self.linkedid = channel.linkedid
        self.record = record
        self.done = asyncio.Event()


class AmiSession:
    """One AMI client connection."""

    def __init__(
        self, sim: AsteriskSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.username = ""
        self.events: set[str] | None = None  # None = every class
        self.challenge: str | None = None
        self.session_id = f"0x{id(self):x}"
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(SESSION_QUEUE_LIMIT)
        self.closed = False
        self._writer_task: asyncio.Task[None] | None = None
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"

    def send(self, headers: Headers | bytes) -> None:
        """Queue a message; a client that cannot keep up is disconnected."""
        if self.closed or self.sim.silent:
            return
        data = headers if isinstance(headers, bytes) else encode_message(headers)
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("AMI session %s too slow to read; dropping it", self.session_id)
            self.close(abrupt=True)

    def wants(self, privilege: str) -> bool:
        if not self.authenticated or (self.events is not None and not self.events):
            return False
        if self.events is None:
            return True
        return any(c in self.events for c in privilege.split(","))

    def close(self, *, abrupt: bool = False) -> None:
        """End the session: after what is queued has been written, or at once."""
        if self.closed and not abrupt:
            return
        self.closed = True
        if abrupt:
            self.writer.transport.abort()
            return
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.writer.transport.abort()

    async def write_loop(self) -> None:
        try:
            while True:
                data = await self.queue.get()
                if data is None:
                    break
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self.writer.close()

    async def serve(self) -> None:
        self._writer_task = asyncio.create_task(self.write_loop())
        self.writer.write(BANNER)
        framer = AmiFramer(expect_banner=False, max_message_bytes=64 * 1024, max_headers=1024)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                if self.sim.silent:
                    continue
                for msg in framer.feed(data):
                    if isinstance(msg, FrameError):
                        log.warning(
                            "AMI session %s: dropped input (%s)", self.session_id, msg.reason
                        )
                        continue
                    await self.sim.handle_action(self, msg)
                    if self.closed:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()
            self.sim.sessions.discard(self)
            if self._writer_task:
                await asyncio.gather(self._writer_task, return_exceptions=True)


def _resp(action_id: str | None, status: str, *pairs: tuple[str, str]) -> Headers:
    out: Headers = [("Response", status)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out.extend(pairs)
    return out


class AsteriskSimulator:
    """A protocol-faithful stand-in for Asterisk's AMI and FastAGI client."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "ccserver",
        secret: str = "ccsecret",
        seed: int | None = None,
        time_scale: float = 1.0,
        agi_host: str | None = None,
        agi_port: int | None = None,
        traffic: bool = False,
        timestamp_events: bool = False,
    ) -> None:
        self.scenario = scenario or Scenario()
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.rng = random.Random(self.scenario.seed if seed is None else seed)
        self.time_scale = time_scale
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.traffic = traffic
        self.timestamp_events = timestamp_events  # manager.conf timestampevents=yes
        self.last_stamp = 0.0  # the time of the last event (ground truth uses it)
        self.silent = False
        self.sessions: set[AmiSession] = set()
        self.channels: dict[str, Channel] = {}
        self.records: list[CallerRecord] = []
        self.phones = {a.extension: Softphone(a, a.registered) for a in self.scenario.agents}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._handles: dict[str, CallHandle] = {}
        self._dtmf: dict[str, DtmfScript] = {}
        # outbound calls to customers (callbacks)
        self.unanswered_numbers: set[str] = set()
        self.customer_answer_delay_s = 4.0
        self.customer_dtmf: dict[str, str] = {}
        self.outbound: list[dict[str, Any]] = []  # ground truth of every outbound call
        self.agi_log: dict[str, list[str]] = {}  # channel name -> AGI commands, in order
        self._chan_seq = 0
        self._uid_seq = 0
        self._caller_seq = 0
        self._epoch0 = time.time()
        self._loop_t0 = 0.0
        self._booted_at = 0.0

    # --- clock ------------------------------------------------------------
    def now(self) -> float:
        """Simulated epoch seconds."""
        loop_now = asyncio.get_running_loop().time()
        return self._epoch0 + (loop_now - self._loop_t0) / self.time_scale

    async def sleep(self, seconds: float) -> None:
        """Sleep for simulated seconds."""
        await asyncio.sleep(max(0.0, seconds) * self.time_scale)

    # --- lifecycle ----------------------------------------------------------
    async def start(self) -> None:
        """Start listening; with ``traffic`` the scenario's callers start arriving."""
        self._loop_t0 = asyncio.get_running_loop().time()
        self._booted_at = self.now()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        for phone in self.phones.values():
            if phone.script.unregister_every_s > 0:
                self._spawn(self._registration_flaps(phone))
        if self.traffic:
            self._spawn(self._arrivals())

    async def stop(self) -> None:
        """Close every session and channel and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in list(self.sessions):
            session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restart(self) -> None:
        """Behave like an Asterisk restart: sessions dropped, every channel gone."""
        for task in list(self._runners.values()):
            task.cancel()
        self._runners.clear()
        for ch in list(self.channels.values()):
            ch.hungup = True
            self._finish_record(ch, "abandoned" if ch.name in self._handles else None)
        self.channels.clear()
        for phone in self.phones.values():
            phone.channel = None
        self.drop_sessions()
        self._booted_at = self.now()

    def drop_sessions(self) -> None:
        """Abruptly close every AMI connection; channels live on."""
        for session in list(self.sessions):
            session.close(abrupt=True)

    def set_silent(self, silent: bool) -> None:
        """Stop (or resume) answering and sending anything on AMI."""
        self.silent = silent

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        with contextlib.suppress(asyncio.CancelledError):
            await session.serve()

    # --- events -------------------------------------------------------------
    def emit(self, headers: Headers) -> None:
        """Send an event to every session subscribed to its class."""
        self.last_stamp = round(self.now(), 6)
        if self.timestamp_events:
            # manager.c puts Timestamp right after Privilege
            headers = [*headers[:2], ("Timestamp", f"{self.last_stamp:.6f}"), *headers[2:]]
        privilege = headers[1][1] if len(headers) > 1 and headers[1][0] == "Privilege" else "all"
        data = encode_message(headers)
        for session in list(self.sessions):
            if session.wants(privilege):
                session.send(data)

    def _security(self, name: str, session: AmiSession, *extra: tuple[str, str]) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.now()))
        tv = f"{stamp}.000+0000"
        headers: Headers = [
            ("Event", name),
            ("Privilege", "security,all"),
            ("EventTV", tv),
            ("Severity", "Informational" if name == "SuccessfulAuth" else "Error"),
            ("Service", "AMI"),
            ("EventVersion", "2" if name == "InvalidPassword" else "1"),
            ("AccountID", session.username),
            ("SessionID", session.session_id),
            ("LocalAddress", f"IPV4/TCP/{self.host}/{self.port}"),
            ("RemoteAddress", session.remote),
        ]
        headers.extend(extra)
        if name == "RequestBadFormat":
            # Asterisk puts AccountID last in this one event
            headers.remove(("AccountID", session.username))
            headers.append(("SessionTV", tv if session.authenticated else _EPOCH_TV))
            headers.append(("AccountID", session.username))
            self.emit(headers)
            return
        headers.append(("SessionTV", tv if session.authenticated else _EPOCH_TV))
        self.emit(headers)

    # --- actions ------------------------------------------------------------
    async def handle_action(self, session: AmiSession, msg: AmiMessage) -> None:
        """Answer one action the way Asterisk does."""
        aid = msg.action_id
        name = msg.action
        if name is None:
            session.send(_resp(aid, "Error", ("Message", "Missing action in request")))
            if session.authenticated:
                self._security("RequestBadFormat", session, ("RequestType", "Action: NONE"))
            return
        key = name.lower()
        if not session.authenticated and key not in LIST_ACTIONS_NO_AUTH:
            session.send(_resp(aid, "Error", ("Message", "Permission denied")))
            self._security("RequestNotAllowed", session, ("RequestType", f"Action: {name}"))
            return
        handler = getattr(self, "_action_" + key, None)
        if handler is None:
            session.send(
                _resp(
                    aid,
                    "Error",
                    (
                        "Message",
                        f"Invalid/unknown command: {name}. "
                        "Use Action: ListCommands to show available commands.",
                    ),
                )
            )
            self._security("RequestBadFormat", session, ("RequestType", f"Action: {name}"))
            return
        await handler(session, msg, aid)

    async def _action_challenge(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.challenge = str(self.rng.randrange(100_000_000, 999_999_999))
        s.send(_resp(aid, "Success", ("Challenge", s.challenge)))

    async def _action_login(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        user = m.get("Username") or ""
        if (m.get("AuthType") or "").lower() == "md5" and s.challenge:
            expected = hashlib.md5((s.challenge + self.secret).encode()).hexdigest()
            ok = user == self.username and (m.get("Key") or "").lower() == expected
        else:
            ok = user == self.username and m.get("Secret") == self.secret
        s.username = user
        if not ok:
            self._security("InvalidPassword", s)
            await self.sleep(1.0)
            s.send(_resp(aid, "Error", ("Message", "Authentication failed")))
            await asyncio.sleep(0)
            s.close()
            return
        s.authenticated = True
        s.events = _event_mask(m.get("Events"))
        s.send(_resp(aid, "Success", ("Message", "Authentication accepted")))
        uptime = str(int(self.now() - self._booted_at))
        if s.wants("system,all"):
            s.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                ]
            )
        self._security("SuccessfulAuth", s, ("UsingPassword", "0"))

    async def _action_logoff(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.send(_resp(aid, "Goodbye", ("Message", "Thanks for all the fish.")))
        s.close()

    async def _action_ping(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.send(_resp(aid, "Success", ("Ping", "Pong"), ("Timestamp", f"{self.now():.6f}")))

    async def _action_events(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.events = _event_mask(m.get("EventMask"))
        s.send(_resp(aid, "Success", ("Events", "Off" if s.events == set() else "On")))

    async def _action_userevent(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("UserEvent") or ""
        extra = [
            (k, v) for k, v in m.headers if k.lower() not in ("action", "actionid", "userevent")
        ]
        s.send(_resp(aid, "Success"))
        self.emit(event("UserEvent", "user,all", [("UserEvent", name)], extra))

    async def _action_command(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        cmd = (m.get("Command") or "").strip()
        if cmd == "core show version":
            out = f"Asterisk {VERSION} built by ccserver-sim on a x86_64 running Linux"
            s.send(_resp(aid, "Success", ("Message", "Command output follows"), ("Output", out)))
        elif cmd == "core show channels concise":
            lines = [self._concise(ch) for ch in self.channels.values()]
            s.send(
                _resp(
                    aid,
                    "Success",
                    ("Message", "Command output follows"),
                    *[("Output", line) for line in lines],
                )
            )
        else:
            words = " ".join(cmd.split()[:2])
            out = (
                f"No such command '{cmd}' "
                f"(type 'core show help {words}' for other possible commands)"
            )
            s.send(_resp(aid, "Error", ("Message", "Command output follows"), ("Output", out)))

    def _concise(self, ch: Channel) -> str:
        secs = str(int(self.now() - ch.created_at))
        bridge = ch.bridge.uniqueid if ch.bridge else ""
        return "!".join(
            [
                ch.name,
                ch.context,
                ch.exten,
                str(ch.priority),
                "Up" if ch.state == UP else "Ring",
                ch.application,
                ch.app_data,
                ch.cid_num,
                "",
                "",
                "3",
                secs,
                bridge,
                ch.uniqueid,
            ]
        )

    async def _action_setvar(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel")
        var, value = m.get("Variable") or "", m.get("Value") or ""
        if name:
            ch = self.channels.get(name)
            if ch is None:
                s.send(_resp(aid, "Error", ("Message", "No such channel")))
                return
            self.set_var(ch, var, value)
        s.send(_resp(aid, "Success", ("Message", "Variable Set")))

    async def _action_getvar(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel")
        var = m.get("Variable") or ""
        ch = self.channels.get(name or "")
        if name and ch is None:
            s.send(_resp(aid, "Error", ("Message", "No such channel")))
            return
        value = ""
        if ch is not None:
            value = {"CHANNEL": ch.name, "UNIQUEID": ch.uniqueid}.get(
                var, ch.variables.get(var, "")
            )
        s.send(_resp(aid, "Success", ("Variable", var), ("Value", value)))

    async def _action_coreshowchannels(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.send(_resp(aid, "Success", ("EventList", "start"), ("Message", "Channels will follow")))
        chans = list(self.channels.values())
        for ch in chans:
            secs = int(self.now() - ch.created_at)
            duration = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
            s.send(
                [("Event", "CoreShowChannel")]
                + ([("ActionID", aid)] if aid is not None else [])
                + ch.block()
                + [
                    ("Application", ch.application),
                    ("ApplicationData", ch.app_data),
                    ("Duration", duration),
                    ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
                ]
            )
        s.send(
            [("Event", "CoreShowChannelsComplete")]
            + ([("ActionID", aid)] if aid is not None else [])
            + [("EventList", "Complete"), ("ListItems", str(len(chans)))]
        )

    async def _action_status(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel")
        if name:
            one = self.channels.get(name)
            if one is None:
                s.send(_resp(aid, "Error", ("Message", "No such channel")))
                return
            chans = [one]
        else:
            chans = list(self.channels.values())
        s.send(
            _resp(aid, "Success", ("EventList", "start"), ("Message", "Channel status will follow"))
        )
        all_vars = (m.get("AllVariables") or "").lower() == "true"
        for ch in chans:
            headers: Headers = [("Event", "Status"), ("Privilege", "Call"), *ch.block()]
            headers += [
                ("Type", ch.tech),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.conn_num),
                ("EffectiveConnectedLineName", ch.conn_name),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                ("Application", ch.application),
                ("Data", ch.app_data),
                ("Nativeformats", "(ulaw)"),
                ("Readformat", "ulaw"),
                ("Readtrans", ""),
                ("Writeformat", "ulaw"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(self.now() - ch.created_at))),
            ]
            if all_vars:
                headers += [("Variable", f"{k}={v}") for k, v in ch.variables.items()]
            if aid is not None:
                headers.append(("ActionID", aid))
            s.send(headers)
        done: Headers = [("Event", "StatusComplete")]
        if aid is not None:
            done.append(("ActionID", aid))
        done += [
            ("EventList", "Complete"),
            ("ListItems", str(len(chans))),
            ("Items", str(len(chans))),
        ]
        s.send(done)

    async def _action_playdtmf(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        ch = self.channels.get(m.get("Channel") or "")
        if ch is None:
            s.send(_resp(aid, "Error", ("Message", "Channel not found")))
            return
        digit = (m.get("Digit") or "")[:1]
        if not digit:
            s.send(_resp(aid, "Error", ("Message", "No digit specified")))
            return
        s.send(_resp(aid, "Success", ("Message", "DTMF successfully queued")))
        self.dtmf(ch, digit, begin=(m.get("Receive") or "").lower() != "true")

    async def _action_hangup(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        ch = self.channels.get(m.get("Channel") or "")
        if ch is None:
            s.send(_resp(aid, "Error", ("Message", "No such channel")))
            return
        cause = int(m.get("Cause") or 16) if (m.get("Cause") or "16").isdigit() else 16
        s.send(_resp(aid, "Success", ("Message", "Channel Hungup")))
        # as Asterisk: the channel leaves its bridge, then the hangup request shows
        peers = [c for c in ch.bridge.members if c is not ch] if ch.bridge else []
        self._unbridge(ch)
        self.emit(event("SoftHangupRequest", "call,all", ch.block(), [("Cause", str(cause))]))
        self.hangup(ch, cause)
        for peer in peers:
            self._unbridge(peer)
            self.hangup(peer, cause)

    async def _action_redirect(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel") or ""
        ch = self.channels.get(name)
        if ch is None:
            s.send(_resp(aid, "Error", ("Message", f"Channel does not exist: {name}")))
            return
        context, exten = m.get("Context") or "", m.get("Exten") or ""
        if context not in CONTEXTS:
            s.send(_resp(aid, "Error", ("Message", "Redirect failed")))
            return
        prio = int(m.get("Priority") or 1) if (m.get("Priority") or "1").isdigit() else 1
        s.send(_resp(aid, "Success", ("Message", "Redirect successful")))
        self.goto(ch, context, exten, prio)

    async def _action_bridge(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        n1, n2 = m.get("Channel1") or "", m.get("Channel2") or ""
        c1, c2 = self.channels.get(n1), self.channels.get(n2)
        if c1 is None:
            s.send(_resp(aid, "Error", ("Message", f"Channel1 does not exist: {n1}")))
            return
        if c2 is None:
            s.send(_resp(aid, "Error", ("Message", f"Channel2 does not exist: {n2}")))
            return
        s.send(_resp(aid, "Success", ("Message", "Channels have been bridged")))
        for ch in (c1, c2):
            task = self._runners.pop(ch.name, None)
            if task is not None:
                task.cancel()
            self._unbridge(ch)
        self.bridge(c1, c2)

    async def _action_originate(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        target = m.get("Channel")
        is_async = (m.get("Async") or "").lower() in ("true", "yes", "1")
        if not target:
            s.send(_resp(aid, "Error", ("Message", "Channel not specified")))
            return
        tech, _, resource = target.partition("/")
        if tech not in ("Local", "PJSIP") or not resource:
            s.send(_resp(aid, "Error", ("Message", "Originate failed")))
            return
        dest_ctx = m.get("Context")
        if m.get("Application") is None and dest_ctx not in CONTEXTS:
            s.send(_resp(aid, "Error", ("Message", "Extension does not exist.")))
            return
        if tech == "Local":
            exten, _, ctx = resource.partition("@")
            ok = ctx in CONTEXTS
            # Asterisk's answer reaches the client before the channel events
            if is_async or ok:
                s.send(_resp(aid, "Success", ("Message", "Originate successfully queued")))
            else:
                s.send(_resp(aid, "Error", ("Message", "Originate failed")))
            await self._originate_local(exten, ctx, m, aid if is_async else None, ok)
            return
        if tech == "PJSIP" and "@" in resource:
            # PJSIP/<number>@<trunk>: a customer's phone over the trunk
            if is_async:
                s.send(_resp(aid, "Success", ("Message", "Originate successfully queued")))
                self._spawn(self._originate_customer(resource.split("@")[0], m, aid))
            else:
                ok = await self._originate_customer(resource.split("@")[0], m, None)
                s.send(
                    _resp(aid, "Success", ("Message", "Originate successfully queued"))
                    if ok
                    else _resp(aid, "Error", ("Message", "Originate failed"))
                )
            return
        # PJSIP/<ext>: ring the softphone, then run the application or dialplan.
        if is_async:
            s.send(_resp(aid, "Success", ("Message", "Originate successfully queued")))
            self._spawn(self._originate_phone(resource, m, aid))
        else:
            ok = await self._originate_phone(resource, m, None)
            s.send(
                _resp(aid, "Success", ("Message", "Originate successfully queued"))
                if ok
                else _resp(aid, "Error", ("Message", "Originate failed"))
            )

    async def _originate_local(
        self, exten: str, ctx: str, m: AmiMessage, response_aid: str | None, ok: bool
    ) -> bool:
        """A Local channel pair: ;1 runs the application, ;2 runs the dialplan."""
        seq = self._next_chan()
        base = f"Local/{exten}@{ctx}-{seq:08x}"
        one = self._new_channel(f"{base};1", ctx, exten, state=0)
        two = self._new_channel(f"{base};2", ctx, exten, state=RING, linkedid=one.linkedid)
        app, data = m.get("Application") or "", m.get("Data") or ""
        self._newexten(one, "AppDial2", "(Outgoing Line)")
        if not ok:
            self._destroy(two, 0)
            if response_aid is not None:
                self.emit(self._originate_response(response_aid, "Failure", m, "0", None))
            self._destroy(one, 0)
            for _ in range(2):
                self.emit(
                    event(
                        "DeviceStateChange",
                        "call,all",
                        [("Device", f"Local/{exten}@{ctx}"), ("State", "INVALID")],
                    )
                )
            return False
        self._set_state(two, UP)
        self._set_state(one, UP)
        if response_aid is not None:
            self.emit(self._originate_response(response_aid, "Success", m, "4", one))
        one.application, one.app_data = app, data
        self._start_runner(two, ctx, exten, 1)
        self._spawn(self._local_app(one, two, app, data))
        return True

    async def _local_app(self, one: Channel, two: Channel, app: str, data: str) -> None:
        if app.lower() == "wait":
            await self.sleep(float(data or 0) if data.replace(".", "", 1).isdigit() else 0)
        if not one.hungup:
            self.hangup(one, 16)

    async def _originate_phone(self, ext: str, m: AmiMessage, aid: str | None) -> bool:
        phone = self.phones.get(ext)
        if phone is None or not phone.registered or phone.channel is not None:
            if aid is not None:
                self.emit(self._originate_response(aid, "Failure", m, "0", None))
            return False
        ch = self._new_channel(f"PJSIP/{ext}-{self._next_chan():08x}", "cc-agents", "s", state=0)
        phone.channel = ch
        self._set_state(ch, RINGING)
        self._device(phone, "RINGING")
        await self.sleep(phone.script.answer_delay_s)
        if ch.hungup:
            return False
        self._set_state(ch, UP)
        self._device(phone, "INUSE")
        if aid is not None:
            self.emit(self._originate_response(aid, "Success", m, "4", ch))
        if m.get("Application") is not None:
            ch.application, ch.app_data = m.get("Application") or "", m.get("Data") or ""
            self._spawn(self._local_app(ch, ch, ch.application, ch.app_data))
        else:
            self._start_runner(ch, m.get("Context") or "", m.get("Exten") or "s", 1)
        return True

    async def _originate_customer(self, number: str, m: AmiMessage, aid: str | None) -> bool:
        timeout = int(m.get("Timeout") or 30000) / 1000
        name, cid = _callerid(m.get("CallerID") or "")
        ch = self._new_channel(
            f"PJSIP/trunk-{self._next_chan():08x}", "cc-callback", "s", state=0, cid=(cid, name)
        )
        record: dict[str, Any] = {"number": number, "exten": m.get("Exten"), "at": self.now()}
        self.outbound.append(record)
        self._set_state(ch, RINGING)
        answers = number not in self.unanswered_numbers
        await self.sleep(self.customer_answer_delay_s if answers else timeout)
        if not answers or self.customer_answer_delay_s >= timeout:
            record["answered"] = False
            if aid is not None:
                fail = self._originate_response(aid, "Failure", m, "3", None)
                self.emit(fail)
            self._destroy(ch, 19)
            return False
        record["answered"] = True
        for item in m.get_all("Variable"):
            var, _, value = item.partition("=")
            ch.variables[var] = value  # set before the channel runs, without VarSet
        self._set_state(ch, UP)
        if aid is not None:
            self.emit(self._originate_response(aid, "Success", m, "4", ch))
        self._dtmf[ch.name] = DtmfScript(self.customer_dtmf.get(number, ""))
        original = next(
            (r for r in self.records if r.uniqueid == ch.variables.get("CC_CALL_ID")), None
        )
        if original is not None and m.get("Exten") == "queue":
            handle = CallHandle(ch, original)
            self._handles[ch.name] = handle
            original.outcome = "in_progress"  # the callback carries the call on
        self._start_runner(ch, m.get("Context") or "cc-callback", m.get("Exten") or "s", 1)
        return True

    def _originate_response(
        self, aid: str, status: str, m: AmiMessage, reason: str, ch: Channel | None
    ) -> Headers:
        return [
            ("Event", "OriginateResponse"),
            ("Privilege", "call,all"),
            ("ActionID", aid),
            ("Response", status),
            ("Channel", ch.name if ch else m.get("Channel") or ""),
            ("Application", m.get("Application") or ""),
            ("Data", m.get("Data") or ""),
            ("Reason", reason),
            ("Uniqueid", ch.uniqueid if ch else "<unknown>"),
            ("CallerIDNum", ch.cid_num if ch else "<unknown>"),
            ("CallerIDName", ch.cid_name if ch else "<unknown>"),
        ]

    # --- channel model ------------------------------------------------------
    def _next_chan(self) -> int:
        self._chan_seq += 1
        return self._chan_seq

    def _new_channel(
        self,
        name: str,
        context: str,
        exten: str,
        *,
        state: int,
        linkedid: str | None = None,
        cid: tuple[str, str] | None = None,
    ) -> Channel:
        self._uid_seq += 1
        uid = f"{int(self.now())}.{self._uid_seq}"
        ch = Channel(name, uid, linkedid or uid, self.now(), context, exten, state=state)
        if cid is not None:
            ch.cid_num, ch.cid_name = cid
        self.channels[name] = ch
        self.emit(event("Newchannel", "call,all", ch.block()))
        return ch

    def _set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state and not ch.hungup:
            ch.state = state
            self.emit(event("Newstate", "call,all", ch.block()))

    def _newexten(self, ch: Channel, app: str, data: str) -> None:
        ch.application, ch.app_data = app, data
        self.emit(
            event(
                "Newexten",
                "dialplan,all",
                ch.block(),
                [("Extension", ch.exten), ("Application", app), ("AppData", data)],
            )
        )

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        """Set a channel variable, with the VarSet event Asterisk sends."""
        ch.variables[name] = value
        self.emit(
            event("VarSet", "dialplan,all", ch.block(), [("Variable", name), ("Value", value)])
        )

    def dtmf(self, ch: Channel, digit: str, *, begin: bool = True, duration_ms: int = 200) -> None:
        """A key press received on a channel."""
        extra = [("Digit", digit)]
        if begin:
            self.emit(
                event("DTMFBegin", "dtmf,all", ch.block(), extra, [("Direction", "Received")])
            )
        self.emit(
            event(
                "DTMFEnd",
                "dtmf,all",
                ch.block(),
                extra,
                [("DurationMs", str(duration_ms)), ("Direction", "Received")],
            )
        )

    def _device(self, phone: Softphone, state: str) -> None:
        self.emit(
            event("DeviceStateChange", "call,all", [("Device", phone.device), ("State", state)])
        )

    def bridge(self, a: Channel, b: Channel) -> Bridge:
        """Put two channels in a new basic bridge."""
        br = Bridge()
        self.emit(event("BridgeCreate", "call,all", br.headers()))
        for ch in (a, b):
            br.members.append(ch)
            ch.bridge = br
            self.emit(event("BridgeEnter", "call,all", br.headers(), ch.block()))
        return br

    def _unbridge(self, ch: Channel) -> None:
        br = ch.bridge
        if br is None:
            return
        br.members.remove(ch)
        ch.bridge = None
        self.emit(event("BridgeLeave", "call,all", br.headers(), ch.block()))
        ch.left_bridge_at = self.last_stamp
        if not br.members:
            self.emit(event("BridgeDestroy", "call,all", br.headers()))
            br.emptied.set()

    def hangup(self, ch: Channel, cause: int = 16) -> None:
        """Hang a channel up; its bridge peer follows, as after Dial()."""
        if ch.hungup:
            return
        task = self._runners.pop(ch.name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        br = ch.bridge
        self._destroy(ch, cause)
        if br is not None:
            for peer in list(br.members):
                self._unbridge(peer)
                self.hangup(peer, cause)

    def _destroy(self, ch: Channel, cause: int) -> None:
        """Emit the Hangup of one channel and forget it."""
        ch.hungup = True
        ch.hangup_cause = cause
        self._unbridge(ch)
        self.channels.pop(ch.name, None)
        self.emit(
            event(
                "Hangup",
                "call,all",
                ch.block(),
                [("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))],
            )
        )
        for phone in self.phones.values():
            if phone.channel is ch:
                phone.channel = None
                self._device(phone, "NOT_INUSE" if phone.registered else "UNAVAILABLE")
        handle = self._handles.get(ch.name)
        if handle is not None:
            self._finish_record(ch, None)

    def _finish_record(self, ch: Channel, forced: str | None) -> None:
        handle = self._handles.pop(ch.name, None)
        if handle is None:
            return
        rec = handle.record
        rec.ended_at = self.last_stamp  # the caller's Hangup event
        if forced is not None:
            rec.outcome = forced
        elif rec.outcome == "in_progress":
            rec.outcome = "abandoned" if rec.entered_hold_at is not None else "hung_up_in_ivr"
        handle.done.set()
        log.info("caller %s ended: %s", mask_number(rec.number), rec.outcome)

    # --- dialplan -----------------------------------------------------------
    def goto(self, ch: Channel, context: str, exten: str, priority: int = 1) -> None:
        """Async goto: stop what the channel runs and continue at the new place."""
        task = self._runners.pop(ch.name, None)
        if task is not None:
            task.cancel()
        if ch.bridge is not None:
            peer = [c for c in ch.bridge.members if c is not ch]
            self._unbridge(ch)
            for other in peer:
                self._unbridge(other)
                self.hangup(other, 16)
        self._start_runner(ch, context, exten, priority)

    def _start_runner(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        ch.context, ch.exten, ch.priority = context, exten, priority
        task = self._spawn(self._run_dialplan(ch))
        self._runners[ch.name] = task

    async def _run_dialplan(self, ch: Channel) -> None:
        try:
            while not ch.hungup:
                if ch.context == "cc-hotline":
                    await self._hotline(ch)
                elif ch.context == "cc-hold":
                    await self._hold(ch)
                elif ch.context == "cc-deliver":
                    await self._deliver(ch)
                elif ch.context == "cc-callback":
                    await self._callback(ch)
                elif ch.context == "cc-wait":
                    await self._wait(ch)
                else:
                    return
        except asyncio.CancelledError:
            pass

    def _step(self, ch: Channel, app: str, data: str) -> None:
        self._newexten(ch, app, data)
        ch.priority += 1

    async def _hotline(self, ch: Channel) -> None:
        ch.priority = 1
        self._step(ch, "Answer", "")
        self._set_state(ch, UP)
        self._step(ch, "Set", "CC_ENTERED=${EPOCH}")
        self.set_var(ch, "CC_ENTERED", str(int(self.now())))
        if self.agi_host and self.agi_port:
            status = await self._agi(ch, "ivr")
            if self._ended_in_ivr(ch, status, deflected="deflected"):
                return
        self._to_hold(ch)

    def _ended_in_ivr(self, ch: Channel, status: str, *, deflected: str) -> bool:
        """After an AGI: whether the call ended there (ground truth records how)."""
        if ch.hungup:
            return True
        if status != "HANGUP":
            return False
        handle = self._handles.get(ch.name)
        if handle is not None and ch.variables.get("CC_DEFLECTED"):
            handle.record.outcome = deflected
        elif handle is not None and ch.variables.get("CC_SELF_SERVED"):
            handle.record.outcome = "self_served"
        self.hangup(ch, 16)
        return True

    def _to_hold(self, ch: Channel) -> None:
        self._step(ch, "Goto", "cc-hold,s,1")
        ch.context, ch.exten, ch.priority = "cc-hold", "s", 1

    async def _agi(self, ch: Channel, script: str) -> str:
        """Run ``AGI(agi://host:port/<script>)`` on a channel; returns AGISTATUS."""
        if not (self.agi_host and self.agi_port):
            return "FAILURE"
        self._newexten(ch, "AGI", f"agi://{self.agi_host}:{self.agi_port}/{script}")
        session = AgiSession(ch, self._dtmf.get(ch.name, DtmfScript("")), self._agi_hooks())
        status = await session.run(self.agi_host, self.agi_port, script, [])
        handle = self._handles.get(ch.name)
        if handle is not None:  # ground truth: what the caller pressed, per script
            keys = handle.record.keys
            keys[script] = keys.get(script, "") + session.pressed
        ch.priority += 1
        if not ch.hungup:
            self.set_var(ch, "AGISTATUS", status)
        return status

    async def _callback(self, ch: Channel) -> None:
        """cc-callback: the follow-up scripts of outbound calls."""
        ch.priority = 1
        script = {"repair": "repair", "outage": "outage", "queue": "callback"}.get(ch.exten)
        if script is None:
            self.hangup(ch, 16)
            return
        status = await self._agi(ch, script)
        if ch.hungup:
            return
        if script == "callback" and status != "HANGUP":
            endpoint = ch.variables.get("CC_AGENT_ENDPOINT", "")
            self._step(ch, "Goto", f"cc-deliver,{endpoint},1")
            ch.context, ch.exten, ch.priority = "cc-deliver", endpoint, 1
            return
        self._step(ch, "Hangup", "")
        self.hangup(ch, 16)

    async def _wait(self, ch: Channel) -> None:
        """cc-wait: a max-wait offer or announcement, then back to the queue."""
        ch.priority = 1
        script = {"offer": "wait_offer", "announce": "announce"}.get(ch.exten)
        status = await self._agi(ch, script) if script else "FAILURE"
        if not self._ended_in_ivr(ch, status, deflected="callback"):
            self._to_hold(ch)

    async def _hold(self, ch: Channel) -> None:
        self._step(ch, "MusicOnHold", "default")
        handle = self._handles.get(ch.name)
        if handle is not None and handle.record.entered_hold_at is None:
            handle.record.entered_hold_at = self.last_stamp
        await asyncio.Event().wait()  # until redirected or hung up

    async def _deliver(self, ch: Channel) -> None:
        ext = ch.exten
        timeout = float(ch.variables.get("CC_RING_TIMEOUT") or self.scenario.ring_timeout_s)
        self._step(ch, "Dial", f"PJSIP/{ext},{int(timeout)}")
        status = await self._dial(ch, ext, timeout)
        self.set_var(ch, "DIALSTATUS", status)
        if ch.hungup:
            return
        if status == "ANSWER":
            if ch.variables.get("CC_SURVEY") == "1":
                self._step(ch, "GotoIf", "1?survey")
                await self._agi(ch, "survey")
                if ch.hungup:
                    return
            self._step(ch, "Hangup", "")
            self.hangup(ch, 16)
            return
        self._step(ch, "Goto", "cc-hold,s,1")
        ch.context, ch.exten, ch.priority = "cc-hold", "s", 1

    async def _dial(self, caller: Channel, ext: str, timeout: float) -> str:
        """Dial an agent softphone from a caller channel; returns DIALSTATUS."""
        phone = self.phones.get(ext)
        handle = self._handles.get(caller.name)
        attempt: dict[str, Any] = {"agent": ext, "at": self.now()}
        if handle is not None:
            handle.record.ring_attempts.append(attempt)
        if phone is None or not phone.registered:
            attempt["result"] = "CHANUNAVAIL"
            return "CHANUNAVAIL"
        agent = self._new_channel(
            f"PJSIP/{ext}-{self._next_chan():08x}",
            "cc-agents",
            ext,
            state=0,
            linkedid=caller.linkedid,
            cid=(caller.cid_num, caller.cid_name),
        )
        agent.conn_num, agent.conn_name = caller.cid_num, caller.cid_name
        dest = agent.block("Dest")
        self.emit(event("DialBegin", "call,all", caller.block(), dest, [("DialString", ext)]))
        busy = phone.channel is not None or self.rng.random() < phone.script.busy_prob
        if busy:
            self._destroy(agent, 17)
            self._dial_end(caller, agent, "BUSY")
            attempt["result"] = "BUSY"
            return "BUSY"
        phone.channel = agent
        self._set_state(agent, RINGING)
        self._device(phone, "RINGING")
        no_answer = self.rng.random() < phone.script.no_answer_prob
        delay = phone.script.answer_delay_s
        try:
            if no_answer or delay >= timeout:
                await self.sleep(timeout)
                self._dial_end(caller, agent, "NOANSWER")
                self._destroy(agent, 19)
                attempt["result"] = "NOANSWER"
                return "NOANSWER"
            await self.sleep(delay)
        except asyncio.CancelledError:
            if not agent.hungup:
                self._dial_end(caller, agent, "CANCEL")
                self._destroy(agent, 16)
                attempt["result"] = "CANCEL"
            raise
        if agent.hungup:
            attempt["result"] = "CHANUNAVAIL"
            return "CHANUNAVAIL"
        self._set_state(agent, UP)
        self._device(phone, "INUSE")
        self._dial_end(caller, agent, "ANSWER")
        answered_at = self.last_stamp
        attempt["result"] = "ANSWER"
        self.bridge(agent, caller)
        if handle is not None:
            handle.record.answered_at = answered_at
            handle.record.agent = ext
            handle.record.outcome = "answered"
        talk = self.rng.expovariate(1.0 / phone.script.talk_mean_s)
        self._spawn(self._talk_then_hangup(agent, talk, handle.record if handle else None))
        bridge = caller.bridge
        if bridge is not None:
            await bridge.emptied.wait()  # Dial() returns when the conversation is over
        return "ANSWER"

    def _dial_end(self, caller: Channel, agent: Channel, status: str) -> None:
        self.emit(
            event(
                "DialEnd", "call,all", caller.block(), agent.block("Dest"), [("DialStatus", status)]
            )
        )

    async def _talk_then_hangup(
        self, agent: Channel, talk: float, record: CallerRecord | None
    ) -> None:
        await self.sleep(talk)
        if not agent.hungup:
            self.emit(event("HangupRequest", "call,all", agent.block(), [("Cause", "16")]))
            peer = agent.bridge
            self._destroy(agent, 16)
            if record is not None:  # the conversation ended when the agent left the bridge
                record.talk_ended_at = agent.left_bridge_at
            if peer is not None:
                for other in list(peer.members):
                    self._unbridge(other)

    def _agi_hooks(self) -> AgiHooks:
        return AgiHooks(
            set_var=self._agi_set_var,
            dtmf=lambda ch, d: self.dtmf(ch, d),
            exec_event=self._agi_exec,
            answer=lambda ch: self._set_state(ch, UP),
            sleep=self.sleep,
            missing_prompts=frozenset(self.scenario.missing_prompts),
        )

    def _agi_set_var(self, ch: Channel, name: str, value: str) -> None:
        if name == "CHANNEL(language)":
            ch.language = value  # a function write: no VarSet
        else:
            self.set_var(ch, name, value)

    def _agi_exec(self, ch: Channel, command: str, cid: int, phase: str, reply: str | None) -> None:
        extra: Headers = [("CommandId", str(cid)), ("Command", command)]
        if reply is None:
            self.agi_log.setdefault(ch.name, []).append(command)
            self.emit(event("AGIExecStart", "agi,all", ch.block(), extra))
            return
        result = (
            "Success"
            if phase == "200"
            else "Invalid or unknown command"
            if phase == "510"
            else "Usage"
        )
        self.emit(
            event(
                "AGIExecEnd",
                "agi,all",
                ch.block(),
                extra,
                [("ResultCode", phase), ("Result", result)],
            )
        )

    # --- scripted people ----------------------------------------------------
    async def place_call(
        self,
        caller_num: str = "5551234",
        caller_name: str = "Caller",
        dtmf: str = "",
        patience: float | None = None,
        *,
        vip: bool = False,
        variables: dict[str, str] | None = None,
    ) -> CallHandle:
        """A caller dials the hotline from the SIP trunk.

        ``variables`` are set on the channel as it arrives, as a trunk header
        or an IVR would (``CC_QUEUE``, ``CC_SKILLS``...).
        """
        self._caller_seq += 1
        ch = self._new_channel(
            f"PJSIP/trunk-{self._next_chan():08x}",
            "cc-hotline",
            self.scenario.hotline,
            state=RING,
            cid=(caller_num, caller_name),
        )
        record = CallerRecord(
            self._caller_seq, caller_num, self.last_stamp, ch.uniqueid, ch.name, vip
        )
        self.records.append(record)
        handle = CallHandle(ch, record)
        self._handles[ch.name] = handle
        self._dtmf[ch.name] = DtmfScript(dtmf)
        for name, value in (variables or {}).items():
            self.set_var(ch, name, value)
        log.info("caller %s dials the hotline", mask_number(caller_num))
        self._start_runner(ch, "cc-hotline", self.scenario.hotline, 1)
        if patience is not None:
            self._spawn(self._patience(ch, patience))
        return handle

    async def hangup_channel(self, name: str, cause: int = 16) -> None:
        """The party on a channel hangs up."""
        ch = self.channels.get(name)
        if ch is not None:
            self.hangup(ch, cause)

    async def _patience(self, ch: Channel, patience: float) -> None:
        await self.sleep(patience)
        if not ch.hungup and ch.bridge is None:
            self.hangup(ch, 16)

    async def _arrivals(self) -> None:
        traffic = self.scenario.callers
        if traffic.calls_per_hour <= 0:
            return
        n = 0
        mixes = traffic.dtmf
        while traffic.max_calls is None or n < traffic.max_calls:
            await self.sleep(self.rng.expovariate(traffic.calls_per_hour / 3600.0))
            n += 1
            number = traffic.number_prefix + str(self.rng.randrange(traffic.numbers)).zfill(5)
            if traffic.vip_numbers and self.rng.random() < 0.05:
                number = self.rng.choice(traffic.vip_numbers)
            script = self.rng.choices([m.script for m in mixes], [m.weight for m in mixes])[0]
            patience = self.rng.expovariate(1.0 / traffic.patience_mean_s)
            await self.place_call(
                number, "Hotline Caller", script, patience, vip=number in traffic.vip_numbers
            )

    async def _registration_flaps(self, phone: Softphone) -> None:
        script = phone.script
        while True:
            await self.sleep(self.rng.expovariate(1.0 / script.unregister_every_s))
            if phone.channel is not None:
                continue
            self.set_registered(phone.script.extension, False)
            await self.sleep(script.unregistered_for_s)
            self.set_registered(phone.script.extension, True)

    def set_registered(self, extension: str, registered: bool) -> None:
        """A softphone registers or loses its registration."""
        phone = self.phones[extension]
        if phone.registered == registered:
            return
        phone.registered = registered
        ext = phone.script.extension
        contact: Headers = [
            ("URI", f"sip:{ext}@127.0.0.1:5062"),
            ("ContactStatus", "Reachable" if registered else "Removed"),
            ("AOR", ext),
            ("EndpointName", ext),
            ("RoundtripUsec", "0"),
        ]
        self.emit(event("ContactStatus", "system,all", contact))
        self._device(phone, "NOT_INUSE" if registered else "UNAVAILABLE")

    # --- ground truth -------------------------------------------------------
    def ground_truth(self) -> list[CallerRecord]:
        """The simulator's record of every caller so far."""
        return list(self.records)

    def write_ground_truth(self, path: str | Path) -> None:
        """Write the ground truth as JSON (one object per caller)."""
        rows = [asdict(r) | {"wait_s": r.wait_s} for r in self.records]
        Path(path).write_text(json.dumps(rows, indent=1), encoding="utf-8")

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every placed call has ended."""
        async with asyncio.timeout(timeout):
            while self._handles:
                await asyncio.sleep(0.005)


def _callerid(text: str) -> tuple[str, str]:
    """``"Name" <number>`` -> (name, number)."""
    name, _, rest = text.partition("<")
    if not rest:
        return "", text.strip()
    return name.strip().strip('"'), rest.split(">")[0]


def _event_mask(value: str | None) -> set[str] | None:
    """Login/Events ``Events:`` header: None = every class, empty set = none."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("on", "yes", "true", "all"):
        return None
    if v in ("off", "no", "false", ""):
        return set()
    return {c.strip() for c in v.split(",") if c.strip()}
