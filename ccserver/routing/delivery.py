"""Effects become AMI actions: offers delivered, callers sent back to hold, callbacks.

Delivery choice: a waiting caller sits in ``cc-hold``; on an offer the caller's
channel is redirected (AMI ``Redirect``) to ``cc-deliver,<agent endpoint>,1``,
whose ``Dial(PJSIP/<endpoint>)`` rings the softphone. Asterisk itself then
reports the outcome (DialEnd ANSWER / NOANSWER / BUSY / CHANUNAVAIL) and, when
the Dial does not connect, returns the caller to ``cc-hold`` with their place
kept by the engine. Redirect keeps one channel per caller (no originated agent
leg to tidy up if ccserver dies mid-offer) and lets the dialplan own ringing.
An offer that cannot be sent (the link is down, the Redirect refused) is
nobody's fault: the call keeps its place, the agent is not marked.
"""

from __future__ import annotations

import contextlib
import logging
from typing import assert_never

from acd.effects import (
    Abandoned,
    Adopted,
    AgentStateChanged,
    CallbackGaveUp,
    CallbackQueued,
    CallbackRetry,
    CancelOffer,
    CancelWhy,
    ConfigApplied,
    ConfigRefused,
    Connected,
    DeviceNoted,
    Effect,
    Escalated,
    MaxWaitReached,
    Offer,
    Overflowed,
    PreferenceExpired,
    Queued,
    Refused,
    Requeued,
    Resumed,
    SkillsChanged,
    Transferred,
)
from acd.events import (
    CallAbandoned,
    CallbackFailed,
    OfferFailed,
    OfferFailure,
)
from acd.model import CallState
from contracts import dialplan as dp
from contracts.masking import mask_number
from cti.connection import AmiConnectionLost, AmiError, AmiNotConnected

from .recording import Recording

log = logging.getLogger("ccserver.orchestrator")
# max-wait actions the dialplan's cc-wait context plays (extension per action)
WAIT_SCRIPTS = {"callback": dp.WAIT_OFFER_EXTEN, "announce": dp.WAIT_ANNOUNCE_EXTEN}


