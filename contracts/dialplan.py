"""The dialplan contract: the names ccserver and ``asterisk/extensions.conf`` share.

ccserver and the hotline dialplan meet in three kinds of names:

- contexts and their extensions, where ccserver redirects a channel (AMI
  ``Redirect``) or lets an originated call land (AMI ``Originate``);
- FastAGI routes, the script part of ``AGI(${CC_AGI}/<route>)``, which name
  the IVR's handlers;
- ``CC_*`` channel variables: set by the dialplan, the IVR (``SET VARIABLE``)
  or ccserver (AMI ``Setvar`` / ``Originate`` variables), read back by ccserver
  from AMI ``VarSet`` events or by the IVR (``GET VARIABLE``).

Each is defined here once, as a plain string constant, so a renamed context or
variable is a change in one place. ``tests/unit/contracts/test_dialplan.py``
parses the shipped ``asterisk/extensions.conf`` and checks both directions:
every name it uses is here, and every name here is used by it or listed in
:data:`CCSERVER_ONLY_VARIABLES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# --- contexts ---------------------------------------------------------------------
HOTLINE_CONTEXT: Final = "cc-hotline"  # calls from the trunk: answer, IVR, then hold
HOLD_CONTEXT: Final = "cc-hold"  # callers wait here until ccserver redirects them
DELIVER_CONTEXT: Final = "cc-deliver"  # Dial(PJSIP/<agent endpoint>)
CALLBACK_CONTEXT: Final = "cc-callback"  # outbound calls ccserver originates
WAIT_CONTEXT: Final = "cc-wait"  # max wait reached: an offer or an announcement
RECORD_CONTEXT: Final = "cc-record"  # what Asterisk notes in AstDB for a ccserver not listening
TRANSFER_CONTEXT: Final = "cc-transfer"  # the agent desktop's transfers (BlindTransfer, Atxfer)
# several nodes (README "Scaling out"): a caller of this node to a seat on another node,
# Dial(PJSIP/<agent endpoint>@<inter-node trunk>); the other node's trunk lands in cc-remote-in
DELIVER_REMOTE_CONTEXT: Final = "cc-deliver-remote"
REMOTE_IN_CONTEXT: Final = "cc-remote-in"  # the inter-node trunk's context: ring the local seat
REMOTE_MARK_CONTEXT: Final = "cc-remote-mark"  # Dial's pre-dial gosub: the X-CC-Remote-Of header

# --- extensions -------------------------------------------------------------------
HOTLINE_EXTEN: Final = "100"  # the shipped hotline number (hotline.number; match the DID)
HOLD_EXTEN: Final = "s"
DELIVER_EXTEN: Final = "_X."  # a pattern: the agent's endpoint is the extension
REPAIR_EXTEN: Final = "repair"  # cc-callback: confirm a repair after a ticket closed
OUTAGE_EXTEN: Final = "outage"  # cc-callback: service restored after an outage
QUEUE_CALLBACK_EXTEN: Final = "queue"  # cc-callback: a queue callback, then the agent
WAIT_OFFER_EXTEN: Final = "offer"  # cc-wait: press 1 to be called back
WAIT_ANNOUNCE_EXTEN: Final = "announce"  # cc-wait: "you still have your place"
RECORD_ANSWERED_EXTEN: Final = "answered"  # cc-record: Dial's U() gosub on the agent's leg
RECORD_ENDED_EXTEN: Final = "ended"  # cc-record: the caller's hangup handler
RECORD_LEFT_EXTEN: Final = "left"  # cc-record: the answered agent leg's hangup handler
# cc-transfer: "queue-<name>" puts the caller back in a queue (a blind transfer; ccserver
# sets CC_QUEUE=<name> first, with Setvar);
# an agent's endpoint is rung as the consult call of an attended transfer (Atxfer)
TRANSFER_QUEUE_PREFIX: Final = "queue-"
TRANSFER_QUEUE_EXTEN: Final = "_queue-."  # a pattern: queue-<queue name>
TRANSFER_AGENT_EXTEN: Final = "_X."  # a pattern: the agent's endpoint
REMOTE_MARK_EXTEN: Final = "s"
# the SIP header that carries CC_REMOTE_OF over the inter-node trunk
REMOTE_OF_HEADER: Final = "X-CC-Remote-Of"

EXTENSIONS: Final[Mapping[str, frozenset[str]]] = {
    HOTLINE_CONTEXT: frozenset({HOTLINE_EXTEN}),
    HOLD_CONTEXT: frozenset({HOLD_EXTEN}),
    DELIVER_CONTEXT: frozenset({DELIVER_EXTEN}),
    CALLBACK_CONTEXT: frozenset({REPAIR_EXTEN, OUTAGE_EXTEN, QUEUE_CALLBACK_EXTEN}),
    WAIT_CONTEXT: frozenset({WAIT_OFFER_EXTEN, WAIT_ANNOUNCE_EXTEN}),
    RECORD_CONTEXT: frozenset({RECORD_ANSWERED_EXTEN, RECORD_ENDED_EXTEN, RECORD_LEFT_EXTEN}),
    TRANSFER_CONTEXT: frozenset({TRANSFER_QUEUE_EXTEN, TRANSFER_AGENT_EXTEN}),
    DELIVER_REMOTE_CONTEXT: frozenset({DELIVER_EXTEN}),
    REMOTE_IN_CONTEXT: frozenset({DELIVER_EXTEN}),
    REMOTE_MARK_CONTEXT: frozenset({REMOTE_MARK_EXTEN}),
}

# --- what Asterisk keeps for ccserver (AstDB) -----------------------------------------
# cc-record writes, per call, ``<call id>_answered`` = "<epoch.ms>/<agent channel>",
# ``<caller uniqueid>_ended`` = "<epoch.ms>/<CC_QUEUED or empty>/..." and, per answered
# agent leg, ``<leg uniqueid>_left`` = "<epoch.ms>" in this AstDB family; ccserver
# reads them (DBGetTree) at every resync to settle calls answered or ended while
# it was not listening, then deletes them (DBDelTree).
ASTDB_FAMILY: Final = "cc"
ASTDB_ANSWERED: Final = "_answered"
ASTDB_ENDED: Final = "_ended"
ASTDB_LEFT: Final = "_left"
CONTEXTS: Final = frozenset(EXTENSIONS)

# --- FastAGI routes (AGI(${CC_AGI}/<route>)) ----------------------------------------
ROUTE_IVR: Final = "ivr"  # cc-hotline: the self-service menu
ROUTE_SURVEY: Final = "survey"  # cc-deliver: post-call survey (CC_SURVEY=1)
ROUTE_REPAIR: Final = "repair"  # cc-callback,repair
ROUTE_OUTAGE: Final = "outage"  # cc-callback,outage
ROUTE_CALLBACK: Final = "callback"  # cc-callback,queue
ROUTE_WAIT_OFFER: Final = "wait_offer"  # cc-wait,offer
ROUTE_ANNOUNCE: Final = "announce"  # cc-wait,announce

AGI_ROUTES: Final = frozenset(
    {
        ROUTE_IVR,
        ROUTE_SURVEY,
        ROUTE_REPAIR,
        ROUTE_OUTAGE,
        ROUTE_CALLBACK,
        ROUTE_WAIT_OFFER,
        ROUTE_ANNOUNCE,
    }
)

# --- channel variables --------------------------------------------------------------
VARIABLE_PREFIX: Final = "CC_"  # the CTI tracks every variable with this prefix

CC_AGI: Final = "CC_AGI"
CC_ENTERED: Final = "CC_ENTERED"
CC_QUEUED: Final = "CC_QUEUED"
CC_QUEUE: Final = "CC_QUEUE"
CC_SKILLS: Final = "CC_SKILLS"
CC_PRIORITY: Final = "CC_PRIORITY"
CC_VIP: Final = "CC_VIP"
CC_LANG: Final = "CC_LANG"
CC_ACCOUNT: Final = "CC_ACCOUNT"
CC_TICKET: Final = "CC_TICKET"
CC_IVR_PATH: Final = "CC_IVR_PATH"
CC_SELF_SERVED: Final = "CC_SELF_SERVED"
CC_DEFLECTED: Final = "CC_DEFLECTED"
CC_SURVEY: Final = "CC_SURVEY"
CC_DTMF_PRIVATE: Final = "CC_DTMF_PRIVATE"
CC_AGENT: Final = "CC_AGENT"
CC_AGENT_ID: Final = "CC_AGENT_ID"
CC_AGENT_ENDPOINT: Final = "CC_AGENT_ENDPOINT"
CC_RING_TIMEOUT: Final = "CC_RING_TIMEOUT"
CC_CALL_ID: Final = "CC_CALL_ID"
CC_TICKET_ID: Final = "CC_TICKET_ID"
CC_TRUNK: Final = "CC_TRUNK"
CC_REMOTE_CALL: Final = "CC_REMOTE_CALL"
CC_REMOTE_OF: Final = "CC_REMOTE_OF"

# who sets each variable, and who reads it
VARIABLES: Final[Mapping[str, str]] = {
    CC_AGI: "dialplan global: the FastAGI base URL, agi://<ivr.agi_host>:<ivr.agi_port>",
    CC_ENTERED: "dialplan (cc-hotline): epoch.ms of arrival; in the line's ended note, so a"
    " line that began and ended while no ccserver listened is still on the record",
    CC_QUEUED: "dialplan (cc-hold): epoch.ms the caller first entered the queue, kept across"
    " offers; ccserver reads it back after a link drop or a restart (original wait start)",
    CC_QUEUE: "IVR at the hand-off -> ACD; ccserver on a queue callback -> survey and on"
    " the desk's transfer to a queue (Setvar before BlindTransfer) -> ACD",
    CC_SKILLS: "IVR at the hand-off -> ACD, e.g. general:1,lang_es:1",
    CC_PRIORITY: "IVR at the hand-off -> ACD: added to the queue's priority",
    CC_VIP: "IVR at the hand-off (account tier) -> ACD green channel when 1",
    CC_LANG: "IVR at the hand-off: the caller's language, for the agent",
    CC_ACCOUNT: "IVR at the hand-off: the verified account, for the agent",
    CC_TICKET: "IVR: the ticket number the caller just opened, for the agent",
    CC_IVR_PATH: "IVR at the hand-off: the nodes walked, for the agent",
    CC_SELF_SERVED: "IVR: 1 once a self-service action completed, cleared at the hand-off",
    CC_DEFLECTED: "IVR: outage|queue when the caller took a callback instead of waiting",
    CC_SURVEY: "IVR: 1 when the caller opted in; cc-deliver runs the survey route",
    CC_DTMF_PRIVATE: "IVR: 1 while a PIN is typed; the CTI keeps those keys out of events",
    CC_AGENT: "operator's dialplan or an IVR collect node: the preferred agent -> ACD",
    CC_AGENT_ID: "ccserver on an offer or queue callback -> the survey route",
    CC_AGENT_ENDPOINT: "ccserver on a queue callback -> cc-callback,queue dials it",
    CC_RING_TIMEOUT: "dialplan global default; ccserver per offer -> cc-deliver's Dial",
    CC_CALL_ID: "ccserver on an outbound call: the call it belongs to -> follow-up routes",
    CC_TICKET_ID: "ccserver on a repair callback -> the repair route",
    CC_TRUNK: "ccserver on a cross-node offer: the inter-node trunk -> cc-deliver-remote's Dial",
    CC_REMOTE_CALL: "ccserver on a cross-node offer: <node>/<call id> -> the trunk's"
    " X-CC-Remote-Of header (cc-remote-mark)",
    CC_REMOTE_OF: "dialplan (cc-remote-in), from X-CC-Remote-Of: the other node's call this"
    " inbound trunk line serves; ccserver reads it so the line is not taken for a caller",
}

# variables the dialplan never names: set and read over AGI and AMI by ccserver alone
CCSERVER_ONLY_VARIABLES: Final = frozenset(
    {
        CC_QUEUE,
        CC_SKILLS,
        CC_PRIORITY,
        CC_VIP,
        CC_LANG,
        CC_ACCOUNT,
        CC_TICKET,
        CC_IVR_PATH,
        CC_SELF_SERVED,
        CC_DEFLECTED,
        CC_DTMF_PRIVATE,
        CC_AGENT,
        CC_AGENT_ID,
        CC_CALL_ID,
        CC_TICKET_ID,
    }
)
