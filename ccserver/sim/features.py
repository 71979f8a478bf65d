"""What agents' and supervisors' phones do during a call: hold, transfers, ChanSpy.

Where each event's shape comes from (Asterisk 22 source, read, not copied):

- ``Hold`` / ``Unhold``: ``main/manager_channels.c`` (channel_hold_cb, channel_unhold_cb):
  the channel block, then ``MusicClass`` when one is suggested. A PJSIP phone's re-INVITE
  with ``sendonly``/``inactive`` makes ``res/res_pjsip_sdp_rtp.c`` call
  ``ast_queue_hold(channel, endpoint->mohsuggest)`` on *its own* channel (so the event
  names who held; ``moh_suggest`` defaults to ``default``); the HOLD frame crosses the
  bridge and ``channels/chan_pjsip.c`` starts music on the peer.
- ``MusicOnHoldStart`` / ``MusicOnHoldStop``: ``main/manager_channels.c``
  (channel_moh_start_cb: the channel block, then ``Class``; channel_moh_stop_cb: the block
  alone), published by ``res/res_musiconhold.c``. A channel leaving a bridge while held is
  told UNHOLD (``main/bridge_channel.c``), which stops its music.
- ``BlindTransfer``: ``main/stasis_bridges.c`` (blind_transfer_to_ami): ``Result``, the
  ``Transferer`` block, the ``Transferee`` block, the bridge block, ``IsExternal``,
  ``Context``, ``Extension``. A SIP REFER is external (``res/res_pjsip_refer.c`` calls
  ``ast_bridge_transfer_blind(1, ...)``); the transferee continues at Context/Extension.
- ``AttendedTransfer``: ``main/stasis_bridges.c`` (attended_transfer_to_ami): ``Result``,
  ``OrigTransferer`` block, ``Orig`` bridge block, ``SecondTransferer`` block, ``Second``
  bridge block, ``Transferee`` block, ``TransferTarget`` block, ``IsExternal``, then
  ``DestType`` (``Bridge``: ``DestBridgeUniqueid``). Two two-party bridges are joined by
  swapping the target into the transferee's bridge (``main/bridge.c``,
  two_bridge_attended_transfer), which survives.
- ``ChanSpyStart`` / ``ChanSpyStop``: ``main/manager_channels.c``
  (channel_chanspy_start_cb / _stop_cb, published by ``apps/app_chanspy.c``): the ``Spyer``
  block, then the ``Spyee`` block.

A phone's own transfer sends the transferee where the desk's would: an agent's
extension to ``cc-deliver,<ext>``, the queue to ``cc-hold`` with ``CC_QUEUE`` set.

What the agent desktop asks of Asterisk (``ccserver/call_control.py``), answered as
Asterisk 22 answers:

- ``PJSIPNotify`` (``res/res_pjsip_notify.c``, manager_notify): exactly one of
  ``Endpoint``/``URI``/``Channel`` and either ``Option`` or ``Variable``s, else an Error
  naming the rule; an unknown endpoint: ``Unable to retrieve endpoint <name>``; otherwise
  ``Success`` / ``NOTIFY sent`` (the NOTIFY itself goes out later). A phone with
  ``remote_control`` (the Broadsoft remote-control events Yealink, Polycom, Grandstream and
  Snom honour) answers ``Event: hold`` / ``Event: talk`` with a re-INVITE: the same Hold /
  Unhold as its own hold key.
- ``BlindTransfer`` (``main/manager.c``, action_blind_transfer): ``No channel specified``,
  ``No extension specified``, ``Channel specified does not exist``; the transfer is
  ``ast_bridge_transfer_blind(1, ...)``, so the event says ``IsExternal: Yes`` as a REFER's
  does; a channel in no two-party bridge: ``Transfer invalid``; else ``Transfer succeeded``.
- ``Atxfer`` (action_atxfer): the same first three errors, then the atxfer feature's DTMF
  is queued on the channel (``Atxfer successfully queued``). The feature
  (``main/bridge_basic.c``) holds the transferer (``Hold`` without a music class:
  ``ast_bridge_channel_write_hold(.., NULL)``) and dials ``Local/<exten>@<context>`` (the
  linkedid of the requester, the transferer); its ``;2`` half runs ``cc-transfer``'s Dial.
  The transferer hanging up (the desk's AMI ``Hangup``) completes it: ``AttendedTransfer``
  with the transferer as both ``OrigTransferer`` and ``SecondTransferer`` (one channel,
  feature-based), ``IsExternal: No``, the target swapped into the caller's bridge. The
  simulator keeps the transferer in the caller's bridge while consulting (Asterisk moves
  it to the consult bridge) and leaves out the Local optimisation: the target is the
  ``PJSIP/`` channel, as after Asterisk optimises the Local pair away.
- ``CancelAtxfer`` (action_cancel_atxfer): ``No channel specified``, ``Channel specified
  does not exist``, else ``CancelAtxfer successfully queued``; the consult call ends and
  the transferer is unheld (``Unhold``). A consult nobody answers ends the same way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from contracts import dialplan as dp
from cti.wire import AmiMessage

from .channels import RING, RINGING, UP, Channel, event
from .core import MOH_CLASS
from .dialplan import DialplanMixin
from .session import ActionHandler, AmiSession, resp

# app_chanspy looks for a channel to spy on about once a second while it has none
SPY_SCAN_S = 1.0
# a desk phone sends its re-INVITE this long after a remote-control NOTIFY
REMOTE_CONTROL_DELAY_S = 0.3
# the simulator notices a consult call's end at this pace
CONSULT_SCAN_S = 0.1
NOTIFY_ARGUMENTS = (
    "PJSIPNotify requires either an Option or Variable(s).You must use only one of them."
)
NOTIFY_TARGETS = "PJSIPNotify requires either an endpoint name, a SIP URI, or a channel."


@dataclass
class Consult:
    """An attended transfer from the desk (Atxfer) in progress on ``leg``."""

    leg: Channel
    caller: Channel
    local1: Channel
    local2: Channel  # runs cc-transfer,<exten>: the Dial of the target
    exten: str
    done: bool = False


def phone_name(sim: DialplanMixin, ext: str) -> str:
    """The caller-id name of an agent's phone (its scripted name, else the extension)."""
    phone = sim.phones.get(ext)
    return (phone.script.name if phone is not None else "") or ext


