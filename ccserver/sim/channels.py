"""Channels and bridges of the simulated Asterisk, and the event headers they produce.

Header names and their order follow Asterisk 22 exactly (see the recorded
captures): every channel event carries the same 14-line channel block, which
DialBegin/DialEnd repeat with a ``Dest`` prefix for the called leg.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
DOWN, RING, RINGING, UP = 0, 4, 5, 6
UNKNOWN = "<unknown>"

# Q.850 causes the simulator uses, with Asterisk's Cause-txt.
CAUSE_TXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    26: "Answered elsewhere",
    127: "Interworking, unspecified",
}

Headers = list[tuple[str, str]]


@dataclass
class Bridge:
    """A basic two-party bridge."""

    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    members: list[Channel] = field(default_factory=list)
    emptied: asyncio.Event = field(default_factory=asyncio.Event)  # set at BridgeDestroy

    def headers(self, prefix: str = "") -> Headers:
        """The bridge block of Bridge* events (``Orig``/``Second`` prefixed in AttendedTransfer)."""
        p = prefix
        return [
            (f"{p}BridgeUniqueid", self.uniqueid),
            (f"{p}BridgeType", "basic"),
            (f"{p}BridgeTechnology", "simple_bridge"),
            (f"{p}BridgeCreator", UNKNOWN),
            (f"{p}BridgeName", UNKNOWN),
            (f"{p}BridgeNumChannels", str(len(self.members))),
            (f"{p}BridgeVideoSourceMode", "none"),
        ]


@dataclass
class Channel:
    """One simulated channel with what Asterisk reports about it."""

    name: str
    uniqueid: str
    linkedid: str
    created_at: float
    context: str
    exten: str
    priority: int = 1
    state: int = DOWN
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    conn_num: str = UNKNOWN
    conn_name: str = UNKNOWN
    language: str = "en"
    account: str = ""
    application: str = ""
    app_data: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    bridge: Bridge | None = None
    hungup: bool = False
    hangup_cause: int = 16
    left_bridge_at: float | None = None  # the time of its last BridgeLeave event
    # the cc-record extension pushed as its hangup handler: "ended" (a caller's, in
    # cc-hotline) or "left" (an answered agent leg's, in Dial's U() gosub)
    hangup_handler: str | None = None
    held_at: float | None = None  # its phone put the call on hold (the Hold event's time)
    moh: bool = False  # music on hold plays to it (MusicOnHoldStart sent)
    spying: Channel | None = None  # a supervisor's channel: whom its ChanSpy listens to
    # an inter-node trunk leg: tells the other simulator its side hung up (sim/internode.py)
    on_hangup: Callable[[], None] | None = None

    @property
    def tech(self) -> str:
        return self.name.split("/", 1)[0]

    def block(self, prefix: str = "") -> Headers:
        """The channel block every channel event carries."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC[self.state]),
            (f"{p}CallerIDNum", self.cid_num),
            (f"{p}CallerIDName", self.cid_name),
            (f"{p}ConnectedLineNum", self.conn_num),
            (f"{p}ConnectedLineName", self.conn_name),
            (f"{p}Language", self.language),
            (f"{p}AccountCode", self.account),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]


def event(name: str, privilege: str, *parts: Headers) -> Headers:
    """Assemble an event: name, privilege, then header blocks in order."""
    out: Headers = [("Event", name), ("Privilege", privilege)]
    for part in parts:
        out.extend(part)
    return out
