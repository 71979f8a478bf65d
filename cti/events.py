"""Typed AMI events: the events the product reads, validated at the boundary.

Header names are Asterisk's (``CallerIDNum``, ``Cause-txt``...), mapped to
snake_case fields by alias. Any other event, or one that fails validation, is
kept as a :class:`RawEvent` holding the message, so nothing is lost and nothing
breaks.

Numbers are bounded at the boundary (``AmiInt``, ``UptimeSeconds``, ``Duration``): a
hostile or broken peer's ``Cause: 999...9`` (50 digits) fails validation and is
kept raw, instead of reaching the tracker as an integer no float can hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.masking import mask_number

from .wire import AmiMessage

log = logging.getLogger(__name__)

# a number header: Asterisk's are small (states, causes, priorities, counts)
AmiInt = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
# seconds since Asterisk started (12 digits: 31,000 years)
UptimeSeconds = Annotated[int, Field(ge=0, le=10**12 - 1)]
# a channel older than this is a bad Duration, not a channel
MAX_CHANNEL_AGE_S = 10 * 366 * 86400


class AmiEvent(BaseModel):
    """Base of every typed event."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")
    name: ClassVar[str] = ""
    action_id: str | None = Field(default=None, alias="ActionID")


class ChannelEvent(AmiEvent):
    """An event that carries Asterisk's channel block."""

    channel: str = Field(alias="Channel")
    channel_state: AmiInt = Field(default=0, alias="ChannelState")
    channel_state_desc: str = Field(default="", alias="ChannelStateDesc")
    caller_id_num: str = Field(default="", alias="CallerIDNum")
    caller_id_name: str = Field(default="", alias="CallerIDName")
    connected_line_num: str = Field(default="", alias="ConnectedLineNum")
    connected_line_name: str = Field(default="", alias="ConnectedLineName")
    context: str = Field(default="", alias="Context")
    exten: str = Field(default="", alias="Exten")
    priority: AmiInt = Field(default=1, alias="Priority")
    uniqueid: str = Field(alias="Uniqueid")
    linkedid: str = Field(alias="Linkedid")


class Newchannel(ChannelEvent):
    name = "Newchannel"


class Newstate(ChannelEvent):
    name = "Newstate"


class NewCallerid(ChannelEvent):
    name = "NewCallerid"


class NewConnectedLine(ChannelEvent):
    name = "NewConnectedLine"


class Newexten(ChannelEvent):
    name = "Newexten"
    application: str = Field(default="", alias="Application")
    app_data: str = Field(default="", alias="AppData")


class VarSet(ChannelEvent):
    name = "VarSet"
    variable: str = Field(alias="Variable")
    value: str = Field(default="", alias="Value")


class Hangup(ChannelEvent):
    name = "Hangup"
    cause: AmiInt = Field(default=0, alias="Cause")
    cause_txt: str = Field(default="", alias="Cause-txt")


class HangupRequest(ChannelEvent):
    name = "HangupRequest"
    cause: AmiInt = Field(default=0, alias="Cause")


class SoftHangupRequest(ChannelEvent):
    name = "SoftHangupRequest"
    cause: AmiInt = Field(default=0, alias="Cause")


class DialBegin(AmiEvent):
    """A Dial() leg starts; the caller block is absent when Originate dials."""

    name = "DialBegin"
    channel: str = Field(default="", alias="Channel")
    uniqueid: str = Field(default="", alias="Uniqueid")
    linkedid: str = Field(default="", alias="Linkedid")
    dest_channel: str = Field(alias="DestChannel")
    dest_uniqueid: str = Field(alias="DestUniqueid")
    dest_linkedid: str = Field(default="", alias="DestLinkedid")
    dial_string: str = Field(default="", alias="DialString")


class DialEnd(DialBegin):
    name = "DialEnd"
    dial_status: str = Field(default="", alias="DialStatus")


class BridgeEvent(AmiEvent):
    bridge_uniqueid: str = Field(alias="BridgeUniqueid")
    bridge_type: str = Field(default="", alias="BridgeType")
    bridge_num_channels: AmiInt = Field(default=0, alias="BridgeNumChannels")


class BridgeCreate(BridgeEvent):
    name = "BridgeCreate"


class BridgeDestroy(BridgeEvent):
    name = "BridgeDestroy"


class BridgeEnter(BridgeEvent, ChannelEvent):
    name = "BridgeEnter"


class BridgeLeave(BridgeEvent, ChannelEvent):
    name = "BridgeLeave"


class DTMFBegin(ChannelEvent):
    name = "DTMFBegin"
    digit: str = Field(alias="Digit")
    direction: str = Field(default="", alias="Direction")