class FeaturesMixin(DialplanMixin):
    """Hold, blind and attended transfers from agents' phones; ChanSpy for supervisors."""

    def _consult_table(self) -> dict[str, Consult]:
        """The desk's attended transfers in progress, by the transferer's channel name."""
        table: dict[str, Consult] | None = self.__dict__.get("_consults")
        if table is None:
            table = self.__dict__["_consults"] = {}
        return table

    def _agent_call(self, ext: str) -> tuple[Channel, Channel]:
        """The agent's leg on ``ext`` and the caller bridged with it."""
        phone = self.phones.get(ext)
        leg = phone.channel if phone is not None else None
        if leg is None or leg.hungup or leg.bridge is None:
            raise LookupError(f"extension {ext} is not in a call")
        peers = [c for c in leg.bridge.members if c is not leg]
        if not peers:
            raise LookupError(f"extension {ext} is alone in its bridge")
        return leg, peers[0]

    # --- hold ---------------------------------------------------------------------------
    async def hold(self, ext: str) -> None:
        """The softphone on ``ext`` puts its call on hold (a re-INVITE with sendonly)."""
        leg, _ = self._agent_call(ext)
        self.hold_leg(leg)

    async def unhold(self, ext: str) -> None:
        """The softphone on ``ext`` resumes its call (a re-INVITE with sendrecv)."""
        leg, _ = self._agent_call(ext)
        self.unhold_leg(leg)

    # --- transfers ----------------------------------------------------------------------
    def _stop_script(self, leg: Channel) -> None:
        """The agent's scripted conversation stops: the call leaves them another way."""
        task = self._talkers.pop(leg.name, None)
        if task is not None:
            task.cancel()

    async def blind_transfer(self, ext: str, target: str) -> None:
        """The softphone on ``ext`` REFERs its caller to ``target``: an agent's extension
        (``cc-deliver,<ext>``) or a queue name (back to ``cc-hold`` with CC_QUEUE)."""
        leg, caller = self._agent_call(ext)
        to_agent = target in self.phones
        context, exten = (dp.DELIVER_CONTEXT, target) if to_agent else (dp.HOLD_CONTEXT, "s")
        if not to_agent:
            self.set_var(caller, dp.CC_QUEUE, target)
        self._blind(leg, caller, context, exten, target)

    def _blind(self, leg: Channel, caller: Channel, context: str, exten: str, to: str) -> None:
        """The transferee leaves for ``context,exten``; the transferer's leg hangs up."""
        bridge = leg.bridge
        assert bridge is not None
        self._stop_script(leg)
        self.emit(
            event(
                "BlindTransfer",
                "call,all",
                [("Result", "Success")],
                leg.block("Transferer"),
                caller.block("Transferee"),
                bridge.headers(),
                [("IsExternal", "Yes"), ("Context", context), ("Extension", exten)],
            )
        )
        handle = self._handles.get(caller.name)
        if handle is not None:
            handle.record.transfers.append(
                {"kind": "blind", "from": _ext(leg), "to": to, "at": self.last_stamp}
            )
        # the transferee leaves for the dialplan; the transferer's phone then hangs up
        self.goto(caller, context, exten, 1)

    async def attended_transfer(self, ext: str, target: str, consult_s: float = 5.0) -> None:
        """The softphone on ``ext`` holds its caller, calls ``target``, talks ``consult_s``
        and completes the transfer: the caller is bridged with the target agent."""
        leg, caller = self._agent_call(ext)
        phone = self.phones.get(target)
        if phone is None or not phone.reachable or not phone.alive or phone.channel is not None:
            raise LookupError(f"extension {target} cannot take a consult call")
        self._stop_script(leg)
        self.hold_leg(leg)
        # the consult call: the agent's phone dials the target from its endpoint's context
        consult = self._new_channel(
            f"PJSIP/{ext}-{self._next_chan():08x}",
            "cc-agents",
            target,
            state=RING,
            cid=(ext, phone_name(self, ext)),
        )
        self._newexten(consult, "Dial", f"PJSIP/{target}")
        other = self._new_channel(
            f"PJSIP/{target}-{self._next_chan():08x}",
            "cc-agents",
            "s",
            state=0,
            linkedid=consult.linkedid,
        )
        other.cid_num, other.conn_num, other.conn_name = target, ext, phone_name(self, ext)
        phone.channel = other
        self._set_state(other, RINGING)
        dest = other.block("Dest")
        self.emit(event("DialBegin", "call,all", consult.block(), dest, [("DialString", target)]))
        self._device(phone, "RINGING")
        await self.sleep(phone.script.answer_delay_s)
        if other.hungup or consult.hungup or caller.hungup:
            return
        self._set_state(other, UP)
        self._set_state(consult, UP)
        self.emit(
            event(
                "DialEnd",
                "call,all",
                consult.block(),
                other.block("Dest"),
                [("DialStatus", "ANSWER")],
            )
        )
        self._device(phone, "INUSE")
        self.bridge(other, consult)
        await self.sleep(consult_s)
        if leg.bridge is None or caller.hungup or other.hungup:
            return
        self._swap(leg, caller, consult, other, external=True)
        self.hangup(consult, 16)

    def _swap(
        self, leg: Channel, caller: Channel, second: Channel, other: Channel, *, external: bool
    ) -> None:
        """Complete an attended transfer: ``other`` (talking with ``second`` in the consult
        bridge) takes ``leg``'s place in the caller's bridge; ``leg`` hangs up."""
        first, consult_bridge = leg.bridge, other.bridge
        assert first is not None and consult_bridge is not None
        phone = self.phones[_ext(other)]
        self._stop_script(leg)
        self.emit(
            event(
                "AttendedTransfer",
                "call,all",
                [("Result", "Success")],
                leg.block("OrigTransferer"),
                first.headers("Orig"),
                second.block("SecondTransferer"),
                consult_bridge.headers("Second"),
                caller.block("Transferee"),
                other.block("TransferTarget"),
                [("IsExternal", "Yes" if external else "No"), ("DestType", "Bridge")],
                [("DestBridgeUniqueid", first.uniqueid)],
            )
        )
        handle = self._handles.get(caller.name)
        record = handle.record if handle is not None else None
        if record is not None:
            record.transfers.append(
                {"kind": "attended", "from": _ext(leg), "to": _ext(other), "at": self.last_stamp}
            )
        # the swap: the target takes the transferer's place in the caller's bridge
        self._unbridge(other)
        other.bridge = first
        first.members.append(other)
        self.emit(event("BridgeEnter", "call,all", first.headers(), other.block()))
        self._unbridge(leg)  # ends the hold and this agent's part, stops the caller's music
        if caller.moh:
            caller.moh = False
            self.emit(event("MusicOnHoldStop", "call,all", caller.block()))
        self.hangup(leg, 16)
        if record is not None:
            record.agent = _ext(other)
            record.talk_segments.append([self.last_stamp, None])
        self._stop_script(other)  # its talk goes on with the caller now
        talk = self.rng.expovariate(1.0 / phone.script.talk_mean_s)
        task = self._spawn(self._talk_then_hangup(other, talk, record))
        self._talkers[other.name] = task

    # --- what the agent desktop asks over AMI -------------------------------------------
    async def _action_pjsipnotify(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        endpoint, uri = m.get("Endpoint") or "", m.get("URI") or ""
        channel = m.get("Channel") or ""
        variables = m.get_all("Variable")
        if bool(m.get("Option")) == bool(variables):
            s.send(resp(aid, "Error", ("Message", NOTIFY_ARGUMENTS)))
            return
        if sum(1 for x in (endpoint, uri, channel) if x) > 1:
            both = NOTIFY_TARGETS + "  You must use only one of them."
            s.send(resp(aid, "Error", ("Message", both)))
            return
        if not (endpoint or uri or channel):
            s.send(resp(aid, "Error", ("Message", NOTIFY_TARGETS)))
            return
        if channel:
            ch = self.channels.get(channel)
            if ch is None or not ch.name.startswith("PJSIP/"):
                s.send(resp(aid, "Error", ("Message", "Channel not found")))
                return
            endpoint = _ext(ch)
        elif endpoint and endpoint not in self.phones and endpoint != "trunk":
            s.send(resp(aid, "Error", ("Message", f"Unable to retrieve endpoint {endpoint}")))
            return
        s.send(resp(aid, "Success", ("Message", "NOTIFY sent")))
        headers = {k.lower(): v for k, v in _pairs(variables)}
        phone = self.phones.get(endpoint)
        what = headers.get("event", "").lower()
        if phone is not None and phone.script.remote_control and what in ("hold", "talk"):
            self._spawn(self._remote_control(endpoint, what))

    async def _remote_control(self, ext: str, what: str) -> None:
        """The desk phone obeys a remote-control NOTIFY: its re-INVITE holds or resumes."""
        await self.sleep(REMOTE_CONTROL_DELAY_S)
        phone = self.phones.get(ext)
        if phone is None or not phone.alive or not phone.reachable:
            return  # the NOTIFY reached nobody
        leg = phone.channel
        if leg is None or leg.hungup or leg.state != UP:
            return
        if what == "hold":
            self.hold_leg(leg)
        else:
            self.unhold_leg(leg)

    async def _action_blindtransfer(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        leg = self._transferer(s, m, aid, needs_exten=True)
        if leg is None:
            return
        exten = m.get("Exten") or ""
        context = m.get("Context") or leg.context
        peers = [c for c in leg.bridge.members if c is not leg] if leg.bridge else []
        if len(peers) != 1:
            s.send(resp(aid, "Error", ("Message", "Transfer invalid")))
            return
        s.send(resp(aid, "Success", ("Message", "Transfer succeeded")))
        self._blind(leg, peers[0], context, exten, exten)

    def _transferer(
        self, s: AmiSession, m: AmiMessage, aid: str | None, *, needs_exten: bool
    ) -> Channel | None:
        """The ``Channel`` of a transfer action, or None after the Error manager.c sends."""
        name = m.get("Channel") or ""
        if not name:
            s.send(resp(aid, "Error", ("Message", "No channel specified")))
            return None
        if needs_exten and not m.get("Exten"):
            s.send(resp(aid, "Error", ("Message", "No extension specified")))
            return None
        leg = self.channels.get(name)
        if leg is None:
            s.send(resp(aid, "Error", ("Message", "Channel specified does not exist")))
        return leg

    async def _action_atxfer(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        leg = self._transferer(s, m, aid, needs_exten=True)
        if leg is None:
            return
        exten, context = m.get("Exten") or "", m.get("Context") or ""
        if context:
            self.set_var(leg, "TRANSFER_CONTEXT", context)
        s.send(resp(aid, "Success", ("Message", "Atxfer successfully queued")))
        peers = [c for c in leg.bridge.members if c is not leg] if leg.bridge else []
        if len(peers) != 1 or leg.name in self._consult_table():
            return  # the feature's keys reach no two-party bridge: nothing happens
        self._start_consult(leg, peers[0], context or leg.context, exten)

    def _start_consult(self, leg: Channel, caller: Channel, context: str, exten: str) -> None:
        # the feature holds the transferer: no music class (write_hold with NULL)
        self.emit(event("Hold", "call,all", leg.block()))
        leg.held_at = self.last_stamp
        if not caller.moh:
            caller.moh = True
            self.emit(event("MusicOnHoldStart", "call,all", caller.block(), [("Class", MOH_CLASS)]))
        base = f"Local/{exten}@{context}-{self._next_chan():08x}"
        local1 = self._new_channel(f"{base};1", context, exten, state=0, linkedid=leg.linkedid)
        local2 = self._new_channel(f"{base};2", context, exten, state=RING, linkedid=leg.linkedid)
        consult = Consult(leg, caller, local1, local2, exten)
        self._consult_table()[leg.name] = consult
        self._start_runner(local2, context, exten, 1)
        self._spawn(self._watch_consult(consult))

    async def _watch_consult(self, consult: Consult) -> None:
        """A consult call that ends before it is completed: the transferer is back."""
        while not consult.local2.hungup and not consult.done:
            await self.sleep(CONSULT_SCAN_S)
        self._end_consult(consult)

    def _end_consult(self, consult: Consult) -> None:
        if consult.done:
            return
        consult.done = True
        self._consult_table().pop(consult.leg.name, None)
        for ch in (consult.local2, consult.local1):
            self.hangup(ch, 16)
        if not consult.leg.hungup:
            self.unhold_leg(consult.leg)  # Unhold; the caller's music stops

    async def _action_cancelatxfer(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        leg = self._transferer(s, m, aid, needs_exten=False)
        if leg is None:
            return
        s.send(resp(aid, "Success", ("Message", "CancelAtxfer successfully queued")))
        consult = self._consult_table().get(leg.name)
        if consult is not None:
            self._end_consult(consult)

    def complete_consult(self, leg: Channel) -> bool:
        """The transferer hangs up during a consult: an answered target takes the caller.

        False: no consult, or its target never answered (the consult ends; the hang-up is
        a plain one).
        """
        consult = self._consult_table().get(leg.name)
        if consult is None:
            return False
        phone = self.phones.get(consult.exten)
        other = phone.channel if phone is not None else None
        if (
            other is None
            or other.state != UP
            or other.bridge is None
            or consult.local2 not in other.bridge.members
            or leg.bridge is None
            or consult.caller.hungup
        ):
            self._end_consult(consult)
            return False
        consult.done = True
        self._consult_table().pop(leg.name, None)
        self._swap(leg, consult.caller, leg, other, external=False)
        for ch in (consult.local2, consult.local1):
            self.hangup(ch, 16)
        return True

    # --- ChanSpy ------------------------------------------------------------------------
    @property
    def spies(self) -> list[dict[str, Any]]:
        """Ground truth of every ChanSpy run: spyer, data, spyee, started_at, ended_at."""
        found: list[dict[str, Any]] | None = self.__dict__.get("_spies")
        if found is None:
            found = self.__dict__["_spies"] = []
        return found

    def _spy_target(self, spyer: Channel, spec: str, bridged_only: bool) -> Channel | None:
        """The channel app_chanspy's iterator finds: the name begins with ``spec`` (any case;
        empty: every channel), not the spyer, not hung up, not itself spying (another
        ChanSpy's channel), and with option ``b`` only one in a bridge."""
        for c in self.channels.values():
            if c is spyer or c.hungup or c.application == "ChanSpy":
                continue
            if bridged_only and c.bridge is None:
                continue
            if c.name.lower().startswith(spec.lower()):
                return c
        return None

    async def _chanspy(self, spyer: Channel, data: str) -> None:
        """``ChanSpy(<chanprefix>,<options>)`` on an originated supervisor's channel, as
        ``apps/app_chanspy.c`` runs it: spy on a channel the prefix names until it or the
        supervisor hangs up, then look again, unless option ``E`` (exit when the spied-on
        channel hangs up); option ``S`` exits when a look finds nothing. When the
        application returns, the originated channel hangs up. ``q`` (no beep), ``w``
        (whisper) and ``B`` (barge) change only the audio: no AMI event tells them."""
        spec, _, options = data.partition(",")
        if spec == "all":
            spec = ""
        # an originated application runs without a Newexten (captures: holding_bridge)
        spyer.application, spyer.app_data = "ChanSpy", data
        run: dict[str, Any] = {
            "spyer": spyer.name,
            "data": data,
            "options": options,
            "spyee": None,
            "started_at": None,
            "ended_at": None,
        }
        self.spies.append(run)
        try:
            while not spyer.hungup:
                spyee = self._spy_target(spyer, spec, "b" in options)
                if spyee is None:
                    if "S" in options:
                        break
                    await self.sleep(SPY_SCAN_S)
                    continue
                self.emit(
                    event("ChanSpyStart", "call,all", spyer.block("Spyer"), spyee.block("Spyee"))
                )
                run["spyee"], run["started_at"] = spyee.name, self.last_stamp
                spyer.spying = spyee  # a hang-up of the spyer stops it first (core._destroy)
                while not spyer.hungup and not spyee.hungup:
                    await self.sleep(0.1)
                self.chanspy_stop(spyer)
                if "E" in options:
                    break
        except asyncio.CancelledError:
            return
        finally:
            run["ended_at"] = self.now()
        if not spyer.hungup:
            self.hangup(spyer, 16)  # the application returned: the channel hangs up


def _ext(ch: Channel) -> str:
    """``PJSIP/1001-0000000a`` -> ``1001``."""
    return ch.name.split("/", 1)[-1].rsplit("-", 1)[0]


def _pairs(variables: list[str]) -> list[tuple[str, str]]:
    """``Variable: Event=hold,Other=x`` headers as (name, value) pairs (manager.c splits
    each on commas)."""
    out = []
    for header in variables:
        for item in header.split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                out.append((name.strip(), value.strip()))
    return out


ACTIONS: dict[str, ActionHandler] = {
    "pjsipnotify": FeaturesMixin._action_pjsipnotify,
    "blindtransfer": FeaturesMixin._action_blindtransfer,
    "atxfer": FeaturesMixin._action_atxfer,
    "cancelatxfer": FeaturesMixin._action_cancelatxfer,
}
