"""Ground truth: the simulator's own record of what happened to every caller."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .channels import Channel


@dataclass
class CallerRecord:
    """Ground truth: what happened to one caller, as the simulator saw it."""

    seq: int
    number: str
    arrived_at: float
    uniqueid: str = ""
    channel: str = ""
    vip: bool = False
    entered_hold_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    agent: str | None = None
    talk_ended_at: float | None = None  # the agent hung up
    keys: dict[str, str] = field(default_factory=dict)  # AGI script -> keys pressed
    # abandoned | answered | self_served | deflected | callback | hung_up_in_ivr
    outcome: str = "in_progress"
    ring_attempts: list[dict[str, Any]] = field(default_factory=list)
    hold_s: float = 0.0  # seconds an agent kept the caller on hold (Hold to Unhold)
    # each agent's part of the conversation: [answered, left the bridge] (None: still on)
    talk_segments: list[list[float | None]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)  # kind, from, to, at

    @property
    def talk_s(self) -> float | None:
        """Seconds talking with agents, without hold and the rings between transfers."""
        if not self.talk_segments or any(end is None for _, end in self.talk_segments):
            return None
        return sum((end or 0.0) - (start or 0.0) for start, end in self.talk_segments) - self.hold_s

    @property
    def wait_s(self) -> float | None:
        """Seconds from entering the queue to being answered or giving up."""
        if self.entered_hold_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.entered_hold_at


class CallHandle:
    """What ``place_call`` returns: the caller's channel and ground-truth record."""

    def __init__(self, channel: Channel, record: CallerRecord) -> None:
        self.channel = channel.name
        self.uniqueid = channel.uniqueid
        self.linkedid = channel.linkedid
        self.record = record
        self.done = asyncio.Event()


def write_records(records: list[CallerRecord], path: str | Path) -> None:
    """Write the ground truth as JSON (one object per caller)."""
    rows = [asdict(r) | {"wait_s": r.wait_s, "talk_s": r.talk_s} for r in records]
    Path(path).write_text(json.dumps(rows, indent=1), encoding="utf-8")


class RecordLike(Protocol):
    """What a call record (``ccserver.reporting.calls.CallRecord``) offers the comparison."""

    ended_at: float | None
    disposition: str
    agent: str | None

    @property
    def wait_s(self) -> float | None: ...

    @property
    def talk_s(self) -> float: ...


def mismatches(
    truth: CallerRecord,
    record: RecordLike | None,
    agent_of: dict[str, str],
    tolerance_s: float,
) -> list[str]:
    """How ccserver's record of a queued caller differs from what the simulator saw.

    Empty when the record is right: it exists and has ended, the outcome
    (answered by the same agent, or abandoned) agrees, and the wait and the
    talk agree within ``tolerance_s``. ``agent_of`` maps extensions to agent ids.
    """
    if record is None:
        return ["no record"]
    wrong: list[str] = []
    if record.ended_at is None:
        wrong.append("not ended")
    if truth.outcome == "answered":
        if record.disposition != "answered":
            wrong.append(f"disposition {record.disposition}, not answered")
        elif record.agent != agent_of.get(str(truth.agent)):
            wrong.append(f"agent {record.agent}, not {agent_of.get(str(truth.agent))}")
        if truth.answered_at is not None and truth.ended_at is not None:
            talk = (truth.talk_ended_at or truth.ended_at) - truth.answered_at
            if abs(record.talk_s - talk) >= tolerance_s:
                wrong.append(f"talk {record.talk_s:.3f} s, not {talk:.3f}")
    elif record.disposition not in ("abandoned", "short_abandon"):
        wrong.append(f"disposition {record.disposition}, not {truth.outcome}")
    if truth.wait_s is None or record.wait_s is None:
        wrong.append(f"wait {record.wait_s}, truth {truth.wait_s}")
    elif abs(record.wait_s - truth.wait_s) >= tolerance_s:
        wrong.append(f"wait {record.wait_s:.3f} s, not {truth.wait_s:.3f}")
    return wrong