class Delivery(Recording):
    """Carries out the effects that need Asterisk to do something."""

    def _carry_out(self, effect: Effect) -> None:
        """The AMI side of an effect, if it has one (every effect is in the log already)."""
        match effect:
            case Offer():
                self._tasks.spawn(self._deliver(effect), name="acd.deliver")
            case CancelOffer(why=CancelWhy.RING_TIMEOUT):
                self._tasks.spawn(self._back_to_hold(effect), name="acd.back_to_hold")
            case MaxWaitReached(action=action) if action in WAIT_SCRIPTS:
                self._tasks.spawn(self._wait_script(effect), name="acd.wait_script")
            case Connected() | Adopted():
                self._start_recording(effect)  # when its queue is recorded (routing.recording)
            case (
                CancelOffer()
                | MaxWaitReached()
                | AgentStateChanged()
                | Refused()
                | SkillsChanged()
                | DeviceNoted()
                | Queued()
                | Resumed()
                | Transferred()
                | Requeued()
                | Abandoned()
                | Escalated()
                | PreferenceExpired()
                | Overflowed()
                | CallbackQueued()
                | CallbackRetry()
                | CallbackGaveUp()
                | ConfigApplied()
                | ConfigRefused()
            ):
                pass  # Asterisk already did it (or has nothing to do): recorded only
            case _:
                assert_never(effect)

    async def _deliver(self, d: Offer) -> None:
        call_id, agent_id = d.call_id or "", d.agent_id or ""
        call = self.engine.calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED or call.agent_id != agent_id:
            # withdrawn before it went out (the agent found busy, the caller gone): a
            # Redirect now would pull the caller away from wherever they are
            return
        channel = self._caller_channel.get(call_id)
        endpoint = d.endpoint
        ring = int(d.ring_timeout_s)
        if channel is None and d.callback:
            await self._call_back(call_id, agent_id, d.callback, endpoint, ring)
            return
        node = self.node_of(call_id)
        cti = self.nodes[node]  # the caller's node carries the offer out
        context = self.hotline.deliver_context
        variables = [(dp.CC_RING_TIMEOUT, str(ring)), (dp.CC_AGENT_ID, agent_id)]
        try:
            if channel is None:
                raise AmiError("caller channel unknown")
            if self.multi and d.node is not None and d.node != node:
                # a seat on another node: Dial it over the inter-node trunk, marked so
                # that node takes the line for a leg of this call
                trunk = self.trunks.get(node, {}).get(d.node)
                if trunk is None:
                    raise AmiError(f"no trunk from node {node} to node {d.node}")
                context = self.hotline.deliver_remote_context
                variables += [(dp.CC_TRUNK, trunk), (dp.CC_REMOTE_CALL, f"{node}/{call_id}")]
            # one round trip: Asterisk sets the variables, then redirects, in this order
            setvars = [
                ("Setvar", [("Channel", channel), ("Variable", name), ("Value", value)])
                for name, value in variables
            ]
            redirect = [
                ("Channel", channel), ("Context", context), ("Exten", endpoint), ("Priority", "1")
            ]  # fmt: skip
            reply = (await cti.send_actions([*setvars, ("Redirect", redirect)]))[-1]
            if reply.response != "Success":
                raise AmiError(reply.get("Message") or "Redirect refused")
        except (AmiError, TimeoutError) as exc:
            log.warning("delivery of call %s to %s failed: %s", call_id, agent_id, exc)
            if isinstance(exc, AmiNotConnected | AmiConnectionLost):
                self._link_lost(node)  # before the requeue: nobody is offered it meanwhile
            call = self.engine.calls.get(call_id)
            if call is not None and call.state is CallState.OFFERED and call.agent_id == agent_id:
                if channel is None or cti.tracker.channel_by_name(channel) is None:
                    self.handle(CallAbandoned(call_id))
                else:
                    # ccserver could not deliver it: neither the agent's nor the phone's fault
                    self.handle(OfferFailed(call_id, agent_id, OfferFailure.NOT_DELIVERED))

    async def _call_back(
        self, call_id: str, agent_id: str, number: str, endpoint: str, ring: int
    ) -> None:
        """A queue callback reached an agent: ring the customer, then the agent.

        The agent is reserved while the customer's phone rings; when the
        customer answers, ``cc-callback,queue`` tells them they are being
        connected and dials the agent, and the usual DialEnd settles the offer.
        """
        call = self.engine.calls.get(call_id)
        variables = {
            dp.CC_CALL_ID: call_id,
            dp.CC_AGENT_ENDPOINT: endpoint,
            dp.CC_AGENT_ID: agent_id,
            dp.CC_RING_TIMEOUT: str(ring),
            dp.CC_QUEUE: call.queue if call else "",
        }
        if self.dialer is None:
            self.handle(CallbackFailed(call_id))
            return
        # placed on the node of the agent's softphone: cc-callback dials the agent there
        agent = self.engine.agents.get(agent_id)
        node = agent.node if agent is not None and agent.node in self.nodes else self.cti.node
        dialed = await self.dialer.call(number, "queue", variables, via=self.nodes[node])
        if dialed.answered and call_id in self.engine.calls:
            # the answered leg is the caller's channel now; its uniqueid is its linkedid
            self._alias[dialed.uniqueid] = call_id
            self._caller_channel[call_id] = dialed.channel
            self._call_node[call_id] = node
            log.info("callback for call %s answered by %s", call_id, mask_number(number))
            return
        log.info("callback for call %s to %s: %s", call_id, mask_number(number), dialed.detail)
        self.handle(CallbackFailed(call_id))

    async def _wait_script(self, d: MaxWaitReached) -> None:
        """Max wait reached: offer a callback, or announce, then back to the queue.

        The caller keeps their place; ``cc-wait,<offer|announce>`` runs the IVR's
        ``wait_offer`` / ``announce`` route and returns to ``cc-hold``. An offer
        made meanwhile redirects the caller to the agent as usual.
        """
        action = d.action
        await self._redirect(d.call_id, self.hotline.wait_context, WAIT_SCRIPTS[action])

    async def _back_to_hold(self, d: CancelOffer) -> None:
        await self._redirect(d.call_id, self.hotline.hold_context, "s")

    async def _redirect(self, call_id: str | None, context: str, exten: str) -> None:
        """Send the caller's channel to ``context,exten,1``; a gone channel is no error."""
        channel = self._caller_channel.get(call_id or "")
        if channel is None:
            return
        with contextlib.suppress(AmiError, TimeoutError):
            await self.nodes[self.node_of(call_id or "")].send_action(
                "Redirect",
                [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", "1")],
            )
