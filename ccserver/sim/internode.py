"""An inter-node trunk between two simulators: a caller on one node rings a seat on another.

Node A runs ``cc-deliver-remote``: ``Dial(PJSIP/<seat>@<trunk>)`` makes an
outbound trunk leg on A (DialBegin from the caller), and the other simulator
(node B) gets the inbound trunk line in ``cc-remote-in``: it is marked
``CC_REMOTE_OF=<node>/<call id>`` (the X-CC-Remote-Of header in the real
dialplan) and dials the local seat as ``cc-deliver`` would. B's answer, busy or
unavailable comes back to A as the trunk leg's DialEnd; A times the ring (B's
own Dial has no timeout of its note). A hang-up on either side hangs the other
side's trunk line up, as the SIP BYE would. The link is in-process: both
simulators run in one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from contracts import dialplan as dp

from .channels import RING, RINGING, UP, Channel, event
from .dialplan import DialplanMixin

# Q.850 causes of a trunk leg that did not connect, by DIALSTATUS
_CAUSES = {"NOANSWER": 19, "BUSY": 17, "CHANUNAVAIL": 20, "CONGESTION": 34}


def link_trunk(a: InterNodeMixin, b: InterNodeMixin, a_to_b: str, b_to_a: str) -> None:
    """Join two simulators by an inter-node trunk: endpoint ``a_to_b`` on ``a`` reaches
    ``b`` (where its calls arrive from endpoint ``b_to_a``), and the other way round."""
    a.trunks[a_to_b] = (b, b_to_a)
    b.trunks[b_to_a] = (a, a_to_b)


class InterNodeMixin(DialplanMixin):
    """``cc-deliver-remote`` on the caller's node, ``cc-remote-in`` on the seat's."""

    def _more_runners(self) -> dict[str, Callable[[Channel], Any]]:
        return {dp.DELIVER_REMOTE_CONTEXT: self._deliver_remote}

    async def _deliver_remote(self, ch: Channel) -> None:
        ext, trunk = ch.exten, ch.variables.get(dp.CC_TRUNK, "")
        timeout = float(ch.variables.get("CC_RING_TIMEOUT") or self.scenario.ring_timeout_s)
        remote_call = ch.variables.get(dp.CC_REMOTE_CALL, "")
        self._step(
            ch, "Dial", f"PJSIP/{ext}@{trunk},{int(timeout)},gb(cc-remote-mark^s^1({remote_call}))"
        )
        status = await self._dial_remote(ch, ext, trunk, timeout, remote_call)
        self.set_var(ch, "DIALSTATUS", status)
        if ch.hungup:
            return
        if status == "ANSWER":
            self._step(ch, "Hangup", "")
            self.hangup(ch, 16)
            return
        self._step(ch, "Goto", "cc-hold,s,1")
        ch.context, ch.exten, ch.priority = "cc-hold", "s", 1

    async def _dial_remote(
        self, caller: Channel, ext: str, trunk: str, timeout: float, remote_call: str
    ) -> str:
        """Dial a seat on another node over the trunk; returns DIALSTATUS (A's side)."""
        handle = self._handles.get(caller.name)
        attempt: dict[str, Any] = {"agent": ext, "at": self.now(), "seat": f"via {trunk}"}
        if handle is not None:
            handle.record.ring_attempts.append(attempt)
        link = self.trunks.get(trunk)
        if link is None:  # no such endpoint: the channel request fails at once
            attempt["result"] = "CHANUNAVAIL"
            return "CHANUNAVAIL"
        peer, back = link
        leg = self._new_channel(
            f"PJSIP/{trunk}-{self._next_chan():08x}",
            dp.REMOTE_IN_CONTEXT,
            "s",
            state=0,
            linkedid=caller.linkedid,
        )
        leg.cid_num, leg.cid_name = caller.exten, caller.cid_name
        leg.conn_num, leg.conn_name = caller.cid_num, caller.cid_name
        leg.exten = ext
        self._newexten(leg, "AppDial", "(Outgoing Line)")
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        far: list[Channel] = []

        def near_gone() -> None:  # A's leg hung up: B's line follows (the BYE)
            if far and not far[0].hungup:
                peer.hangup(far[0], leg.hangup_cause)

        leg.on_hangup = near_gone
        self._set_state(leg, RINGING)
        dest = leg.block("Dest")
        self.emit(
            event("DialBegin", "call,all", caller.block(), dest, [("DialString", f"{ext}@{trunk}")])
        )
        self.emit(event("DialState", "call,all", caller.block(), dest, [("DialStatus", "RINGING")]))
        peer._remote_inbound(self, back, ext, remote_call, timeout, outcome, far, leg, caller)
        try:
            async with asyncio.timeout(timeout * self.time_scale):
                status = await asyncio.shield(outcome)
        except TimeoutError:
            status = "NOANSWER"
        except asyncio.CancelledError:
            self._dial_cancelled(caller, leg, attempt)
            raise
        attempt["result"] = status
        if status != "ANSWER" or leg.hungup:
            status = status if status != "ANSWER" else "CHANUNAVAIL"
            self._dial_end(caller, leg, status)
            self._destroy(leg, _CAUSES.get(status, 16))
            return status
        self._set_state(leg, UP)
        leg.exten = ""
        self._dial_end(caller, leg, "ANSWER")
        answered_at = self.last_stamp
        self.bridge(leg, caller)
        if handle is not None:
            rec = handle.record
            if rec.answered_at is None:
                rec.answered_at = answered_at
            rec.agent = ext
            rec.outcome = "answered"
            rec.talk_segments.append([answered_at, None])
        bridge = caller.bridge
        if bridge is not None:
            await bridge.emptied.wait()  # Dial() returns when the conversation is over
        return "ANSWER"

    def _remote_hung_up(self, leg: Channel) -> None:
        """B's line hung up after the answer (the seat ended the call): A's leg leaves."""
        if leg.hungup:
            return
        peer = leg.bridge
        self._destroy(leg, 16)
        if peer is not None:
            record = self._bridge_record(peer)
            for other in list(peer.members):
                self._unbridge(other)
            if record is not None:
                record.talk_ended_at = leg.left_bridge_at

    def _remote_inbound(
        self,
        origin: InterNodeMixin,
        trunk: str,
        ext: str,
        remote_call: str,
        timeout: float,
        outcome: asyncio.Future[str],
        far: list[Channel],
        near: Channel,
        caller: Channel,
    ) -> None:
        """The inbound trunk line on this node (B): ``cc-remote-in`` rings the local seat."""
        ch = self._new_channel(
            f"PJSIP/{trunk}-{self._next_chan():08x}",
            dp.REMOTE_IN_CONTEXT,
            ext,
            state=RING,
            cid=(caller.cid_num, caller.cid_name),
        )
        far.append(ch)

        def far_gone() -> None:
            if not outcome.done():
                outcome.set_result("CHANUNAVAIL")
            elif outcome.result() == "ANSWER":
                origin._remote_hung_up(near)

        ch.on_hangup = far_gone
        self._runners[ch.name] = self._spawn(self._remote_in(ch, remote_call, timeout, outcome))

    async def _remote_in(
        self, ch: Channel, remote_call: str, timeout: float, outcome: asyncio.Future[str]
    ) -> None:
        def answered() -> None:
            if not outcome.done():
                outcome.set_result("ANSWER")

        try:
            ch.priority = 1
            self._step(ch, "Set", f"CC_REMOTE_OF=${{PJSIP_HEADER(read,{dp.REMOTE_OF_HEADER})}}")
            self.set_var(ch, dp.CC_REMOTE_OF, remote_call)
            self._step(ch, "Dial", f"PJSIP/{ch.exten}")
            # the caller's node times the ring: this Dial outlasts it
            status = await self._dial(ch, ch.exten, 2 * timeout + 1, on_answer=answered)
            if ch.hungup:
                return
            self.set_var(ch, "DIALSTATUS", status)
            if not outcome.done():
                outcome.set_result(status)
            self._step(ch, "Hangup", "")
            self.hangup(ch, 16 if status == "ANSWER" else _CAUSES.get(status, 16))
        except asyncio.CancelledError:
            pass
