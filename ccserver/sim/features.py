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

The deployment dialplan has no transfer context yet: the simulator sends a transferee
where ``TRANSFER_CONTEXT`` would have to: an agent's extension to ``cc-deliver,<ext>``,
the queue to ``cc-hold`` with ``CC_QUEUE`` set.
"""

from __future__ import annotations

import asyncio

from contracts import dialplan as dp

from .channels import RING, RINGING, UP, Channel, event
from .dialplan import DialplanMixin

# app_chanspy looks for a channel to spy on about once a second while it has none
SPY_SCAN_S = 1.0


def phone_name(sim: DialplanMixin, ext: str) -> str:
    """The caller-id name of an agent's phone (its scripted name, else the extension)."""
    phone = sim.phones.get(ext)
    return (phone.script.name if phone is not None else "") or ext


class FeaturesMixin(DialplanMixin):
    """Hold, blind and attended transfers from agents' phones; ChanSpy for supervisors."""

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
                {"kind": "blind", "from": ext, "to": target, "at": self.last_stamp}
            )
        if not to_agent:
            self.set_var(caller, dp.CC_QUEUE, target)
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
        second = self.bridge(other, consult)
        await self.sleep(consult_s)
        first = leg.bridge
        if first is None or caller.hungup or other.hungup:
            return
        self.emit(
            event(
                "AttendedTransfer",
                "call,all",
                [("Result", "Success")],
                leg.block("OrigTransferer"),
                first.headers("Orig"),
                consult.block("SecondTransferer"),
                second.headers("Second"),
                caller.block("Transferee"),
                other.block("TransferTarget"),
                [("IsExternal", "Yes"), ("DestType", "Bridge")],
                [("DestBridgeUniqueid", first.uniqueid)],
            )
        )
        handle = self._handles.get(caller.name)
        record = handle.record if handle is not None else None
        if record is not None:
            record.transfers.append(
                {"kind": "attended", "from": ext, "to": target, "at": self.last_stamp}
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
        self.hangup(consult, 16)
        if record is not None:
            record.agent = target
            record.talk_segments.append([self.last_stamp, None])
        talk = self.rng.expovariate(1.0 / phone.script.talk_mean_s)
        task = self._spawn(self._talk_then_hangup(other, talk, record))
        self._talkers[other.name] = task

    # --- ChanSpy ------------------------------------------------------------------------
    async def _chanspy(self, spyer: Channel, data: str) -> None:
        """``ChanSpy(<prefix>,<options>)`` on a supervisor's channel: spy on the first live
        channel whose name starts with the prefix, until it or the supervisor hangs up."""
        prefix = data.split(",", 1)[0]
        self._newexten(spyer, "ChanSpy", data)
        try:
            while not spyer.hungup:
                spyee = next(
                    (
                        c
                        for c in self.channels.values()
                        if c is not spyer and c.name.startswith(f"{prefix}-") and c.state == UP
                    ),
                    None,
                )
                if spyee is None:
                    await self.sleep(SPY_SCAN_S)
                    continue
                self.emit(
                    event("ChanSpyStart", "call,all", spyer.block("Spyer"), spyee.block("Spyee"))
                )
                spyer.spying = spyee  # a hang-up of the spyer stops it first (core._destroy)
                while not spyer.hungup and not spyee.hungup:
                    await self.sleep(0.1)
                self.chanspy_stop(spyer)
        except asyncio.CancelledError:
            pass
