"""The event log's kinds: every fact ccserver records about a call, named once.

Every row of ``call_events`` has a ``kind`` from this module (``contracts.sink.CallEvent``).
Producers emit these constants and consumers (the reports' fold, live metrics,
the restore) compare with them, so a renamed kind is one change here and a typo
is an ``AttributeError``, not a silently empty report. Each constant's comment
lists the keys of its ``data``. The ACD's kinds are ``acd.<kind>`` of the effect
classes in ``acd/effects.py`` (their fields are the data); they are listed here
too, and ``tests/unit/contracts/test_eventlog.py`` checks the two agree and that
every kind here is produced somewhere.
"""

from __future__ import annotations

from typing import Final

# --- the call tracker (cti/tracker.py): what Asterisk did --------------------------------
CALL_STARTED: Final = "call.started"  # caller, channel, started_at, adopted
CALL_ENDED: Final = "call.ended"  # caller, duration_s, answered, bridged, cause, reason,
#   detail (why it vanished, if it did), dtmf, variables (CC_*), noted (end from AstDB)
CHANNEL_CREATED: Final = "channel.created"  # channel, uniqueid, state, context, exten
CHANNEL_ADOPTED: Final = "channel.adopted"  # as channel.created: found at a resync
CHANNEL_ANSWERED: Final = "channel.answered"  # channel
CHANNEL_DIALPLAN: Final = "channel.dialplan"  # channel, context, exten
CHANNEL_VAR: Final = "channel.var"  # channel, variable, value, restored (read back)
CHANNEL_BRIDGED: Final = "channel.bridged"  # channel, bridge, peers
CHANNEL_UNBRIDGED: Final = "channel.unbridged"  # channel, bridge
CHANNEL_HUNGUP: Final = "channel.hungup"  # channel, cause, cause_txt
CHANNEL_VANISHED: Final = "channel.vanished"  # channel, cause, cause_txt, reason, gone_between
DIAL_BEGIN: Final = "dial.begin"  # channel, dest, dial_string
DIAL_END: Final = "dial.end"  # channel, dest, status
DTMF: Final = "dtmf"  # channel, digit (None while a PIN is typed), private
CHANNEL_HOLD: Final = "channel.hold"  # channel (whose phone held), music_class
CHANNEL_UNHOLD: Final = "channel.unhold"  # channel
CALL_TRANSFERRED: Final = "call.transferred"  # kind (blind|attended), result, from (the
#   transferer's channel), to (blind: the extension; attended: the target's channel),
#   context (blind), transferee (channel), external
CALL_SPIED: Final = "call.spied"  # state (start|stop), spyer, spyee (channels)
CALL_NOTE: Final = "call.note"  # agent, text (written on the agent desktop)
CALL_DISPOSITION: Final = "call.disposition"  # agent, code (acd disposition_codes), text
CALL_CONTROL: Final = "call.control"  # agent, action (hold, resume, blind_transfer,
#   attended_transfer, complete_transfer, cancel_transfer), target, by, result (Asterisk's)
CALL_RECORDING: Final = "call.recording"  # file (under recordings.dir), started_at, channel,
#   queue, agent, adopted (the recording found or started after a resync)

# --- the ACD (acd/effects.py: acd.<kind>, the effect's fields as data) -------------------
ACD_AGENT_STATE: Final = "acd.agent_state"  # agent, state, code, until
ACD_REFUSED: Final = "acd.refused"  # agent
ACD_DEVICE: Final = "acd.device"  # agent, device
ACD_SKILLS: Final = "acd.skills"  # agent, skills, queues (changed live by a supervisor)
ACD_QUEUED: Final = "acd.queued"  # queue, priority, enqueued_at (a kept wait start)
ACD_RESUMED: Final = "acd.resumed"  # enqueued_at
ACD_OFFER: Final = "acd.offer"  # agent, endpoint, ring_timeout_s, callback, waited_s
ACD_CANCEL_OFFER: Final = "acd.cancel_offer"  # agent, why
ACD_CONNECTED: Final = "acd.connected"  # agent, waited_s, answered_at
ACD_ADOPTED: Final = "acd.adopted"  # agent, answered_at
ACD_TRANSFERRED: Final = "acd.transferred"  # agent (who has it now), from_agent
ACD_REQUEUED: Final = "acd.requeued"  # agent
ACD_ABANDONED: Final = "acd.abandoned"  # waited_s
ACD_ESCALATED: Final = "acd.escalated"  # step
ACD_PREFERENCE_EXPIRED: Final = "acd.preference_expired"  # agent
ACD_OVERFLOWED: Final = "acd.overflowed"  # to
ACD_MAX_WAIT: Final = "acd.max_wait"  # action
ACD_CALLBACK_REQUESTED: Final = "acd.callback_requested"
ACD_CALLBACK_RETRY: Final = "acd.callback_retry"  # attempt
ACD_CALLBACK_FAILED: Final = "acd.callback_failed"  # waited_s
ACD_CONFIG_CHANGED: Final = "acd.config_changed"  # version, by, queues_/agents_ added...
ACD_CONFIG_REFUSED: Final = "acd.config_refused"  # version, by (the reason says why)

