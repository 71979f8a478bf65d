"""The hotline dialplan the simulator runs on each channel, one asyncio task per channel.

    cc-hotline: Answer, Set(CC_ENTERED), [AGI(agi://host:port/ivr)], Goto(cc-hold)
    cc-hold:    Set(CC_QUEUED) the first time, MusicOnHold until redirected or the caller
                hangs up
    cc-deliver: Dial(PJSIP/<exten>, ring timeout, g); back to cc-hold unless
                answered; after the agent hangs up, AGI(.../survey) if CC_SURVEY=1
    cc-wait:    offer / announce: AGI(.../wait_offer|announce), back to cc-hold
    cc-callback: repair / outage: AGI(.../<exten>), Hangup;
                 queue: AGI(.../callback), Goto(cc-deliver,${CC_AGENT_ENDPOINT},1)
    cc-transfer: queue-<name>: Set(CC_QUEUED=), Goto(cc-hold); <endpoint>: Dial (the
                 consult call of the desk's attended transfer), Hangup

``Redirect`` cancels a channel's task and starts it again at the new place, as
Asterisk's async goto does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from contracts import dialplan as dp

from .agi import AgiHooks, AgiSession, DtmfScript
from .channels import RINGING, UP, Channel, Headers, event
from .core import SimCore
from .truth import CallerRecord

# simulated seconds until an INVITE to a dead softphone fails at the transport
TRANSPORT_FAILURE_S = 0.5


# cc-hold's first priority (asterisk/extensions.conf): the first queue entry, in ms
HOLD_SINCE = "CC_QUEUED=${IF($[${LEN(${CC_QUEUED})} > 0]?${CC_QUEUED}:${STRFTIME(,,%s.%3q)})}"


class DialplanMixin(SimCore):
    """Runs the hotline contexts on channels and dials the agents' softphones."""

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
            runners = {
                "cc-hotline": self._hotline,
                "cc-hold": self._hold,
                "cc-deliver": self._deliver,
                "cc-callback": self._callback,
                "cc-wait": self._wait,
                "cc-transfer": self._transfer,
                **self._more_runners(),
            }
            while not ch.hungup:
                runner = runners.get(ch.context)
                if runner is None:
                    return
                await runner(ch)
        except asyncio.CancelledError:
            pass

    def _more_runners(self) -> dict[str, Callable[[Channel], Any]]:
        """Contexts other mixins run (the inter-node trunk's)."""
        return {}

    def _step(self, ch: Channel, app: str, data: str) -> None:
        self._newexten(ch, app, data)
        ch.priority += 1

    async def _hotline(self, ch: Channel) -> None:
        ch.priority = 1
        self._step(ch, "Answer", "")
        self._set_state(ch, UP)
        self._step(ch, "Set", f"CHANNEL(hangup_handler_push)=cc-record,{dp.RECORD_ENDED_EXTEN},1")
        ch.hangup_handler = dp.RECORD_ENDED_EXTEN
        self._step(ch, "Set", "CC_ENTERED=${STRFTIME(,,%s.%3q)}")
        self.set_var(ch, "CC_ENTERED", f"{self.now():.3f}")
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
        self._step(ch, "Set", HOLD_SINCE)
        handle = self._handles.get(ch.name)
        if handle is not None and handle.record.entered_hold_at is None:
            handle.record.entered_hold_at = self.last_stamp  # the wait starts on entering cc-hold
        if not ch.variables.get("CC_QUEUED"):
            self.set_var(ch, "CC_QUEUED", f"{self.now():.3f}")
        self._step(ch, "MusicOnHold", "default")
        await asyncio.Event().wait()  # until redirected or hung up

    async def _transfer(self, ch: Channel) -> None:
        """cc-transfer: queue-<name> back to the hold (a fresh wait start), or ring an
        agent's endpoint for an attended transfer's consult (no survey, no AstDB note)."""
        ch.priority = 1
        if ch.exten.startswith("queue-"):
            self._step(ch, "Set", "CC_QUEUED=")
            self.set_var(ch, "CC_QUEUED", "")
            self._to_hold(ch)
            return
        timeout = float(ch.variables.get("CC_RING_TIMEOUT") or self.scenario.ring_timeout_s)
        self._step(ch, "Dial", f"PJSIP/{ch.exten},{int(timeout)}")
        status = await self._dial(ch, ch.exten, timeout, note_answer=False)
        self.set_var(ch, "DIALSTATUS", status)
        if not ch.hungup:
            self._step(ch, "Hangup", "")
            self.hangup(ch, 16)

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

    async def _dial(
        self,
        caller: Channel,
        ext: str,
        timeout: float,
        on_answer: Callable[[], None] | None = None,
        *,
        note_answer: bool = True,
    ) -> str:
        """Dial an agent softphone from a caller channel; returns DIALSTATUS.

        ``note_answer``: the Dial has ``U(cc-record^answered^1)`` (cc-deliver's does);
        ``on_answer``: an inter-node trunk's caller hears the answer.
        """
        phone = self.phones.get(ext)
        handle = self._handles.get(caller.name)
        seat = phone.status if phone is not None else "unknown"
        attempt: dict[str, Any] = {"agent": ext, "at": self.now(), "seat": seat}
        if handle is not None:
            handle.record.ring_attempts.append(attempt)
        if phone is None or not phone.reachable:
            # the channel request fails at once: no PJSIP leg, no DialBegin/DialEnd (pjsip_dial)
            attempt["result"] = "CHANUNAVAIL"
            return "CHANUNAVAIL"
        agent = self._agent_leg(caller, ext)
        dest = agent.block("Dest")
        if not phone.alive:
            # a contact whose softphone died: the INVITE fails at the transport
            return await self._dial_dead_phone(caller, agent, ext, attempt)
        busy = phone.channel is not None or self.rng.random() < phone.script.busy_prob
        if busy:
            self.emit(event("DialBegin", "call,all", caller.block(), dest, [("DialString", ext)]))
            self._destroy(agent, 17)
            self._dial_end(caller, agent, "BUSY")
            attempt["result"] = "BUSY"
            return "BUSY"
        phone.channel = agent
        self._set_state(agent, RINGING)  # the softphone's 180 comes before DialBegin
        dest = agent.block("Dest")
        self.emit(event("DialBegin", "call,all", caller.block(), dest, [("DialString", ext)]))
        self.emit(event("DialState", "call,all", caller.block(), dest, [("DialStatus", "RINGING")]))
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
            self._dial_cancelled(caller, agent, attempt)
            raise
        if agent.hungup:
            attempt["result"] = "CHANUNAVAIL"
            return "CHANUNAVAIL"
        self._set_state(agent, UP)
        agent.exten = ""  # as captured: the answered leg leaves the dialled extension
        self._dial_end(caller, agent, "ANSWER")
        answered_at = self.last_stamp
        attempt["result"] = "ANSWER"
        if note_answer:
            self.record_answered(caller, agent)  # Dial's U(cc-record^answered^1)

        def answered() -> None:  # between BridgeCreate and BridgeEnter, as in pjsip_dial
            self._newexten(agent, "AppDial", "(Outgoing Line)")
            self._device(phone, "INUSE")

        self.bridge(agent, caller, on_create=answered)
        if on_answer is not None:  # an inter-node trunk's caller hears the answer now
            on_answer()
        if handle is not None:
            rec = handle.record
            if rec.answered_at is None:  # a transferred call keeps its first answer
                rec.answered_at = answered_at
            rec.agent = ext  # the last agent who took it
            rec.outcome = "answered"
            rec.talk_segments.append([answered_at, None])
        talk = self.rng.expovariate(1.0 / phone.script.talk_mean_s)
        hold_at = hold_len = None
        script = phone.script
        if script.hold_prob > 0 and self.rng.random() < script.hold_prob:
            hold_at, hold_len = talk / 2, self.rng.expovariate(1.0 / script.hold_mean_s)
        record = handle.record if handle else None
        self._talkers[agent.name] = self._spawn(
            self._talk_then_hangup(agent, talk, record, hold_at, hold_len)
        )
        bridge = caller.bridge
        if bridge is not None:
            await bridge.emptied.wait()  # Dial() returns when the conversation is over
        return "ANSWER"

    def _agent_leg(self, caller: Channel, ext: str) -> Channel:
        """The PJSIP leg Dial() requests, with the events Asterisk sends before the INVITE."""
        agent = self._new_channel(
            f"PJSIP/{ext}-{self._next_chan():08x}",
            "cc-agents",
            "s",
            state=0,
            linkedid=caller.linkedid,
        )
        self.set_var(agent, "DIALEDPEERNUMBER", ext)
        # the called leg shows the dialled extension as its caller id, the caller as connected
        agent.cid_num, agent.cid_name = caller.exten, caller.cid_name
        agent.conn_num, agent.conn_name = caller.cid_num, caller.cid_name
        agent.exten = caller.exten
        self._newexten(agent, "AppDial", "(Outgoing Line)")
        pres = [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
        self.emit(event("NewCallerid", "call,all", agent.block(), pres))
        self.emit(event("NewConnectedLine", "call,all", agent.block()))
        return agent

    async def _dial_dead_phone(
        self, caller: Channel, agent: Channel, ext: str, attempt: dict[str, Any]
    ) -> str:
        """Dial to a contact that no longer answers: DialBegin, then CHANUNAVAIL shortly."""
        dest = agent.block("Dest")
        self.emit(event("DialBegin", "call,all", caller.block(), dest, [("DialString", ext)]))
        try:
            await self.sleep(TRANSPORT_FAILURE_S)
        except asyncio.CancelledError:
            self._dial_cancelled(caller, agent, attempt)
            raise
        self._dial_end(caller, agent, "CHANUNAVAIL")
        self._destroy(agent, 20)
        attempt["result"] = "CHANUNAVAIL"
        return "CHANUNAVAIL"

    def _dial_cancelled(self, caller: Channel, agent: Channel, attempt: dict[str, Any]) -> None:
        """The caller left (hung up, redirected) while the agent's leg rang."""
        if not agent.hungup:
            self._dial_end(caller, agent, "CANCEL")
            self._destroy(agent, 16)
            attempt["result"] = "CANCEL"

    def _dial_end(self, caller: Channel, agent: Channel, status: str) -> None:
        self.emit(
            event(
                "DialEnd", "call,all", caller.block(), agent.block("Dest"), [("DialStatus", status)]
            )
        )

    async def _talk_then_hangup(
        self,
        agent: Channel,
        talk: float,
        record: CallerRecord | None,
        hold_at: float | None = None,
        hold_len: float | None = None,
    ) -> None:
        if hold_at is not None and hold_len is not None:
            # the agent puts the caller on hold once, half-way through, then resumes
            await self.sleep(hold_at)
            if self.hold_leg(agent):
                await self.sleep(hold_len)
                self.unhold_leg(agent)
            talk -= hold_at
        await self.sleep(talk)
        self.agent_hangs_up(agent, record)

    def agent_hangs_up(self, agent: Channel, record: CallerRecord | None = None) -> None:
        """The agent ends the conversation: their leg leaves, the caller's Dial() returns
        (the caller goes on in the dialplan: the survey, else Hangup)."""
        talking = self._talkers.pop(agent.name, None)
        if talking is not None and talking is not asyncio.current_task():
            talking.cancel()
        if agent.hungup:
            return
        self.emit(event("HangupRequest", "call,all", agent.block(), [("Cause", "16")]))
        peer = agent.bridge
        if record is None and peer is not None:
            handle = next((h for m in peer.members if (h := self._handles.get(m.name))), None)
            record = handle.record if handle is not None else None
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
