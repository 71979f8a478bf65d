"""The AMI actions of the simulated manager, answered the way Asterisk 22 answers them."""

from __future__ import annotations

import asyncio
import hashlib

from cti.wire import AmiMessage

from .channels import UP, Channel, Headers, event
from .core import CONTEXTS, VERSION
from .dialplan import DialplanMixin
from .features import ACTIONS as FEATURE_ACTIONS
from .features import FeaturesMixin
from .recording import ACTIONS as RECORDING_ACTIONS
from .recording import RecordingMixin
from .session import ActionHandler, AmiSession, event_mask, resp


class ActionsMixin(RecordingMixin, DialplanMixin):
    """Session, channel and dialplan actions (Originate and PJSIP ones live elsewhere)."""

    async def _action_challenge(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.challenge = str(self.rng.randrange(100_000_000, 999_999_999))
        s.send(resp(aid, "Success", ("Challenge", s.challenge)))

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
            s.send(resp(aid, "Error", ("Message", "Authentication failed")))
            await asyncio.sleep(0)
            s.close()
            return
        s.authenticated = True
        s.events = event_mask(m.get("Events"))
        s.send(resp(aid, "Success", ("Message", "Authentication accepted")))
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
        s.send(resp(aid, "Goodbye", ("Message", "Thanks for all the fish.")))
        s.close()

    async def _action_ping(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.send(resp(aid, "Success", ("Ping", "Pong"), ("Timestamp", f"{self.now():.6f}")))

    async def _action_events(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.events = event_mask(m.get("EventMask"))
        s.send(resp(aid, "Success", ("Events", "Off" if s.events == set() else "On")))

    async def _action_userevent(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("UserEvent") or ""
        extra = [
            (k, v) for k, v in m.headers if k.lower() not in ("action", "actionid", "userevent")
        ]
        s.send(resp(aid, "Success"))
        self.emit(event("UserEvent", "user,all", [("UserEvent", name)], extra))

    async def _action_command(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        cmd = (m.get("Command") or "").strip()
        if cmd == "core show version":
            out = f"Asterisk {VERSION} built by ccserver-sim on a x86_64 running Linux"
            s.send(resp(aid, "Success", ("Message", "Command output follows"), ("Output", out)))
        elif cmd == "core show channels concise":
            lines = [self._concise(ch) for ch in self.channels.values()]
            s.send(
                resp(
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
            s.send(resp(aid, "Error", ("Message", "Command output follows"), ("Output", out)))

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
                s.send(resp(aid, "Error", ("Message", "No such channel")))
                return
            self.set_var(ch, var, value)
        s.send(resp(aid, "Success", ("Message", "Variable Set")))

    async def _action_getvar(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel")
        var = m.get("Variable") or ""
        ch = self.channels.get(name or "")
        if name and ch is None:
            s.send(resp(aid, "Error", ("Message", "No such channel")))
            return
        value = ""
        if ch is not None:
            value = {"CHANNEL": ch.name, "UNIQUEID": ch.uniqueid}.get(
                var, ch.variables.get(var, "")
            )
        s.send(resp(aid, "Success", ("Variable", var), ("Value", value)))

    async def _action_coreshowchannels(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.send(resp(aid, "Success", ("EventList", "start"), ("Message", "Channels will follow")))
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
                s.send(resp(aid, "Error", ("Message", "No such channel")))
                return
            chans = [one]
        else:
            chans = list(self.channels.values())
        s.send(
            resp(aid, "Success", ("EventList", "start"), ("Message", "Channel status will follow"))
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
            s.send(resp(aid, "Error", ("Message", "Channel not found")))
            return
        digit = (m.get("Digit") or "")[:1]
        if not digit:
            s.send(resp(aid, "Error", ("Message", "No digit specified")))
            return
        s.send(resp(aid, "Success", ("Message", "DTMF successfully queued")))
        self.dtmf(ch, digit, begin=(m.get("Receive") or "").lower() != "true")

    async def _action_hangup(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        ch = self.channels.get(m.get("Channel") or "")
        if ch is None:
            s.send(resp(aid, "Error", ("Message", "No such channel")))
            return
        cause = int(m.get("Cause") or 16) if (m.get("Cause") or "16").isdigit() else 16
        s.send(resp(aid, "Success", ("Message", "Channel Hungup")))
        if isinstance(self, FeaturesMixin) and self.complete_consult(ch):
            return  # the transferer left an attended transfer: the target has the caller
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
            s.send(resp(aid, "Error", ("Message", f"Channel does not exist: {name}")))
            return
        context, exten = m.get("Context") or "", m.get("Exten") or ""
        if context not in CONTEXTS:
            s.send(resp(aid, "Error", ("Message", "Redirect failed")))
            return
        prio = int(m.get("Priority") or 1) if (m.get("Priority") or "1").isdigit() else 1
        s.send(resp(aid, "Success", ("Message", "Redirect successful")))
        self.goto(ch, context, exten, prio)

    async def _action_bridge(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        n1, n2 = m.get("Channel1") or "", m.get("Channel2") or ""
        c1, c2 = self.channels.get(n1), self.channels.get(n2)
        if c1 is None:
            s.send(resp(aid, "Error", ("Message", f"Channel1 does not exist: {n1}")))
            return
        if c2 is None:
            s.send(resp(aid, "Error", ("Message", f"Channel2 does not exist: {n2}")))
            return
        s.send(resp(aid, "Success", ("Message", "Channels have been bridged")))
        for ch in (c1, c2):
            task = self._runners.pop(ch.name, None)
            if task is not None:
                task.cancel()
            self._unbridge(ch)
        self.bridge(c1, c2)


ACTIONS: dict[str, ActionHandler] = {
    "challenge": ActionsMixin._action_challenge,
    "login": ActionsMixin._action_login,
    "logoff": ActionsMixin._action_logoff,
    "ping": ActionsMixin._action_ping,
    "events": ActionsMixin._action_events,
    "userevent": ActionsMixin._action_userevent,
    "command": ActionsMixin._action_command,
    "setvar": ActionsMixin._action_setvar,
    "getvar": ActionsMixin._action_getvar,
    "coreshowchannels": ActionsMixin._action_coreshowchannels,
    "status": ActionsMixin._action_status,
    "playdtmf": ActionsMixin._action_playdtmf,
    "hangup": ActionsMixin._action_hangup,
    "redirect": ActionsMixin._action_redirect,
    "bridge": ActionsMixin._action_bridge,
} | RECORDING_ACTIONS  # MixMonitor, StopMixMonitor (recording.py)
ACTIONS |= FEATURE_ACTIONS  # PJSIPNotify, BlindTransfer, Atxfer, CancelAtxfer (features.py)
