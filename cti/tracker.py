"""The call tracker: a true picture of every channel and call, from AMI events.

Theory of operation
-------------------
Channels are keyed by Uniqueid and grouped into calls by Linkedid (Asterisk
gives every channel of one call the Linkedid of the channel that started it).
``apply(event, now)`` updates the picture and hands :class:`CallEvent` records
to the sink; it does no I/O and reads no clock, so the same events at the same
``now`` always give the same picture and the same records.

A call ends when its last channel hangs up. Ended calls are handed to the sink
and kept only in a bounded list of recent calls, so memory stays flat however
long the server runs.

After a reconnect or an Asterisk restart the picture may be stale:
``reconcile(snapshot, now)`` compares it with a ``CoreShowChannels`` snapshot,
closes the channels that vanished (with a reason that says so) and adopts the
ones it did not know.
"""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import dialplan as dp
from contracts import eventlog as el
from contracts.ids import unique_ids
from contracts.masking import mask_number
from contracts.sink import CallEvent, EventSink

from . import events as ev

log = logging.getLogger(__name__)

UNKNOWN = "<unknown>"
STATE_RING = 4  # the caller's side: dialled, waiting for an answer
STATE_RINGING = 5  # the called side is ringing
STATE_UP = 6
RECENT_CALLS = 1000
_VANISHED_TEXT = {
    "during_disconnect": "gone while ccserver was not listening",
    "asterisk_restart": "Asterisk restarted",
}


@dataclass
class Channel:
    """One channel as the tracker knows it."""

    uniqueid: str
    name: str
    linkedid: str
    created_at: float
    state: int = 0
    state_desc: str = "Down"
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    context: str = ""
    exten: str = ""
    application: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    bridge_id: str | None = None
    bridge_peers: int = 0  # other channels in the same bridge
    hangup_cause: int | None = None
    hangup_reason: str | None = None  # "hangup", "vanished", ...
    variables: dict[str, str] = field(default_factory=dict)
    dtmf: str = ""
    held_since: float | None = None  # its phone put it on hold (Hold) at this time


@dataclass
class Call:
    """The channels that share one Linkedid."""

    call_id: str
    started_at: float
    caller_num: str = ""
    caller_name: str = ""
    channels: dict[str, Channel] = field(default_factory=dict)
    answered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    hangup_cause: int | None = None
    dtmf: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def state(self) -> str:
        """``ended``, ``bridged``, ``up`` (answered), ``ringing`` or ``down``."""
        if self.ended_at is not None:
            return "ended"
        live = self.live_channels()
        if any(c.bridge_peers for c in live):
            return "bridged"
        if any(c.state == STATE_UP for c in live):
            return "up"
        if any(c.state in (STATE_RING, STATE_RINGING) for c in live):
            return "ringing"
        return "down"

    def live_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.ended_at is None]

    def endpoint_leg(self, endpoint: str) -> Channel | None:
        """The live channel of a PJSIP endpoint's phone in this call (``PJSIP/<endpoint>-<n>``)."""
        prefix = f"PJSIP/{endpoint}-"
        return next((c for c in self.live_channels() if c.name.startswith(prefix)), None)


@dataclass(frozen=True)
class TrackerSummary:
    """Counts for health checks and metrics."""

    active_calls: int
    active_channels: int
    bridged_channels: int
    calls_ended: int
    unknown_channel_events: int


def _known(value: str) -> str:
    return "" if value == UNKNOWN else value


