"""The simulator's state, clock, event fan-out and channel model.

Everything else (dialplan, actions, devices, traffic) is a mixin on top of
:class:`SimCore`; the channel operations here emit the events Asterisk 22 emits
for them, in its order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from contracts import dialplan as dp
from contracts.masking import mask_number
from cti.wire import encode_message

from .agi import DtmfScript
from .channels import CAUSE_TXT, Bridge, Channel, Headers, event
from .phones import Contact, Softphone
from .scenario import Scenario
from .session import AmiSession
from .truth import CallerRecord, CallHandle

log = logging.getLogger("ccserver.sim")

VERSION = "22.10.1"
CONTEXTS = (
    "cc-hotline",
    "cc-hold",
    "cc-deliver",
    "cc-callback",
    "cc-wait",
    "cc-transfer",
    dp.DELIVER_REMOTE_CONTEXT,
)
_EPOCH_TV = "1970-01-01T00:00:00.000+0000"
# a PJSIP endpoint's moh_suggest (res_pjsip/pjsip_configuration.c: default "default"): the
# MusicClass of its Hold events and the class the held party hears
MOH_CLASS = "default"


class SimCore:
    """State, simulated clock, event fan-out and the channel model."""

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
        system_name: str | None = None,
    ) -> None:
        self.scenario = scenario or Scenario()
        # asterisk.conf systemname: Uniqueids become "<name>-<epoch>.<n>" (one node of several)
        self.system_name = system_name
        # inter-node trunks (sim/internode.py): endpoint -> (the other node, its endpoint back)
        self.trunks: dict[str, tuple[Any, str]] = {}
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
        # AstDB, "/<family>/<key>" -> value; a file in Asterisk, so it outlives restart()
        self.astdb: dict[str, str] = {}
        self.records: list[CallerRecord] = []
        # contact ids and URIs come from their own generator so that behaviour stays seeded alike
        self._ids = random.Random(f"contacts-{self.scenario.seed if seed is None else seed}")
        self.phones: dict[str, Softphone] = {}
        for agent in self.scenario.agents:
            phone = Softphone(agent, agent.qualify_s or self.scenario.qualify_s)
            if agent.registered:  # registered before the simulator booted: no events
                phone.contact = self._make_contact(agent.extension, 0.0)
            self.phones[agent.extension] = phone
        self.link_up = True  # False during link_down(): AMI connections are refused
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._handles: dict[str, CallHandle] = {}
        self._dtmf: dict[str, DtmfScript] = {}
        # agent channel name -> its scripted conversation (talk, hold, hang-up), cancelled
        # when the call leaves the agent some other way (a transfer)
        self._talkers: dict[str, asyncio.Task[Any]] = {}
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

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
        if self.system_name:
            uid = f"{self.system_name}-{uid}"
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

    def _make_contact(self, ext: str, at: float) -> Contact:
        """A new registration of a seat's softphone (ids random per registration)."""
        port = 6000 + 10 * (int(ext) % 100)
        tag = f"0x{self._ids.getrandbits(48):012x}"
        return Contact(
            uri=f"sip:{ext}-{tag}@127.0.0.1:{port}",
            object_name=f"{ext};@{self._ids.getrandbits(128):032x}",
            call_id=f"{self._ids.getrandbits(64):016x}",
            port=port,
            registered_at=at,
            roundtrip_usec=self._ids.randrange(300, 1500),
        )

    def _device(self, phone: Softphone, state: str) -> None:
        self.emit(
            event("DeviceStateChange", "call,all", [("Device", phone.device), ("State", state)])
        )

    def bridge(self, a: Channel, b: Channel, on_create: Callable[[], None] | None = None) -> Bridge:
        """Put two channels in a new basic bridge (``on_create`` runs before they enter)."""
        br = Bridge()
        self.emit(event("BridgeCreate", "call,all", br.headers()))
        if on_create is not None:
            on_create()
        for ch in (a, b):
            br.members.append(ch)
            ch.bridge = br
            self.emit(event("BridgeEnter", "call,all", br.headers(), ch.block()))
        return br

    def _unbridge(self, ch: Channel) -> None:
        br = ch.bridge
        if br is None:
            return
        record = self._bridge_record(br)
        br.members.remove(ch)
        ch.bridge = None
        self.emit(event("BridgeLeave", "call,all", br.headers(), ch.block()))
        ch.left_bridge_at = self.last_stamp
        if record is not None:
            # the first party to leave ends this agent's part of the conversation, and a hold
            segment = record.talk_segments[-1] if record.talk_segments else None
            if segment is not None and segment[1] is None:
                segment[1] = self.last_stamp
            for member in (ch, *br.members):
                if member.held_at is not None:
                    record.hold_s += self.last_stamp - member.held_at
                    member.held_at = None
        if ch.moh:
            # bridge_channel.c: a channel leaving a bridge while held is told UNHOLD,
            # and chan_pjsip stops its music
            ch.moh = False
            self.emit(event("MusicOnHoldStop", "call,all", ch.block()))
        if not br.members:
            self.emit(event("BridgeDestroy", "call,all", br.headers()))
            br.emptied.set()

    def _bridge_record(self, br: Bridge) -> CallerRecord | None:
        """The ground truth of the caller in a bridge, if one of its members is a caller."""
        for member in br.members:
            handle = self._handles.get(member.name)
            if handle is not None:
                return handle.record
        return None

    # --- hold (see features.py for the sources of these shapes) -----------------------
    def hold_leg(self, ch: Channel) -> bool:
        """The phone on ``ch`` holds its call: Hold on ``ch``, music to its bridge peers."""
        if ch.hungup or ch.bridge is None or ch.held_at is not None:
            return False
        self.emit(event("Hold", "call,all", ch.block(), [("MusicClass", MOH_CLASS)]))
        ch.held_at = self.last_stamp
        for peer in ch.bridge.members:
            if peer is not ch and not peer.moh:
                peer.moh = True
                self.emit(
                    event("MusicOnHoldStart", "call,all", peer.block(), [("Class", MOH_CLASS)])
                )
        return True

    def unhold_leg(self, ch: Channel) -> bool:
        """The phone on ``ch`` resumes its call: Unhold on ``ch``, the music stops."""
        if ch.hungup or ch.held_at is None:
            return False
        self.emit(event("Unhold", "call,all", ch.block()))
        held = ch.held_at
        ch.held_at = None
        if ch.bridge is not None:
            record = self._bridge_record(ch.bridge)
            if record is not None:
                record.hold_s += self.last_stamp - held
            for peer in ch.bridge.members:
                if peer is not ch and peer.moh:
                    peer.moh = False
                    self.emit(event("MusicOnHoldStop", "call,all", peer.block()))
        return True

    def chanspy_stop(self, spyer: Channel) -> None:
        """The supervisor's ChanSpy stops listening (app_chanspy: ChanSpyStop)."""
        spyee = spyer.spying
        if spyee is not None:
            spyer.spying = None
            self.emit(event("ChanSpyStop", "call,all", spyer.block("Spyer"), spyee.block("Spyee")))

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

    # --- AstDB: what the dialplan's cc-record context writes --------------------------
    def db_put(self, family: str, key: str, value: str) -> None:
        """``Set(DB(<family>/<key>)=<value>)``: AstDB keeps keys as ``/<family>/<key>``."""
        self.astdb[f"/{family}/{key}"] = value

    # --- what the hotline dialplan writes (asterisk/extensions.conf, cc-record) ---------
    def record_answered(self, caller: Channel, agent: Channel) -> None:
        """Dial's ``U(cc-record^answered^1)`` on the agent's channel as it answers."""
        data = f"DB(cc/${{LINKEDID}}{dp.ASTDB_ANSWERED})=${{STRFTIME(,,%s.%3q)}}/${{CHANNEL}}"
        push = f"CHANNEL(hangup_handler_push)=cc-record,{dp.RECORD_LEFT_EXTEN},1"
        self._gosub(agent, dp.RECORD_ANSWERED_EXTEN, ("Set", data), ("Set", push))
        value = f"{self.now():.3f}/{agent.name}"
        self.db_put(dp.ASTDB_FAMILY, f"{caller.linkedid}{dp.ASTDB_ANSWERED}", value)
        agent.hangup_handler = dp.RECORD_LEFT_EXTEN

    def _record_left(self, ch: Channel) -> None:
        """An answered agent leg's hangup handler (pushed in the answered gosub)."""
        data = f"DB(cc/${{UNIQUEID}}{dp.ASTDB_LEFT})=${{STRFTIME(,,%s.%3q)}}"
        self._gosub(ch, dp.RECORD_LEFT_EXTEN, ("Set", data))
        self.db_put(dp.ASTDB_FAMILY, f"{ch.uniqueid}{dp.ASTDB_LEFT}", f"{self.now():.3f}")

    def record_ended(self, ch: Channel) -> None:
        """The caller's hangup handler (pushed in cc-hotline) as the line is hung up."""
        data = (
            f"DB(cc/${{UNIQUEID}}{dp.ASTDB_ENDED})=${{STRFTIME(,,%s.%3q)}}/${{CC_QUEUED}}"
            "/${CC_ENTERED}/${CALLERID(num)}"
        )
        self._gosub(ch, dp.RECORD_ENDED_EXTEN, ("Set", data))
        queued = ch.variables.get(dp.CC_QUEUED, "")
        entered = ch.variables.get(dp.CC_ENTERED, "")
        value = f"{self.now():.3f}/{queued}/{entered}/{ch.cid_num}"
        self.db_put(dp.ASTDB_FAMILY, f"{ch.uniqueid}{dp.ASTDB_ENDED}", value)

    def _gosub(self, ch: Channel, exten: str, *steps: tuple[str, str]) -> None:
        """Run ``cc-record,<exten>``: its steps, Return(), then back where it was."""
        where = ch.context, ch.exten, ch.priority
        ch.context, ch.exten = dp.RECORD_CONTEXT, exten
        for priority, (app, app_data) in enumerate((*steps, ("Return", "")), 1):
            ch.priority = priority
            self._newexten(ch, app, app_data)
        ch.context, ch.exten, ch.priority = where

    def _destroy(self, ch: Channel, cause: int) -> None:
        """Emit the Hangup of one channel and forget it."""
        if not ch.hungup:  # hangup handlers run before the Hangup event
            if ch.hangup_handler == dp.RECORD_ENDED_EXTEN:
                self.record_ended(ch)
            elif ch.hangup_handler == dp.RECORD_LEFT_EXTEN:
                self._record_left(ch)
        self.chanspy_stop(ch)  # ChanSpy returns (ChanSpyStop) before its channel hangs up
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
                self._device(phone, phone.device_state())
        handle = self._handles.get(ch.name)
        if handle is not None:
            self._finish_record(ch, None)
        if ch.on_hangup is not None:
            told, ch.on_hangup = ch.on_hangup, None
            told()

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