class DTMFEnd(DTMFBegin):
    name = "DTMFEnd"
    duration_ms: AmiInt = Field(default=0, alias="DurationMs")


class OriginateResponse(AmiEvent):
    name = "OriginateResponse"
    response: str = Field(alias="Response")
    channel: str = Field(default="", alias="Channel")
    reason: AmiInt = Field(default=0, alias="Reason")
    uniqueid: str = Field(default="", alias="Uniqueid")


class CoreShowChannel(ChannelEvent):
    name = "CoreShowChannel"
    application: str = Field(default="", alias="Application")
    application_data: str = Field(default="", alias="ApplicationData")
    duration: str = Field(default="00:00:00", alias="Duration")
    bridge_id: str = Field(default="", alias="BridgeId")

    @property
    def duration_s(self) -> int:
        """The channel's age in seconds (Duration is HH:MM:SS); 0 if it is not one."""
        parts = self.duration.split(":")
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
            return 0
        h, m, s = (int(p) for p in parts)
        age = h * 3600 + m * 60 + s
        return age if age <= MAX_CHANNEL_AGE_S else 0


class CoreShowChannelsComplete(AmiEvent):
    name = "CoreShowChannelsComplete"
    list_items: AmiInt = Field(default=0, alias="ListItems")


class FullyBooted(AmiEvent):
    name = "FullyBooted"
    uptime: UptimeSeconds = Field(default=0, alias="Uptime")


class Shutdown(AmiEvent):
    name = "Shutdown"
    shutdown: str = Field(default="", alias="Shutdown")
    restart: str = Field(default="", alias="Restart")


class DeviceStateChange(AmiEvent):
    name = "DeviceStateChange"
    device: str = Field(alias="Device")
    state: str = Field(alias="State")


class ContactStatus(AmiEvent):
    name = "ContactStatus"
    uri: str = Field(default="", alias="URI")
    contact_status: str = Field(alias="ContactStatus")
    aor: str = Field(default="", alias="AOR")
    endpoint_name: str = Field(default="", alias="EndpointName")


class PeerStatus(AmiEvent):
    name = "PeerStatus"
    channel_type: str = Field(default="", alias="ChannelType")
    peer: str = Field(alias="Peer")
    peer_status: str = Field(alias="PeerStatus")
    cause: str = Field(default="", alias="Cause")
    address: str = Field(default="", alias="Address")


class UserEvent(AmiEvent):
    name = "UserEvent"
    user_event: str = Field(alias="UserEvent")


class Status(ChannelEvent):
    """One channel of a ``Status`` list (note Asterisk's ``BridgeID`` spelling here)."""

    name = "Status"
    application: str = Field(default="", alias="Application")
    data: str = Field(default="", alias="Data")
    bridge_id: str = Field(default="", alias="BridgeID")
    seconds: AmiInt = Field(default=0, alias="Seconds")


class StatusComplete(AmiEvent):
    name = "StatusComplete"
    list_items: AmiInt = Field(default=0, alias="ListItems")


class Hold(ChannelEvent):
    """The channel's far end put it on hold (a PJSIP re-INVITE sendonly/inactive).

    ``main/manager_channels.c`` (channel_hold_cb): the channel block, then
    ``MusicClass`` when one is suggested (PJSIP: the endpoint's ``moh_suggest``).
    """

    name = "Hold"
    music_class: str = Field(default="", alias="MusicClass")


class Unhold(ChannelEvent):
    name = "Unhold"


class MusicOnHoldStart(ChannelEvent):
    """``main/manager_channels.c`` (channel_moh_start_cb, raised by res_musiconhold)."""

    name = "MusicOnHoldStart"
    moh_class: str = Field(default="", alias="Class")


class MusicOnHoldStop(ChannelEvent):
    name = "MusicOnHoldStop"


class BlindTransfer(AmiEvent):
    """``main/stasis_bridges.c`` (blind_transfer_to_ami): Result, the ``Transferer``
    and ``Transferee`` channel blocks, the bridge block, IsExternal, Context, Extension."""

    name = "BlindTransfer"
    result: str = Field(alias="Result")
    transferer_channel: str = Field(alias="TransfererChannel")
    transferer_uniqueid: str = Field(default="", alias="TransfererUniqueid")
    transferer_linkedid: str = Field(default="", alias="TransfererLinkedid")
    transferee_channel: str = Field(default="", alias="TransfereeChannel")
    transferee_uniqueid: str = Field(default="", alias="TransfereeUniqueid")
    transferee_linkedid: str = Field(default="", alias="TransfereeLinkedid")
    bridge_uniqueid: str = Field(default="", alias="BridgeUniqueid")
    is_external: str = Field(default="", alias="IsExternal")
    context: str = Field(default="", alias="Context")
    extension: str = Field(default="", alias="Extension")