# --- the IVR (ivr/): what the caller did in self-service -------------------------------
IVR_STARTED: Final = "ivr.started"  # caller, channel
IVR_ENDED: Final = "ivr.ended"  # outcome (self_served, deflected, handoff, hangup), node, path
IVR_NODE: Final = "ivr.node"  # node, type
IVR_INPUT: Final = "ivr.input"  # node, status (ok, timeout, invalid), attempt, (keys)
IVR_ACTION: Final = "ivr.action"  # node, action, result
IVR_RETRIES_EXHAUSTED: Final = "ivr.retries_exhausted"  # node
IVR_PROMPT_MISSING: Final = "ivr.prompt_missing"  # prompt
IVR_ERROR: Final = "ivr.error"  # node
IVR_ACCOUNT_NOT_FOUND: Final = "ivr.account_not_found"  # attempts
IVR_BACKEND_DOWN: Final = "ivr.backend_down"  # error
IVR_BALANCE_READ: Final = "ivr.balance_read"  # account
IVR_PIN_FAILED: Final = "ivr.pin_failed"  # account, attempt (never the PIN)
IVR_PIN_LOCKED: Final = "ivr.pin_locked"  # account, reason
IVR_OUTAGE_NOTICE: Final = "ivr.outage_notice"  # outage_id, region
IVR_DEFLECTED: Final = "ivr.deflected"  # outage_id, number
IVR_HANDOFF: Final = "ivr.handoff"  # queue, skills, priority, vip
IVR_SURVEY_OPT_IN: Final = "ivr.survey_opt_in"
IVR_CALLBACK_OFFERED: Final = "ivr.callback_offered"  # queue, expected_wait_s | reason
IVR_CALLBACK_REQUESTED: Final = "ivr.callback_requested"  # queue, number, accepted
IVR_CALLBACK_REFUSED: Final = "ivr.callback_refused"  # reason
IVR_ANNOUNCEMENT: Final = "ivr.announcement"  # reason

# --- self-service records and follow-ups (ivr/, ccserver/callbacks.py) --------------------
TICKET_CREATED: Final = "ticket.created"  # ticket, ticket_id, category, due_at, callback...
TICKET_CLOSED: Final = "ticket.closed"  # ticket, resolution
TICKET_NOTE: Final = "ticket.note"  # ticket, ticket_id, agent, text (the agent desktop)
TICKET_CALLBACK: Final = "ticket.callback"  # ticket, result, rating
SURVEY_SCORE: Final = "survey.score"  # survey, score, agent, queue
SURVEY_REFUSED: Final = "survey.refused"  # survey, reason
SURVEY_SKIPPED: Final = "survey.skipped"  # survey, agent, queue
OUTAGE_CALLBACK: Final = "outage.callback"  # result
CALLBACK_ATTEMPT: Final = "callback.attempt"  # script, attempt, answered...
CALLBACK_ANSWERED: Final = "callback.answered"

ACD_KINDS: Final = frozenset(
    {
        ACD_AGENT_STATE, ACD_REFUSED, ACD_DEVICE, ACD_SKILLS, ACD_QUEUED, ACD_RESUMED, ACD_OFFER,
        ACD_CANCEL_OFFER, ACD_CONNECTED, ACD_ADOPTED, ACD_TRANSFERRED, ACD_REQUEUED, ACD_ABANDONED,
        ACD_ESCALATED, ACD_PREFERENCE_EXPIRED, ACD_OVERFLOWED, ACD_MAX_WAIT,
        ACD_CALLBACK_REQUESTED, ACD_CALLBACK_RETRY, ACD_CALLBACK_FAILED,
        ACD_CONFIG_CHANGED, ACD_CONFIG_REFUSED,
    }
)  # fmt: skip
