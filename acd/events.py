"""What the ACD is told: the events the shell feeds to ``Engine.handle``.

Each is a frozen dataclass named for what happened, in a supervisor's words;
``Event`` is their union. The shell translates AMI events and people's actions
into these (``ccserver.orchestrator``); the engine answers with effects
(``acd.effects``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .model import AgentState, DeviceState, QueueConfig
from .routing import EngineSettings


@dataclass(frozen=True)
class CallArrived:
    call_id: str
    queue: str
    caller: str = ""
    priority: float = 0.0
    vip: bool = False
    extra_skills: tuple[tuple[str, int], ...] = ()
    preferred_agent: str | None = None
    # a caller queued before a restart or a link drop keeps their original wait start
    enqueued_at: float | None = None
    node: str | None = None  # the Asterisk node the caller's line is on
    # a queue callback: no line, the customer is rung at this number when a seat is free
    callback: str = ""


@dataclass(frozen=True)
class CallAdopted:
    """Asterisk shows the caller talking to the agent although the ACD did not see it
    connect (the call was answered while ccserver was restarting or not listening)."""

    call_id: str
    queue: str
    agent_id: str
    caller: str = ""
    connected_at: float | None = None
    node: str | None = None  # the Asterisk node the caller's line is on


@dataclass(frozen=True)
class CallTransferred:
    """The agent on the call handed it to another agent (an attended transfer): the first
    agent's part ends (wrap-up as after any call), the call goes on with the second."""

    call_id: str
    agent_id: str  # the agent who has it now


@dataclass(frozen=True)
class AgentRestored:
    """The agent's state as stored before a restart (logged out, available,
    not ready with its reason, or wrap-up until ``until``)."""

    agent_id: str
    state: AgentState
    reason: str | None = None
    until: float | None = None


@dataclass(frozen=True)
class CallAbandoned:
    """The caller hung up before or while being offered."""

    call_id: str


@dataclass(frozen=True)
class OfferAnswered:
    call_id: str
    agent_id: str
    answered_at: float | None = None  # when Asterisk answered, if learnt late (a resync)


class OfferFailure(enum.StrEnum):
    """Why an offer did not connect, as Asterisk (or ccserver) says it."""

    NO_ANSWER = "no_answer"  # the person let it ring out: not ready (no answer)
    BUSY = "busy"  # the softphone refused it: a device cool-off
    UNAVAILABLE = "unavailable"  # the softphone cannot be called: a device cool-off
    NOT_DELIVERED = "not_delivered"  # ccserver could not send it: nobody's fault


@dataclass(frozen=True)
class OfferFailed:
    """The offer did not connect, for the reason ``why``."""

    call_id: str
    agent_id: str
    why: OfferFailure


@dataclass(frozen=True)
class CallEnded:
    """The conversation is over; the agent goes to wrap-up."""

    call_id: str


@dataclass(frozen=True)
class AgentLogin:
    agent_id: str


@dataclass(frozen=True)
class AgentLogout:
    agent_id: str
    reason: str | None = None  # set when someone else logs the agent out (a supervisor)
    by: str | None = None  # who did, when not the agent


@dataclass(frozen=True)
class AgentSkillsChanged:
    """A supervisor changed the agent's skills: effective for the next routing decision."""

    agent_id: str
    skills: tuple[tuple[str, int], ...]  # (skill, level)
    by: str | None = None


@dataclass(frozen=True)
class AgentReady:
    agent_id: str


@dataclass(frozen=True)
class AgentNotReady:
    agent_id: str
    reason: str
    by: str | None = None  # who forced it, when not the agent (a supervisor)


@dataclass(frozen=True)
class WrapUpDone:
    """The agent ends wrap-up early."""

    agent_id: str


@dataclass(frozen=True)
class DeviceChanged:
    agent_id: str
    device: DeviceState
    node: str | None = None  # the node that says so; OK there makes it the seat's node


@dataclass(frozen=True)
class NodeLinkChanged:
    """An Asterisk node's AMI link went down (its calls are not offered) or is back in step."""

    node: str
    up: bool


@dataclass(frozen=True)
class CallbackRequested:
    """The caller keeps their place and hangs up; ``number`` is called back."""

    call_id: str
    number: str


@dataclass(frozen=True)
class CallbackFailed:
    """The customer did not answer the callback placed for an offer."""

    call_id: str


@dataclass(frozen=True)
class AgentSpec:
    """An agent seat as configured (the live configuration's row)."""

    id: str
    name: str
    endpoint: str
    skills: tuple[tuple[str, int], ...]  # (skill, level)


@dataclass(frozen=True)
class ConfigurationChanged:
    """An admin changed the configuration: the whole of it, as it is to be now.

    The engine takes it without a restart or refuses all of it (``acd.reconfigure``).
    """

    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentSpec, ...]
    settings: EngineSettings
    version: int = 0
    by: str | None = None


@dataclass(frozen=True)
class Tick:
    """Time passes: ring timeouts, wrap-ups, escalations, max waits."""


Event = (
    CallArrived
    | CallAdopted
    | CallTransferred
    | AgentRestored
    | CallAbandoned
    | OfferAnswered
    | OfferFailed
    | CallEnded
    | AgentLogin
    | AgentLogout
    | AgentReady
    | AgentNotReady
    | AgentSkillsChanged
    | WrapUpDone
    | DeviceChanged
    | NodeLinkChanged
    | CallbackRequested
    | CallbackFailed
    | ConfigurationChanged
    | Tick
)
