"""Agent softphones as Asterisk sees them: a PJSIP endpoint, its AOR and its one contact.

The device truth follows the captures (pjsip_register, pjsip_dial,
pjsip_unreachable): a seat is usable when its contact is registered and
answers the qualify (OPTIONS) pings. A softphone that dies without
unregistering keeps its contact, marked ``Reachable``, until the next qualify
times out; only then is the seat ``Unreachable`` and the device UNAVAILABLE.
"""

from __future__ import annotations

from dataclasses import dataclass

from .channels import UP, Channel
from .scenario import AgentScript

QUALIFY_TIMEOUT_S = 3.0  # the AOR's qualify_timeout: how long an OPTIONS ping may take
REGISTER_EXPIRES_S = 60  # what the captured softphones asked for (ExpirationTime - now)
USER_AGENT = "ccserver-sim softphone 1.0"

# what DeviceStateChange says -> what PJSIPShowEndpoint's DeviceState says
DEVICE_STATE_TEXT = {
    "NOT_INUSE": "Not in use",
    "INUSE": "In use",
    "RINGING": "Ringing",
    "UNAVAILABLE": "Unavailable",
}


@dataclass
class Contact:
    """One registration (a SIP Contact bound to the seat's AOR)."""

    uri: str
    object_name: str  # "<aor>;@<hash>" as PJSIPShowContacts names it
    call_id: str
    port: int
    registered_at: float
    roundtrip_usec: int
    status: str = "Reachable"  # Reachable | Unreachable (after a failed qualify)


@dataclass
class Softphone:
    """A simulated agent softphone and its behaviour script."""

    script: AgentScript
    qualify_s: float
    contact: Contact | None = None
    alive: bool = True  # the softphone process runs (False after kill_softphone)
    channel: Channel | None = None  # the agent leg while ringing or talking

    @property
    def extension(self) -> str:
        return self.script.extension

    @property
    def device(self) -> str:
        return f"PJSIP/{self.script.extension}"

    @property
    def registered(self) -> bool:
        """Whether the seat has a contact (Reachable or not yet found Unreachable)."""
        return self.contact is not None

    @property
    def reachable(self) -> bool:
        """Whether Asterisk believes the contact answers (what device state follows)."""
        return self.contact is not None and self.contact.status == "Reachable"

    @property
    def status(self) -> str:
        """registered | dead (killed, not yet noticed) | unreachable | unregistered."""
        if self.contact is None:
            return "unregistered"
        if self.contact.status != "Reachable":
            return "unreachable"
        return "registered" if self.alive else "dead"

    def device_state(self) -> str:
        """The device state Asterisk derives: contact reachability, then the channel."""
        if not self.reachable:
            return "UNAVAILABLE"
        if self.channel is None:
            return "NOT_INUSE"
        return "INUSE" if self.channel.state == UP else "RINGING"
