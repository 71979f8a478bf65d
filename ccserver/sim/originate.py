"""``Originate``: Local channel pairs, agent softphones, and customers over the trunk.

Outbound calls (``PJSIP/<number>@trunk``) ring a simulated customer, who
answers after ``customer_answer_delay_s`` unless the number is in
``unanswered_numbers``, and presses the keys of ``customer_dtmf[number]``.
"""

from __future__ import annotations

from typing import Any

from cti.wire import AmiMessage

from .agi import DtmfScript
from .channels import RING, RINGING, UP, Channel, Headers, event
from .core import CONTEXTS
from .features import FeaturesMixin
from .session import ActionHandler, AmiSession, resp
from .truth import CallHandle


def callerid(text: str) -> tuple[str, str]:
    """``"Name" <number>`` -> (name, number)."""
    name, _, rest = text.partition("<")
    if not rest:
        return "", text.strip()
    return name.strip().strip('"'), rest.split(">")[0]


class OriginateMixin(FeaturesMixin):
    """The Originate action and the calls it starts."""

    async def _action_originate(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        target = m.get("Channel")
        is_async = (m.get("Async") or "").lower() in ("true", "yes", "1")
        if not target:
            s.send(resp(aid, "Error", ("Message", "Channel not specified")))
            return
        tech, _, resource = target.partition("/")
        if tech not in ("Local", "PJSIP") or not resource:
            s.send(resp(aid, "Error", ("Message", "Originate failed")))
            return
        dest_ctx = m.get("Context")
        if m.get("Application") is None and dest_ctx not in CONTEXTS:
            s.send(resp(aid, "Error", ("Message", "Extension does not exist.")))
            return
        if tech == "Local":
            exten, _, ctx = resource.partition("@")
            ok = ctx in CONTEXTS
            # Asterisk's answer reaches the client before the channel events
            if is_async or ok:
                s.send(resp(aid, "Success", ("Message", "Originate successfully queued")))
            else:
                s.send(resp(aid, "Error", ("Message", "Originate failed")))
            await self._originate_local(exten, ctx, m, aid if is_async else None, ok)
            return
        if tech == "PJSIP" and "@" in resource:
            # PJSIP/<number>@<trunk>: a customer's phone over the trunk
            if is_async:
                s.send(resp(aid, "Success", ("Message", "Originate successfully queued")))
                self._spawn(self._originate_customer(resource.split("@")[0], m, aid))
            else:
                ok = await self._originate_customer(resource.split("@")[0], m, None)
                s.send(
                    resp(aid, "Success", ("Message", "Originate successfully queued"))
                    if ok
                    else resp(aid, "Error", ("Message", "Originate failed"))
                )
            return
        # PJSIP/<ext>: ring the softphone, then run the application or dialplan.
        if is_async:
            s.send(resp(aid, "Success", ("Message", "Originate successfully queued")))
            self._spawn(self._originate_phone(resource, m, aid))
        else:
            ok = await self._originate_phone(resource, m, None)
            s.send(
                resp(aid, "Success", ("Message", "Originate successfully queued"))
                if ok
                else resp(aid, "Error", ("Message", "Originate failed"))
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
        if phone is None or not phone.reachable or not phone.alive or phone.channel is not None:
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
        if (m.get("Application") or "").lower() == "chanspy":
            # a supervisor listening (q, w whisper, B barge): features.py
            self._runners[ch.name] = self._spawn(self._chanspy(ch, m.get("Data") or ""))
        elif m.get("Application") is not None:
            ch.application, ch.app_data = m.get("Application") or "", m.get("Data") or ""
            self._spawn(self._local_app(ch, ch, ch.application, ch.app_data))
        else:
            self._start_runner(ch, m.get("Context") or "", m.get("Exten") or "s", 1)
        return True

    async def _originate_customer(self, number: str, m: AmiMessage, aid: str | None) -> bool:
        timeout = int(m.get("Timeout") or 30000) / 1000
        name, cid = callerid(m.get("CallerID") or "")
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


ACTIONS: dict[str, ActionHandler] = {"originate": OriginateMixin._action_originate}
