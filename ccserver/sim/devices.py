"""Seat truth: softphone registration, qualify, death, and the PJSIP/device-state actions.

Event shapes and order follow the captures: registration (pjsip_register)
ContactStatus NonQualified, DeviceStateChange NOT_INUSE, PeerStatus Reachable,
ContactStatus Reachable; unregistration DeviceStateChange UNAVAILABLE,
PeerStatus Unreachable, ContactStatus Removed; a softphone killed without
unregistering (pjsip_unreachable) says nothing until a qualify times out, then
PeerStatus Unreachable, ContactStatus Unreachable, DeviceStateChange UNAVAILABLE.
"""

from __future__ import annotations

from cti.wire import AmiMessage

from .channels import Headers, event
from .core import SimCore
from .endpoint_config import ENDPOINT_FIELDS
from .phones import (
    DEVICE_STATE_TEXT,
    QUALIFY_TIMEOUT_S,
    REGISTER_EXPIRES_S,
    USER_AGENT,
    Contact,
    Softphone,
)
from .session import ActionHandler, AmiSession, resp

TRUNK = "trunk"
TRUNK_CONTACT = "sip:trunk@127.0.0.1:5071"
# never a real secret: AuthDetail shows where Asterisk would print the seat's password
PASSWORD_PLACEHOLDER = "(not shown by the simulator)"


def _item(name: str, aid: str | None, pairs: Headers) -> Headers:
    """One event of a list reply: Event, ActionID (when the action had one), fields."""
    return [("Event", name), *([("ActionID", aid)] if aid is not None else []), *pairs]


def _complete(name: str, aid: str | None, count: int) -> Headers:
    return _item(name, aid, [("EventList", "Complete"), ("ListItems", str(count))])