class AttendedTransfer(AmiEvent):
    """``main/stasis_bridges.c`` (attended_transfer_to_ami): Result, ``OrigTransferer``
    block, ``Orig`` bridge, ``SecondTransferer`` block, ``Second`` bridge, ``Transferee``
    and ``TransferTarget`` blocks, IsExternal, DestType and its headers."""

    name = "AttendedTransfer"
    result: str = Field(alias="Result")
    orig_transferer_channel: str = Field(alias="OrigTransfererChannel")
    orig_transferer_linkedid: str = Field(default="", alias="OrigTransfererLinkedid")
    orig_bridge_uniqueid: str = Field(default="", alias="OrigBridgeUniqueid")
    second_transferer_channel: str = Field(default="", alias="SecondTransfererChannel")
    second_transferer_linkedid: str = Field(default="", alias="SecondTransfererLinkedid")
    second_bridge_uniqueid: str = Field(default="", alias="SecondBridgeUniqueid")
    transferee_channel: str = Field(default="", alias="TransfereeChannel")
    transferee_linkedid: str = Field(default="", alias="TransfereeLinkedid")
    transfer_target_channel: str = Field(default="", alias="TransferTargetChannel")
    transfer_target_linkedid: str = Field(default="", alias="TransferTargetLinkedid")
    is_external: str = Field(default="", alias="IsExternal")
    dest_type: str = Field(default="", alias="DestType")
    dest_bridge_uniqueid: str = Field(default="", alias="DestBridgeUniqueid")


class ChanSpyStart(AmiEvent):
    """``main/manager_channels.c`` (channel_chanspy_start_cb, raised by app_chanspy):
    the ``Spyer`` channel block, then the ``Spyee`` one."""

    name = "ChanSpyStart"
    spyer_channel: str = Field(alias="SpyerChannel")
    spyer_uniqueid: str = Field(default="", alias="SpyerUniqueid")
    spyee_channel: str = Field(default="", alias="SpyeeChannel")
    spyee_uniqueid: str = Field(default="", alias="SpyeeUniqueid")
    spyee_linkedid: str = Field(default="", alias="SpyeeLinkedid")


class ChanSpyStop(ChanSpyStart):
    """As ChanSpyStart; the Spyee block is absent when the spied channel is gone."""

    name = "ChanSpyStop"


@dataclass(frozen=True, slots=True)
class RawEvent:
    """An event the product does not type (or could not), kept whole."""

    message: AmiMessage
    error: str | None = None

    @property
    def name(self) -> str:
        return self.message.event or ""


TypedEvent = AmiEvent | RawEvent

EVENT_TYPES: dict[str, type[AmiEvent]] = {
    cls.name: cls
    for cls in (
        Newchannel, Newstate, NewCallerid, NewConnectedLine, Newexten, VarSet, Hangup,
        HangupRequest, SoftHangupRequest, DialBegin, DialEnd, BridgeCreate, BridgeDestroy,
        BridgeEnter, BridgeLeave, DTMFBegin, DTMFEnd, OriginateResponse, CoreShowChannel,
        CoreShowChannelsComplete, FullyBooted, Shutdown, DeviceStateChange, ContactStatus,
        PeerStatus, UserEvent, Status, StatusComplete, Hold, Unhold, MusicOnHoldStart,
        MusicOnHoldStop, BlindTransfer, AttendedTransfer, ChanSpyStart, ChanSpyStop,
    )
}  # fmt: skip


# The compiled validator of each type, called directly: ``model_validate`` adds a
# Python-level wrapper that costs as much as the validation itself on this hot path.
_VALIDATORS: dict[str, Callable[[dict[str, str]], Any]] = {
    name: cls.__pydantic_validator__.validate_python for name, cls in EVENT_TYPES.items()
}


def type_event(message: AmiMessage) -> TypedEvent:
    """Turn an AMI event message into its typed event, or keep it raw."""
    fields = message.as_dict()
    validate = _VALIDATORS.get(fields.get("Event", ""))
    if validate is None:
        return RawEvent(message)
    try:
        event: AmiEvent = validate(fields)
        return event
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    except (ValueError, TypeError) as exc:  # never out of the read path, whatever the input
        problems = f"{type(exc).__name__}"
    log.warning(
        "AMI %s event failed validation (%s); caller %s; kept raw",
        message.event,
        problems,
        mask_number(message.get("CallerIDNum")),
    )
    return RawEvent(message, problems)