def counter_ids(prefix: str = "ev") -> Callable[[], str]:
    """A deterministic id factory for tests and simulations."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


class CallTracker:
    """Events in, picture and call records out. No I/O, no clock."""

    def __init__(
        self,
        sink: EventSink,
        *,
        ids: Callable[[], str] | None = None,
        recent: int = RECENT_CALLS,
        track_vars: tuple[str, ...] = (dp.VARIABLE_PREFIX, "DIALSTATUS"),
    ) -> None:
        self.sink = sink
        self._ids = ids or unique_ids()
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.recent: OrderedDict[str, Call] = OrderedDict()
        self._recent_limit = recent
        self._track_vars = track_vars
        self._by_name: dict[str, str] = {}
        # bridge id -> uniqueids of its channels (a dict: ordered, so records are stable)
        self._bridges: dict[str, dict[str, None]] = {}
        self._spies: dict[str, str] = {}  # spyer channel -> the spied call
        self.calls_ended = 0
        self.unknown_channel_events = 0
        self.last_heard: float | None = None  # the time of the last event applied
        self._handlers: dict[type[ev.AmiEvent], Callable[[Any, float], None]] = {
            ev.Newchannel: self._on_newchannel,
            ev.Newstate: self._on_newstate,
            ev.NewCallerid: self._on_callerid,
            ev.NewConnectedLine: self._on_connected_line,
            ev.Newexten: self._on_newexten,
            ev.VarSet: self._on_varset,
            ev.DialBegin: self._on_dial_begin,
            ev.DialEnd: self._on_dial_end,
            ev.BridgeEnter: self._on_bridge_enter,
            ev.BridgeLeave: self._on_bridge_leave,
            ev.DTMFEnd: self._on_dtmf,
            ev.Hangup: self._on_hangup,
            ev.Hold: self._on_hold,
            ev.Unhold: self._on_unhold,
            ev.BlindTransfer: self._on_blind_transfer,
            ev.AttendedTransfer: self._on_attended_transfer,
            ev.ChanSpyStart: self._on_spy,
            ev.ChanSpyStop: self._on_spy,
        }

    # --- queries --------------------------------------------------------
    def channel_by_name(self, name: str) -> Channel | None:
        """A live channel by its Asterisk name (``PJSIP/1001-00000002``)."""
        uid = self._by_name.get(name)
        return self.channels.get(uid) if uid else None

    def channel(self, uniqueid: str) -> Channel | None:
        """A live channel by its Uniqueid."""
        return self.channels.get(uniqueid)

    def call(self, call_id: str) -> Call | None:
        """An active call, or a recently ended one (kept least-recently-used first)."""
        call = self.calls.get(call_id)
        if call is None:
            call = self.recent.get(call_id)
            if call is not None:
                self.recent.move_to_end(call_id)
        return call

    def active_calls(self) -> list[Call]:
        """Every call in progress, oldest first."""
        return list(self.calls.values())

    def bridge_members(self, bridge_id: str) -> list[Channel]:
        """The live channels in one bridge (who is bridged with whom)."""
        return [self.channels[u] for u in self._bridges.get(bridge_id, ())]

    def summary(self) -> TrackerSummary:
        """Counts for health checks and metrics."""
        return TrackerSummary(
            active_calls=len(self.calls),
            active_channels=len(self.channels),
            bridged_channels=sum(1 for c in self.channels.values() if c.bridge_id),
            calls_ended=self.calls_ended,
            unknown_channel_events=self.unknown_channel_events,
        )

    # --- applying events ---------------------------------------------------
    def apply(self, event: ev.TypedEvent, now: float) -> None:
        """Update the picture with one event observed at ``now``."""
        if isinstance(event, ev.RawEvent):
            return
        self.last_heard = now
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event, now)

    def _emit(self, call_id: str, kind: str, now: float, **data: Any) -> None:
        self.sink.emit(CallEvent(self._ids(), now, call_id, kind, data))

    def _transferred(self, call_id: str, now: float, data: dict[str, Any]) -> None:
        # its data has keys ``kind`` and ``from``, which cannot be keyword arguments
        self.sink.emit(CallEvent(self._ids(), now, call_id, el.CALL_TRANSFERRED, data))

    def _channel(self, event: ev.ChannelEvent) -> Channel | None:
        ch = self.channels.get(event.uniqueid)
        if ch is None:
            self.unknown_channel_events += 1
            log.debug(
                "%s for unknown channel %s (caller %s) skipped",
                event.name,
                event.channel,
                mask_number(_known(event.caller_id_num)),
            )
        return ch

    def _add_channel(
        self, event: ev.ChannelEvent, now: float, kind: str, created_at: float | None = None
    ) -> Channel:
        created = now if created_at is None else created_at
        ch = Channel(
            uniqueid=event.uniqueid,
            name=event.channel,
            linkedid=event.linkedid or event.uniqueid,
            created_at=created,
            state=event.channel_state,
            state_desc=event.channel_state_desc,
            caller_num=_known(event.caller_id_num),
            caller_name=_known(event.caller_id_name),
            connected_num=_known(event.connected_line_num),
            context=event.context,
            exten=event.exten,
        )
        if ch.state == STATE_UP:
            # answered before we saw it (adopted): the earliest it can have been
            ch.answered_at = created
        self.channels[ch.uniqueid] = ch
        self._by_name[ch.name] = ch.uniqueid
        call = self.calls.get(ch.linkedid)
        if call is None:
            call = Call(ch.linkedid, created, ch.caller_num, ch.caller_name)
            self.calls[call.call_id] = call
            self._emit(call.call_id, el.CALL_STARTED, now, caller=ch.caller_num, channel=ch.name,
                       started_at=created, adopted=kind == el.CHANNEL_ADOPTED)  # fmt: skip
        elif ch.uniqueid == call.call_id:
            # the call's first channel, adopted after one of its later legs
            call.caller_num, call.caller_name = ch.caller_num, ch.caller_name
            call.started_at = min(call.started_at, created)
        call.channels[ch.uniqueid] = ch
        self._emit(
            call.call_id, kind, now, channel=ch.name, uniqueid=ch.uniqueid, state=ch.state_desc,
            context=ch.context, exten=ch.exten,
        )  # fmt: skip
        return ch

    def _on_newchannel(self, e: ev.Newchannel, now: float) -> None:
        if e.uniqueid not in self.channels:
            self._add_channel(e, now, el.CHANNEL_CREATED)

    def _on_newstate(self, e: ev.Newstate, now: float) -> None:
        ch = self._channel(e)
        if ch is None:
            return
        ch.state, ch.state_desc = e.channel_state, e.channel_state_desc
        if ch.state == STATE_UP and ch.answered_at is None:
            ch.answered_at = now
            call = self.calls[ch.linkedid]
            if call.answered_at is None:
                call.answered_at = now
            self._emit(ch.linkedid, el.CHANNEL_ANSWERED, now, channel=ch.name)

    def _on_callerid(self, e: ev.NewCallerid, now: float) -> None:
        ch = self._channel(e)
        if ch is None:
            return
        ch.caller_num, ch.caller_name = _known(e.caller_id_num), _known(e.caller_id_name)
        call = self.calls[ch.linkedid]
        if call.call_id == ch.uniqueid:
            call.caller_num, call.caller_name = ch.caller_num, ch.caller_name

    def _on_connected_line(self, e: ev.NewConnectedLine, now: float) -> None:
        ch = self._channel(e)
        if ch is not None:
            ch.connected_num = _known(e.connected_line_num)

    def _on_newexten(self, e: ev.Newexten, now: float) -> None:
        ch = self._channel(e)
        if ch is None:
            return
        if (e.context, e.exten) != (ch.context, ch.exten):
            self._emit(ch.linkedid, el.CHANNEL_DIALPLAN, now, channel=ch.name, context=e.context,
                       exten=e.exten)  # fmt: skip
        ch.context, ch.exten, ch.application = e.context, e.exten, e.application

    def _on_varset(self, e: ev.VarSet, now: float) -> None:
        if not e.variable.startswith(self._track_vars):
            return
        ch = self._channel(e)
        if ch is None:
            return
        ch.variables[e.variable] = e.value
        self.calls[ch.linkedid].variables[e.variable] = e.value
        self._emit(ch.linkedid, el.CHANNEL_VAR, now, channel=ch.name, variable=e.variable,
                   value=e.value)  # fmt: skip

    def _on_dial_begin(self, e: ev.DialBegin, now: float) -> None:
        call_id = e.linkedid or e.dest_linkedid
        if call_id in self.calls:
            self._emit(call_id, el.DIAL_BEGIN, now, channel=e.channel, dest=e.dest_channel,
                       dial_string=e.dial_string)  # fmt: skip

    def _on_dial_end(self, e: ev.DialEnd, now: float) -> None:
        call_id = e.linkedid or e.dest_linkedid
        if call_id in self.calls:
            self._emit(call_id, el.DIAL_END, now, channel=e.channel, dest=e.dest_channel,
                       status=e.dial_status)  # fmt: skip

    def _on_bridge_enter(self, e: ev.BridgeEnter, now: float) -> None:
        ch = self._channel(e)
        if ch is None:
            return
        self._enter_bridge(ch, e.bridge_uniqueid)
        members = self._bridges[e.bridge_uniqueid]
        peers = [self.channels[u] for u in members if u != ch.uniqueid]
        for party in (ch, *peers) if peers else ():
            call = self.calls[party.linkedid]
            if call.bridged_at is None:
                call.bridged_at = now
        self._emit(ch.linkedid, el.CHANNEL_BRIDGED, now, channel=ch.name,
                   bridge=e.bridge_uniqueid, peers=[p.name for p in peers])  # fmt: skip

    def _on_bridge_leave(self, e: ev.BridgeLeave, now: float) -> None:
        ch = self._channel(e)
        if ch is None:
            return
        self._leave_bridge(ch)
        self._emit(
            ch.linkedid, el.CHANNEL_UNBRIDGED, now, channel=ch.name, bridge=e.bridge_uniqueid
        )

    def _enter_bridge(self, ch: Channel, bridge_id: str) -> None:
        if ch.bridge_id == bridge_id:
            return
        self._leave_bridge(ch)
        ch.bridge_id = bridge_id
        members = self._bridges.setdefault(bridge_id, {})
        for uid in members:
            self.channels[uid].bridge_peers += 1
        ch.bridge_peers = len(members)
        members[ch.uniqueid] = None

    def _leave_bridge(self, ch: Channel) -> None:
        if ch.bridge_id is None:
            return
        members = self._bridges.get(ch.bridge_id)
        if members is not None:
            members.pop(ch.uniqueid, None)
            for uid in members:
                self.channels[uid].bridge_peers -= 1
            if not members:
                del self._bridges[ch.bridge_id]
        ch.bridge_id = None
        ch.bridge_peers = 0

    def _on_dtmf(self, e: ev.DTMFEnd, now: float) -> None:
        ch = self._channel(e)
        if ch is None:
            return
        if ch.variables.get(dp.CC_DTMF_PRIVATE) == "1":
            # a PIN being typed: count the key, never record which one
            ch.dtmf += "x"
            self.calls[ch.linkedid].dtmf += "x"
            self._emit(ch.linkedid, el.DTMF, now, channel=ch.name, digit=None, private=True)
            return
        ch.dtmf += e.digit
        self.calls[ch.linkedid].dtmf += e.digit
        self._emit(ch.linkedid, el.DTMF, now, channel=ch.name, digit=e.digit)

    def _on_hold(self, e: ev.Hold, now: float) -> None:
        # Hold is raised on the channel whose phone sent the re-INVITE: who held
        ch = self._channel(e)
        if ch is None or ch.held_since is not None:
            return
        ch.held_since = now
        self._emit(ch.linkedid, el.CHANNEL_HOLD, now, channel=ch.name,
                   music_class=e.music_class or None)  # fmt: skip

    def _on_unhold(self, e: ev.Unhold, now: float) -> None:
        ch = self._channel(e)
        if ch is None or ch.held_since is None:
            return
        ch.held_since = None
        self._emit(ch.linkedid, el.CHANNEL_UNHOLD, now, channel=ch.name)

    def _on_blind_transfer(self, e: ev.BlindTransfer, now: float) -> None:
        # recorded on the transferee's call (the caller's), the one that goes on
        call_id = e.transferee_linkedid or e.transferer_linkedid
        if call_id in self.calls:
            self._transferred(call_id, now, {
                "kind": "blind", "result": e.result, "from": e.transferer_channel,
                "to": e.extension, "context": e.context,
                "transferee": e.transferee_channel or None, "external": e.is_external == "Yes",
            })  # fmt: skip

    def _on_attended_transfer(self, e: ev.AttendedTransfer, now: float) -> None:
        call_id = e.transferee_linkedid or e.orig_transferer_linkedid
        if call_id in self.calls:
            self._transferred(call_id, now, {
                "kind": "attended", "result": e.result, "from": e.orig_transferer_channel,
                "to": e.transfer_target_channel, "context": None,
                "transferee": e.transferee_channel or None, "external": e.is_external == "Yes",
            })  # fmt: skip

    def _on_spy(self, e: ev.ChanSpyStart, now: float) -> None:
        # recorded on the spied call; a stop may lack the Spyee block: the start said which
        stop = isinstance(e, ev.ChanSpyStop)
        call_id = e.spyee_linkedid
        if stop:
            call_id = self._spies.pop(e.spyer_channel, call_id)
        if call_id in self.calls:
            state = "stop" if stop else "start"
            if not stop:
                self._spies[e.spyer_channel] = call_id
            self._emit(call_id, el.CALL_SPIED, now, state=state, spyer=e.spyer_channel,
                       spyee=e.spyee_channel)  # fmt: skip

    def _on_hangup(self, e: ev.Hangup, now: float) -> None:
        ch = self._channel(e)
        if ch is not None:
            self._close(ch, now, e.cause, "hangup", e.cause_txt)

    def _close(
        self,
        ch: Channel,
        now: float,
        cause: int | None,
        reason: str,
        text: str,
        detail: str = "",
        window: tuple[float, float] | None = None,
    ) -> None:
        ch.ended_at = now
        ch.hangup_cause = cause
        ch.hangup_reason = reason
        self._leave_bridge(ch)
        del self.channels[ch.uniqueid]
        if self._by_name.get(ch.name) == ch.uniqueid:
            del self._by_name[ch.name]
        call = self.calls[ch.linkedid]
        kind = el.CHANNEL_HUNGUP if reason == "hangup" else el.CHANNEL_VANISHED
        if detail:
            ch.hangup_reason = f"{reason}_{detail}"
            self._emit(call.call_id, kind, now, channel=ch.name, cause=cause, cause_txt=text,
                       reason=ch.hangup_reason, gone_between=window)  # fmt: skip
        else:
            self._emit(call.call_id, kind, now, channel=ch.name, cause=cause, cause_txt=text)
        if call.call_id == ch.uniqueid or call.hangup_cause is None:
            call.hangup_cause = cause
        if not call.live_channels():
            call.ended_at = now
            del self.calls[call.call_id]
            self.calls_ended += 1
            self.recent[call.call_id] = call
            while len(self.recent) > self._recent_limit:
                self.recent.popitem(last=False)
            self._emit(
                call.call_id, el.CALL_ENDED, now, caller=call.caller_num,
                duration_s=round(now - call.started_at, 3), answered=call.answered_at is not None,
                bridged=call.bridged_at is not None, cause=call.hangup_cause, reason=reason,
                detail=detail or None, dtmf=call.dtmf, variables=dict(call.variables),
            )  # fmt: skip

    # --- resync -------------------------------------------------------------
    def reconcile(
        self,
        snapshot: Iterable[ev.CoreShowChannel],
        now: float,
        *,
        hung_up_meanwhile: frozenset[str] = frozenset(),
        detail: str = "during_disconnect",
        ended_at: Mapping[str, float] | None = None,
    ) -> tuple[int, int]:
        """Make the picture agree with a CoreShowChannels snapshot.

        Channels the tracker holds that are not in the snapshot are closed as
        ``vanished`` with ``detail`` saying why (``during_disconnect``,
        ``asterisk_restart``), unless a Hangup for them arrived while the
        snapshot was taken (it is still to be applied and closes them
        properly); channels it did not know are adopted, back-dated by their
        Duration; channels in both take the snapshot's state and bridge.
        Returns (vanished, adopted).

        A vanished channel is closed at the time Asterisk noted for it
        (``ended_at``, by uniqueid: the hotline's hangup handler writes it to
        AstDB), or for its call's caller; without a note it ended somewhere
        between the last event heard and ``now``, and is closed at the middle
        of that window, which halves the error a drop puts on a wait (the data
        give both ends).
        """
        seen: dict[str, ev.CoreShowChannel] = {c.uniqueid: c for c in snapshot}
        heard = self.last_heard
        gone_at = now if heard is None or heard >= now else (heard + now) / 2
        vanished = adopted = 0
        for ch in list(self.channels.values()):
            if ch.uniqueid not in seen and ch.uniqueid not in hung_up_meanwhile:
                noted = (ended_at or {}).get(ch.uniqueid) or (ended_at or {}).get(ch.linkedid)
                self._close(
                    ch, min(noted, now) if noted else gone_at, None, "vanished",
                    _VANISHED_TEXT.get(detail, detail), detail,
                    window=(heard if heard is not None else now, now),
                )  # fmt: skip
                vanished += 1
        for uid, item in seen.items():
            known = self.channels.get(uid)
            if known is None:
                ch = self._add_channel(item, now, el.CHANNEL_ADOPTED, now - item.duration_s)
                adopted += 1
            else:
                ch = known
            ch.state, ch.state_desc = item.channel_state, item.channel_state_desc
            ch.context, ch.exten, ch.application = item.context, item.exten, item.application
            if ch.state == STATE_UP and ch.answered_at is None:
                ch.answered_at = ch.created_at  # answered unseen: no earlier than this
            if item.bridge_id:
                self._enter_bridge(ch, item.bridge_id)
            else:
                self._leave_bridge(ch)
        if vanished or adopted:
            log.info("resync: %d channels vanished, %d adopted", vanished, adopted)
        return vanished, adopted

    def restore_variables(self, uniqueid: str, variables: dict[str, str], now: float) -> None:
        """Set a live channel's tracked variables read back from Asterisk (after adoption)."""
        ch = self.channels.get(uniqueid)
        if ch is None:
            return
        call = self.calls[ch.linkedid]
        for name, value in variables.items():
            if name.startswith(self._track_vars) and ch.variables.get(name) != value:
                ch.variables[name] = value
                call.variables[name] = value
                self._emit(ch.linkedid, el.CHANNEL_VAR, now, channel=ch.name, variable=name,
                           value=value, restored=True)  # fmt: skip
