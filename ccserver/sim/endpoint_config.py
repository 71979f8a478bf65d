"""What ``PJSIPShowEndpoint`` reports of an agent seat's endpoint configuration.

The fields, their order and values are those Asterisk 22.10 reported for the
project's ``asterisk/pjsip.conf`` agent template (capture pjsip_register);
the per-seat ones (Aors, Auth, Context, DeviceState, ActiveChannels) are
filled in by the simulator.
"""

from __future__ import annotations

_FIELDS = """\
RpidImmediate: false
Webrtc: no
Ignore183WithoutSdp: false
SendAoc: false
DeviceStateBusyAt: 0
T38UdptlMaxdatagram: 0
CodecPrefsIncomingAnswer: prefer:pending, operation:intersect, keep:all, transcode:allow
SecurityNegotiation: no
DtlsRekey: 0
RtpPortEnd: 0
NamedPickupGroup:
DirectMediaMethod: invite
SendRpid: false
PickupGroup:
SdpSession: Asterisk
DtlsVerify: No
MessageContext:
Tenantid:
Mailboxes:
RecordOnFeature: automixmon
DtlsPrivateKey:
DtlsFingerprint: SHA-256
OverlapContext:
OutgoingCallOfferPref: remote_merge
RtpPortStart: 0
FromDomain:
TimersSessExpires: 1800
NamedCallGroup:
DtlsCipher:
MediaEncryptionOptimistic: false
SuppressQ850ReasonHeaders: false
Aors: {Aors}
IdentifyBy: username,ip
CalleridPrivacy: allowed_not_screened
MwiSubscribeReplacesUnsolicited: no
CosAudio: 0
FollowEarlyMediaFork: true
Context: {Context}
RtpSymmetric: false
Transport:
MohSuggest: default
T38Udptl: false
FaxDetect: false
T38BindUdptlToMediaAddress: false
TosVideo: 0
SrtpTag32: false
ReferBlindProgress: true
MaxAudioStreams: 1
Bundle: false
UseAvpf: false
CallGroup:
SendConnectedLine: yes
FaxDetectTimeout: 0
SdpOwner: -
ForceRport: true
CalleridTag:
RtpTimeoutHold: 0
SuppressMohOnSendonly: false
UsePtime: false
MediaAddress:
VoicemailExtension:
RtpTimeout: 0
StirShaken: no
SetVar:
ContactAcl:
PreferredCodecOnly: false
GeolocOutgoingCallProfile:
ForceAvp: false
RecordOffFeature: automixmon
FromUser:
SendDiversion: true
SendHistoryInfo: false
T38UdptlIpv6: false
ToneZone:
Language:
AllowSubscribe: true
RtpIpv6: false
Callerid: <unknown>
MohPassthrough: false
CosVideo: 0
DtlsAutoGenerateCert: No
AsymmetricRtpCodec: false
GeolocIncomingCallProfile:
IceSupport: false
AggregateMwi: true
OneTouchRecording: false
MwiFromUser:
RedirectMethod: user
Accountcode:
CodecPrefsOutgoingAnswer: prefer:pending, operation:intersect, keep:all, transcode:allow
Allow: (ulaw|alaw|opus)
RewriteContact: false
UserEqPhone: false
RtpEngine: asterisk
FollowRedirectMethods:
SubscribeContext:
NotifyEarlyInuseRinging: false
IncomingMwiMailbox:
IncomingCallOfferPref: local
AllowUnauthenticatedOptions: false
Auth: {Auth}
DirectMediaGlareMitigation: none
TrustIdInbound: false
StirShakenProfile:
BindRtpToMediaAddress: false
DisableDirectMediaOnNat: false
MediaEncryption: no
MediaUseReceivedTransport: false
AllowOverlap: true
DtmfMode: rfc4733
OutboundAuth:
TosAudio: 0
DtlsCertFile:
DtlsCaPath:
DtlsSetup: active
ConnectedLineMethod: invite
G726NonStandard: false
100rel: yes
Timers: yes
DirectMedia: false
Acl:
TimersMinSe: 90
TrustIdOutbound: false
SubMinExpiry: 0
RtcpMux: false
MaxVideoStreams: 1
AcceptMultipleSdpAnswers: false
CodecPrefsIncomingOffer: prefer:pending, operation:intersect, keep:all, transcode:allow
CodecPrefsOutgoingOffer: prefer:pending, operation:union, keep:all, transcode:allow
TrustConnectedLine: yes
SendPai: false
RtpKeepalive: 0
T38UdptlEc: none
T38UdptlNat: false
AllowTransfer: true
DtlsCaFile:
OutboundProxy:
InbandProgress: false
DeviceState: {DeviceState}
ActiveChannels: {ActiveChannels}
"""


def _parse(text: str) -> tuple[tuple[str, str], ...]:
    pairs = (line.partition(":") for line in text.splitlines())
    return tuple((key, value.removeprefix(" ")) for key, _, value in pairs)


# (header, value) in Asterisk's order; values in braces are per seat
ENDPOINT_FIELDS = _parse(_FIELDS)
