"""The ACD's plain data: agents, queues, calls, and the decisions it takes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AgentState(enum.StrEnum):
    """Where an agent is, as a supervisor says it."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    OFFERED = "offered"  # the softphone is ringing with a call
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


class DeviceState(enum.StrEnum):
    """What Asterisk says of the agent's softphone."""

    OK = "ok"
    UNREGISTERED = "unregistered"
    UNREACHABLE = "unreachable"
    BUSY = "busy"  # on a call the ACD did not give it (a private call)
    UNKNOWN = "unknown"  # Asterisk has not said yet (start, or the link is down)


class Strategy(enum.StrEnum):
    """How a queue picks among eligible agents."""

    LONGEST_IDLE = "longest_idle"
    BEST_SKILL = "best_skill"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"


class CallState(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(frozen=True)
class EscalationStep:
    """After ``after_s`` of waiting, the call's requirements change."""

    after_s: float
    lower_levels_by: int = 0
    drop_skills: frozenset[str] = frozenset()
    add_skills: tuple[tuple[str, int], ...] = ()
    open_to_queue: str | None = None  # agents who serve that queue may take it too


@dataclass(frozen=True)
class QueueConfig:
    """A queue and its rules."""

    name: str
    skills: tuple[tuple[str, int], ...]  # (skill, minimum level)
    priority: int = 0
    sl_target: float = 0.8
    sl_threshold_s: float = 20.0
    wrap_up_s: float = 30.0
    ring_timeout_s: float = 15.0
    max_wait_s: float | None = None
    max_wait_action: str = "overflow"  # overflow | callback | announce
    overflow_to: str | None = None
    escalation: tuple[EscalationStep, ...] = ()
    strategy: Strategy = Strategy.LONGEST_IDLE
    preferred_agent_timeout_s: float = 30.0
    # several Asterisk nodes: a call may go to a seat on another node (over the inter-node
    # trunk); otherwise only to seats on its own node
    cross_node: bool = False


@dataclass
class Agent:
    """An agent seat and its softphone."""

    id: str
    name: str
    endpoint: str
    skills: dict[str, int]
    state: AgentState = AgentState.LOGGED_OUT
    reason: str | None = None
    device: DeviceState = DeviceState.OK
    idle_since: float = 0.0
    calls_handled: int = 0
    talk_time_s: float = 0.0
    call_id: str | None = None  # offered or connected call
    state_until: float | None = None  # end of ringing or of wrap-up
    connected_at: float | None = None
    # an offer failed at the device (busy, unreachable): not offered again before this
    cool_off_until: float | None = None
    # the Asterisk node where the softphone is registered (None: not known yet)
    node: str | None = None

    @property
    def routable(self) -> bool:
        """Free to be offered a call now, by state and by device."""
        return (
            self.state is AgentState.AVAILABLE
            and self.device is DeviceState.OK
            and self.cool_off_until is None
        )

    def not_routable_because(self) -> str | None:
        """Why no call is offered to this agent now, in a supervisor's words (None: routable)."""
        if self.state is not AgentState.AVAILABLE:
            return self.state.value + (f": {self.reason}" if self.reason else "")
        if self.device is not DeviceState.OK:
            return f"softphone {self.device.value}"
        if self.cool_off_until is not None:
            return "softphone failed an offer: cooling off"
        return None


@dataclass
class Call:
    """A caller waiting for, ringing or talking to an agent."""

    id: str
    queue: str
    caller: str
    enqueued_at: float
    priority: float = 0.0
    extra_skills: tuple[tuple[str, int], ...] = ()
    preferred_agent: str | None = None
    preferred_until: float | None = None
    vip: bool = False
    state: CallState = CallState.WAITING
    step: int = 0  # escalation steps reached
    agent_id: str | None = None
    offered_at: float | None = None
    overflowed_from: str | None = None
    max_wait_handled: bool = False
    callback_number: str | None = None  # a queue callback: no caller channel while waiting
    callback_attempts: int = 0
    not_before: float | None = None  # not offered before this (a callback's retry, a redelivery)
    node: str | None = None  # the Asterisk node the caller's line is on (None: any)
