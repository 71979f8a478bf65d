"""What the ACD decides: the effects ``Engine.handle`` returns, one type each.

Every effect says when (``at``), who (``call_id``, ``agent_id``) and why, in a
supervisor's words (``reason``, for people and the event log only: nobody
branches on it). Its other fields are the facts the shell acts on, typed, so
the shell matches on the class (``match effect: case Offer(): ...``) and never
parses a message. ``Effect`` is their union; each class's ``kind`` names its
event in the log (``acd.<kind>``) and :meth:`EffectBase.payload` is that
event's data (the reports read ``queued``, ``connected``, ``adopted``,
``abandoned``, ``agent_state``... by these field names).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .model import AgentState, DeviceState

_COMMON = frozenset({"at", "reason", "call_id", "agent_id"})


class CancelWhy(enum.StrEnum):
    """Why an offer was taken back from the agent."""

    RING_TIMEOUT = "ring_timeout"  # the softphone rang out: the caller goes back to hold
    CALLER_HUNG_UP = "caller_hung_up"


@dataclass(frozen=True, kw_only=True)
class EffectBase:
    at: float
    reason: str
    call_id: str | None = None
    agent_id: str | None = None
    kind: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        """The event log's data: the reason, the agent, and this effect's own facts."""
        data: dict[str, Any] = {"reason": self.reason, "agent": self.agent_id}
        for f in fields(self):
            if f.name not in _COMMON:
                value = getattr(self, f.name)
                data[f.name] = value.value if isinstance(value, enum.Enum) else value
        return data


# --- agents -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AgentStateChanged(EffectBase):
    kind: ClassVar[str] = "agent_state"
    state: AgentState
    code: str | None = None  # the reason code (not ready: lunch, break...)
    until: float | None = None  # when a wrap-up ends by itself


@dataclass(frozen=True, kw_only=True)
class Refused(EffectBase):
    """An agent's action that their state does not allow (the API answers 409)."""

    kind: ClassVar[str] = "refused"


@dataclass(frozen=True, kw_only=True)
class SkillsChanged(EffectBase):
    """The agent's skills now (and so the queues they may serve)."""

    kind: ClassVar[str] = "skills"
    skills: dict[str, int]
    queues: tuple[str, ...]  # the queues whose calls could now be theirs


@dataclass(frozen=True, kw_only=True)
class DeviceNoted(EffectBase):
    """The engine's view of a softphone changed (or its cool-off ended)."""

    kind: ClassVar[str] = "device"
    device: DeviceState


# --- calls ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Queued(EffectBase):
    kind: ClassVar[str] = "queued"
    queue: str
    priority: float
    enqueued_at: float | None = None  # a wait start kept across a restart or a link drop


@dataclass(frozen=True, kw_only=True)
class Resumed(EffectBase):
    """A caller who hung up and called back in time keeps their place."""

    kind: ClassVar[str] = "resumed"
    enqueued_at: float


@dataclass(frozen=True, kw_only=True)
class Offer(EffectBase):
    """Ring the agent's softphone with the call (or, for a callback, call the customer)."""

    kind: ClassVar[str] = "offer"
    endpoint: str
    ring_timeout_s: float
    callback: str | None  # the customer's number when the call is a queue callback
    waited_s: float
    # several Asterisk nodes: the seat's node and the caller's (they differ: over the trunk)
    node: str | None = None
    call_node: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelOffer(EffectBase):
    kind: ClassVar[str] = "cancel_offer"
    why: CancelWhy


@dataclass(frozen=True, kw_only=True)
class Connected(EffectBase):
    kind: ClassVar[str] = "connected"
    waited_s: float
    answered_at: float


@dataclass(frozen=True, kw_only=True)
class Adopted(EffectBase):
    """A conversation Asterisk reports that the engine had not seen connect."""

    kind: ClassVar[str] = "adopted"
    answered_at: float | None


@dataclass(frozen=True, kw_only=True)
class Transferred(EffectBase):
    """The call went from one agent to another (``agent_id`` has it now)."""

    kind: ClassVar[str] = "transferred"
    from_agent: str


@dataclass(frozen=True, kw_only=True)
class Requeued(EffectBase):
    """The offer did not connect; the call keeps its place and is offered on."""

    kind: ClassVar[str] = "requeued"


@dataclass(frozen=True, kw_only=True)
class Abandoned(EffectBase):
    kind: ClassVar[str] = "abandoned"
    waited_s: float


@dataclass(frozen=True, kw_only=True)
class Escalated(EffectBase):
    kind: ClassVar[str] = "escalated"
    step: int


@dataclass(frozen=True, kw_only=True)
class PreferenceExpired(EffectBase):
    kind: ClassVar[str] = "preference_expired"


@dataclass(frozen=True, kw_only=True)
class Overflowed(EffectBase):
    kind: ClassVar[str] = "overflowed"
    to: str


@dataclass(frozen=True, kw_only=True)
class MaxWaitReached(EffectBase):
    """The queue's max wait: a callback offer or an announcement (``action``)."""

    kind: ClassVar[str] = "max_wait"
    action: str


@dataclass(frozen=True, kw_only=True)
class CallbackQueued(EffectBase):
    kind: ClassVar[str] = "callback_requested"


@dataclass(frozen=True, kw_only=True)
class CallbackRetry(EffectBase):
    kind: ClassVar[str] = "callback_retry"
    attempt: int


@dataclass(frozen=True, kw_only=True)
class CallbackGaveUp(EffectBase):
    kind: ClassVar[str] = "callback_failed"
    waited_s: float


# --- configuration -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ConfigApplied(EffectBase):
    """The engine took a new configuration (``version``); what changed, by name."""

    kind: ClassVar[str] = "config_changed"
    version: int
    by: str | None
    queues_added: tuple[str, ...] = ()
    queues_removed: tuple[str, ...] = ()
    queues_changed: tuple[str, ...] = ()
    agents_added: tuple[str, ...] = ()
    agents_removed: tuple[str, ...] = ()
    agents_changed: tuple[str, ...] = ()
    settings_changed: bool = False


@dataclass(frozen=True, kw_only=True)
class ConfigRefused(EffectBase):
    """A configuration the running floor cannot take now (the API answers 409); nothing
    of it was applied."""

    kind: ClassVar[str] = "config_refused"
    version: int
    by: str | None


Effect = (
    AgentStateChanged
    | Refused
    | SkillsChanged
    | DeviceNoted
    | Queued
    | Resumed
    | Offer
    | CancelOffer
    | Connected
    | Adopted
    | Transferred
    | Requeued
    | Abandoned
    | Escalated
    | PreferenceExpired
    | Overflowed
    | MaxWaitReached
    | CallbackQueued
    | CallbackRetry
    | CallbackGaveUp
    | ConfigApplied
    | ConfigRefused
)