class DevicesMixin(SimCore):
    """Registration, reachability and device state of the agents' softphones."""

    # --- control for tests and scenarios -------------------------------------
    def register(self, extension: str) -> None:
        """The seat's softphone registers (a killed one comes back with a new contact)."""
        phone = self.phones[extension]
        if phone.alive and phone.registered:
            return
        was_reachable, was_state = phone.reachable, phone.device_state()
        phone.alive = True
        if phone.contact is not None:  # the dead softphone's contact is replaced
            self._contact_event(phone, phone.contact, "Removed", 0)
        contact = self._make_contact(extension, self.now())
        contact.status = "NonQualified"
        phone.contact = contact
        self._contact_event(phone, contact, "NonQualified", 0)
        contact.status = "Reachable"
        if phone.device_state() != was_state:
            self._device(phone, phone.device_state())
        if not was_reachable:
            self._peer_event(phone, "Reachable")
        self._contact_event(phone, contact, "Reachable", contact.roundtrip_usec)
        self._spawn(self._qualify(phone, contact))

    def unregister(self, extension: str) -> None:
        """The seat's contact goes away (the softphone unregisters, or it is removed)."""
        phone = self.phones[extension]
        contact = phone.contact
        if contact is None:
            return
        was_reachable, was_state = phone.reachable, phone.device_state()
        phone.contact = None
        if phone.device_state() != was_state:
            self._device(phone, phone.device_state())
        if was_reachable:
            self._peer_event(phone, "Unreachable")
        self._contact_event(phone, contact, "Removed", 0)

    def set_registered(self, extension: str, registered: bool) -> None:
        """A softphone registers or unregisters."""
        if registered:
            self.register(extension)
        else:
            self.unregister(extension)

    def kill_softphone(self, extension: str) -> None:
        """The softphone dies without unregistering: nothing is said until a qualify fails."""
        self.phones[extension].alive = False

    def seat_status(self, extension: str) -> str:
        """registered | dead (killed, not yet noticed) | unreachable | unregistered."""
        return self.phones[extension].status

    # --- what Asterisk does by itself ----------------------------------------
    def _start_devices(self) -> None:
        """At start: the phones registered before boot get qualified; some flap."""
        for phone in self.phones.values():
            if phone.contact is not None:
                phone.contact.registered_at = self.now()
                self._spawn(self._qualify(phone, phone.contact))
            if phone.script.unregister_every_s > 0:
                self._spawn(self._registration_flaps(phone))

    async def _qualify(self, phone: Softphone, contact: Contact) -> None:
        """OPTIONS every ``qualify_s``; an unanswered one makes the contact Unreachable."""
        while phone.contact is contact and contact.status == "Reachable":
            await self.sleep(phone.qualify_s)
            if phone.alive or phone.contact is not contact:
                continue
            await self.sleep(QUALIFY_TIMEOUT_S)
            if phone.contact is contact and not phone.alive:
                contact.status = "Unreachable"
                self._peer_event(phone, "Unreachable")
                self._contact_event(phone, contact, "Unreachable", 0)
                self._device(phone, phone.device_state())

    async def _registration_flaps(self, phone: Softphone) -> None:
        script = phone.script
        while True:
            await self.sleep(self.rng.expovariate(1.0 / script.unregister_every_s))
            if phone.channel is not None:
                continue
            self.unregister(script.extension)
            await self.sleep(script.unregistered_for_s)
            self.register(script.extension)

    def _contact_event(self, phone: Softphone, contact: Contact, status: str, rtt: int) -> None:
        ext = phone.extension
        self.emit(
            event(
                "ContactStatus",
                "system,all",
                [
                    ("URI", contact.uri),
                    ("ContactStatus", status),
                    ("AOR", ext),
                    ("EndpointName", ext),
                    ("RoundtripUsec", str(rtt)),
                ],
            )
        )

    def _peer_event(self, phone: Softphone, status: str) -> None:
        self.emit(
            event(
                "PeerStatus",
                "system,all",
                [("ChannelType", "PJSIP"), ("Peer", phone.device), ("PeerStatus", status)],
            )
        )

    # --- list replies ----------------------------------------------------------
    def _expires_at(self, phone: Softphone, contact: Contact) -> int:
        """A live softphone re-registers before expiry; a dead one's contact runs out."""
        period = REGISTER_EXPIRES_S
        laps = 1
        if phone.alive:
            laps += int(max(0.0, self.now() - contact.registered_at) // period)
        return int(contact.registered_at) + period * laps

    def _trunk_state(self) -> str:
        # trunk channels are not tracked as device state changes; the capture's idle value
        return "NOT_INUSE"

    async def _action_pjsipshowcontacts(
        self, s: AmiSession, m: AmiMessage, aid: str | None
    ) -> None:
        phones = [p for p in self.phones.values() if p.contact is not None]
        if not phones:
            s.send(resp(aid, "Error", ("Message", "No Contacts found\n")))
            return
        s.send(
            resp(
                aid,
                "Success",
                ("EventList", "start"),
                ("Message", "A listing of Contacts follows, presented as ContactList events"),
            )
        )
        for phone in phones:
            c = phone.contact
            assert c is not None
            rtt = str(c.roundtrip_usec) if c.status == "Reachable" else "N/A"
            s.send(
                _item(
                    "ContactList",
                    aid,
                    [
                        ("ObjectType", "contact"),
                        ("ObjectName", c.object_name),
                        ("ViaAddr", "127.0.0.1"),
                        ("QualifyTimeout", f"{QUALIFY_TIMEOUT_S:.6f}"),
                        ("Qualify2xxOnly", "false"),
                        ("CallId", c.call_id),
                        ("RegServer", ""),
                        ("PruneOnBoot", "no"),
                        ("Path", ""),
                        ("Endpoint", phone.extension),
                        ("ViaPort", str(c.port)),
                        ("AuthenticateQualify", "no"),
                        ("Uri", c.uri),
                        ("QualifyFrequency", str(int(phone.qualify_s))),
                        ("UserAgent", USER_AGENT),
                        ("ExpirationTime", str(self._expires_at(phone, c))),
                        ("OutboundProxy", ""),
                        ("Status", c.status),
                        ("RoundtripUsec", rtt),
                    ],
                )
            )
        s.send(_complete("ContactListComplete", aid, len(phones)))

    async def _action_pjsipshowendpoint(
        self, s: AmiSession, m: AmiMessage, aid: str | None
    ) -> None:
        name = m.get("Endpoint") or ""
        if not name:
            s.send(resp(aid, "Error", ("Message", "PJSIPShowEndpoint requires an endpoint name\n")))
            return
        if name.lower().startswith("pjsip/"):
            name = name[6:]
        phone = self.phones.get(name)
        if phone is None and name != TRUNK:
            s.send(resp(aid, "Error", ("Message", f"Unable to retrieve endpoint {name}\n")))
            return
        s.send(
            resp(
                aid,
                "Success",
                ("EventList", "start"),
                ("Message", "Following are Events for each object associated with the Endpoint"),
            )
        )
        items = self._endpoint_objects(name, phone)
        for kind, pairs in items:
            s.send(_item(kind, aid, pairs))
        s.send(_complete("EndpointDetailComplete", aid, len(items)))

    def _endpoint_objects(self, name: str, phone: Softphone | None) -> list[tuple[str, Headers]]:
        """EndpointDetail, AuthDetail, AorDetail and ContactStatusDetail of one endpoint."""
        state = phone.device_state() if phone is not None else self._trunk_state()
        active = len([ch for ch in self.channels.values() if ch.name.startswith(f"PJSIP/{name}-")])
        fill = {
            "Aors": name,
            "Auth": name if phone is not None else "",
            "Context": "cc-agents" if phone is not None else "cc-hotline",
            "DeviceState": DEVICE_STATE_TEXT.get(state, "Unknown"),
            "ActiveChannels": str(active),
        }
        detail = [("ObjectType", "endpoint"), ("ObjectName", name)]
        detail += [(k, fill.get(k, v)) for k, v in ENDPOINT_FIELDS]
        out: list[tuple[str, Headers]] = [("EndpointDetail", detail)]
        if phone is not None:
            out.append(("AuthDetail", self._auth_detail(name)))
        contact = phone.contact if phone is not None else None
        uri = contact.uri if contact is not None else (TRUNK_CONTACT if phone is None else "")
        qualify = int(phone.qualify_s) if phone is not None else 0
        aor: Headers = [
            ("ObjectType", "aor"),
            ("ObjectName", name),
            ("MinimumExpiration", "60"),
            ("DefaultExpiration", "3600"),
            ("QualifyTimeout", f"{QUALIFY_TIMEOUT_S:.6f}"),
            ("Qualify2xxOnly", "false"),
            ("Mailboxes", ""),
            ("SupportPath", "false"),
            ("RemoveUnavailable", "false"),
            ("VoicemailExtension", ""),
            ("MaxContacts", "1" if phone is not None else "0"),
            ("AuthenticateQualify", "false"),
            ("Contacts", f"{name}/{uri}" if uri else ""),
            ("MaximumExpiration", "7200"),
            ("QualifyFrequency", str(qualify)),
            ("RemoveExisting", "false"),
            ("OutboundProxy", ""),
            ("TotalContacts", "1" if uri else "0"),
            ("ContactsRegistered", "1" if contact is not None else "0"),
            ("EndpointName", name),
        ]
        out.append(("AorDetail", aor))
        if phone is not None and contact is not None:
            out.append(("ContactStatusDetail", self._contact_detail(phone, contact)))
        return out

    def _auth_detail(self, name: str) -> Headers:
        return [
            ("ObjectType", "auth"),
            ("ObjectName", name),
            ("OauthSecret", ""),
            ("PasswordDigest", ""),
            ("SupportedAlgorithmsUas", "MD5"),
            ("RefreshToken", ""),
            ("Username", name),
            ("Md5Cred", ""),
            ("Realm", ""),
            ("AuthType", "userpass"),
            ("Password", PASSWORD_PLACEHOLDER),
            ("SupportedAlgorithmsUac", "MD5"),
            ("NonceLifetime", "32"),
            ("OauthClientid", ""),
            ("EndpointName", name),
        ]

    def _contact_detail(self, phone: Softphone, c: Contact) -> Headers:
        return [
            ("AOR", phone.extension),
            ("URI", c.uri),
            ("UserAgent", USER_AGENT),
            ("RegExpire", str(self._expires_at(phone, c))),
            ("ViaAddress", f"127.0.0.1:{c.port}"),
            ("CallID", c.call_id),
            ("Status", c.status),
            ("RoundtripUsec", str(c.roundtrip_usec) if c.status == "Reachable" else "N/A"),
            ("EndpointName", phone.extension),
            ("ID", c.object_name),
            ("AuthenticateQualify", "0"),
            ("OutboundProxy", ""),
            ("Path", ""),
            ("QualifyFrequency", str(int(phone.qualify_s))),
            ("QualifyTimeout", f"{QUALIFY_TIMEOUT_S:.3f}"),
            ("Qualify2xxOnly", "0"),
        ]

    async def _action_pjsipshowendpoints(
        self, s: AmiSession, m: AmiMessage, aid: str | None
    ) -> None:
        s.send(
            resp(
                aid,
                "Success",
                ("EventList", "start"),
                ("Message", "A listing of Endpoints follows, presented as EndpointList events"),
            )
        )
        names = [TRUNK, *self.phones]
        for name in names:
            phone = self.phones.get(name)
            contact = phone.contact if phone is not None else None
            uri = contact.uri if contact is not None else (TRUNK_CONTACT if phone is None else "")
            state = phone.device_state() if phone is not None else self._trunk_state()
            pairs: Headers = [
                ("ObjectType", "endpoint"),
                ("ObjectName", name),
                ("Transport", ""),
                ("Aor", name),
                ("Auths", name if phone is not None else ""),
                ("OutboundAuths", ""),
                ("Contacts", f"{name}/{uri}" if uri else ""),
                ("DeviceState", DEVICE_STATE_TEXT.get(state, "Unknown")),
                ("ActiveChannels", ""),  # Asterisk 22 leaves it empty in this list
            ]
            s.send(_item("EndpointList", aid, pairs))
        s.send(_complete("EndpointListComplete", aid, len(names)))

    async def _action_devicestatelist(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        s.send(
            resp(
                aid,
                "Success",
                ("EventList", "start"),
                ("Message", "Device State Changes will follow"),
            )
        )
        states = [(f"PJSIP/{TRUNK}", self._trunk_state())]
        states += [(p.device, p.device_state()) for p in self.phones.values()]
        for device, state in states:
            s.send(_item("DeviceStateChange", aid, [("Device", device), ("State", state)]))
        s.send(_complete("DeviceStateListComplete", aid, len(states)))

    async def _action_extensionstatelist(
        self, s: AmiSession, m: AmiMessage, aid: str | None
    ) -> None:
        # the hotline dialplan has no hints, as in the capture
        s.send(
            resp(
                aid,
                "Success",
                ("EventList", "start"),
                ("Message", "Extension Statuses will follow"),
            )
        )
        s.send(_complete("ExtensionStateListComplete", aid, 0))


ACTIONS: dict[str, ActionHandler] = {
    "pjsipshowcontacts": DevicesMixin._action_pjsipshowcontacts,
    "pjsipshowendpoint": DevicesMixin._action_pjsipshowendpoint,
    "pjsipshowendpoints": DevicesMixin._action_pjsipshowendpoints,
    "devicestatelist": DevicesMixin._action_devicestatelist,
    "extensionstatelist": DevicesMixin._action_extensionstatelist,
}
