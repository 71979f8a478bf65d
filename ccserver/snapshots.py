"""The server's health, typed: what /healthz shows and /metrics reads.

Metrics read these fields, never a dict with ``.get(key, 0)``: a figure that is
renamed or missing is a ``KeyError`` (or a type error for mypy) where the
snapshot is built, not a metric that silently reads zero. Each part keeps the
rest of its figures in ``details``, passed through to /healthz as they are, so
``to_json()`` gives the JSON /healthz has always shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import EventWriter

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _rest(raw: Mapping[str, Any], typed: tuple[str, ...]) -> Mapping[str, Any]:
    return MappingProxyType({k: v for k, v in raw.items() if k not in typed})


@dataclass(frozen=True)
class AmiSnapshot:
    """The AMI link."""

    connected: bool
    reconnects: int
    resyncs: int
    frame_errors: int
    details: Mapping[str, Any] = field(default_factory=_empty)

    FIELDS = ("connected", "reconnects", "resyncs", "frame_errors")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AmiSnapshot:
        return cls(
            connected=bool(raw["connected"]),
            reconnects=int(raw["reconnects"]),
            resyncs=int(raw["resyncs"]),
            frame_errors=int(raw["frame_errors"]),
            details=_rest(raw, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        return {**self.details, **{k: getattr(self, k) for k in self.FIELDS}}


@dataclass(frozen=True)
class NodeSnapshot:
    """One Asterisk node of several (README "Scaling out"): its ``CtiService.health()``."""

    name: str
    connected: bool
    active_calls: int
    reconnects: int
    resyncs: int
    details: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def from_dict(cls, name: str, raw: Mapping[str, Any]) -> NodeSnapshot:
        return cls(
            name=name,
            connected=bool(raw["connected"]),
            active_calls=int(raw["active_calls"]),
            reconnects=int(raw["reconnects"]),
            resyncs=int(raw["ami"]["resyncs"]),
            details=MappingProxyType(dict(raw)),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.details)


@dataclass(frozen=True)
class CtiSnapshot:
    """The AMI link and the call tracker (``CtiService.health()`` and its event counts)."""

    ami: AmiSnapshot
    active_calls: int
    active_channels: int
    calls_ended: int
    events_by_name: Mapping[str, int] = field(default_factory=_empty)
    details: Mapping[str, Any] = field(default_factory=_empty)
    nodes: tuple[NodeSnapshot, ...] = ()  # several nodes: each one (one node: none listed)

    FIELDS = ("ami", "active_calls", "active_channels", "calls_ended", "events_by_name", "nodes")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CtiSnapshot:
        return cls(
            ami=AmiSnapshot.from_dict(raw["ami"]),
            active_calls=int(raw["active_calls"]),
            active_channels=int(raw["active_channels"]),
            calls_ended=int(raw["calls_ended"]),
            events_by_name=MappingProxyType(dict(raw["events_by_name"])),
            details=_rest(raw, cls.FIELDS),
            # present only with several nodes: a single node's health has no such part
            nodes=tuple(NodeSnapshot.from_dict(n, h) for n, h in raw.get("nodes", {}).items()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.details,
            "ami": self.ami.to_json(),
            "active_calls": self.active_calls,
            "active_channels": self.active_channels,
            "calls_ended": self.calls_ended,
            "events_by_name": dict(self.events_by_name),
        } | ({"nodes": {n.name: n.to_json() for n in self.nodes}} if self.nodes else {})


@dataclass(frozen=True)
class StoreSnapshot:
    """The event writer."""

    healthy: bool
    queued: int
    written: int
    dropped: int
    conflicts: int
    duplicates: int
    spooled: int
    spool_bytes: int
    spool_errors: int
    lag_s: float  # age of the oldest event not yet written

    @classmethod
    def of_writer(cls, writer: EventWriter, now: float) -> StoreSnapshot:
        pending = writer.oldest_pending_at
        counts = {f.name: getattr(writer, f.name) for f in fields(cls) if f.name != "lag_s"}
        return cls(**counts, lag_s=max(0.0, now - pending) if pending else 0.0)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StoreSnapshot:
        return cls(**{f.name: raw[f.name] for f in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueueSnapshot:
    name: str
    waiting: int
    longest_wait_s: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> QueueSnapshot:
        return cls(str(raw["name"]), int(raw["waiting"]), float(raw["longest_wait_s"]))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "waiting": self.waiting, "longest_wait_s": self.longest_wait_s}


@dataclass(frozen=True)
class AgentSnapshot:
    """An agent: the state and the queues it can serve; the rest for /healthz in ``details``."""

    id: str
    state: str
    queues: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=_empty)

    FIELDS = ("id", "state", "queues")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AgentSnapshot:
        return cls(
            str(raw["id"]),
            str(raw["state"]),
            tuple(raw["queues"]),
            _rest(raw, cls.FIELDS),
        )

    def to_json(self) -> dict[str, Any]:
        return {**self.details, "id": self.id, "state": self.state, "queues": list(self.queues)}


@dataclass(frozen=True)
class AcdSnapshot:
    """Agents and queues (``Orchestrator.snapshot()``)."""

    agents: tuple[AgentSnapshot, ...]
    queues: tuple[QueueSnapshot, ...]
    details: Mapping[str, Any] = field(default_factory=_empty)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AcdSnapshot:
        return cls(
            tuple(AgentSnapshot.from_dict(a) for a in raw["agents"]),
            tuple(QueueSnapshot.from_dict(q) for q in raw["queues"]),
            _rest(raw, ("agents", "queues")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.details,
            "agents": [a.to_json() for a in self.agents],
            "queues": [q.to_json() for q in self.queues],
        }


@dataclass(frozen=True)
class IvrSnapshot:
    """The FastAGI server and the IVR's outcomes."""

    sessions_active: int
    sessions_total: int
    sessions_failed: int
    agi_port: int | None
    outcomes: Mapping[str, int] = field(default_factory=_empty)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> IvrSnapshot:
        port = raw["agi_port"]
        return cls(
            sessions_active=int(raw["sessions_active"]),
            sessions_total=int(raw["sessions_total"]),
            sessions_failed=int(raw["sessions_failed"]),
            agi_port=None if port is None else int(port),
            outcomes=MappingProxyType(dict(raw["outcomes"])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "sessions_active": self.sessions_active,
            "sessions_total": self.sessions_total,
            "sessions_failed": self.sessions_failed,
            "agi_port": self.agi_port,
        }


@dataclass(frozen=True)
class TicketsSnapshot:
    overdue: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TicketsSnapshot:
        return cls(int(raw["overdue"]))

    def to_json(self) -> dict[str, Any]:
        return {"overdue": self.overdue}


@dataclass(frozen=True)
class HealthSnapshot:
    """The whole server, once: /healthz is ``to_json()``, /metrics reads the fields."""

    status: str  # ok, or degraded
    version: str
    uptime_s: float
    cti: CtiSnapshot
    store: StoreSnapshot
    acd: AcdSnapshot | None = None
    ivr: IvrSnapshot | None = None
    tickets: TicketsSnapshot | None = None
    # the other parts' figures (background tasks, ...), shown on /healthz as they are
    details: Mapping[str, Any] = field(default_factory=_empty)
    # with active/standby: "active" (routes calls) or "standby"; None without it
    role: str | None = None

    FIELDS = ("status", "version", "uptime_s", "cti", "store", "acd", "ivr", "tickets", "role")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> HealthSnapshot:
        """From the dict ``Server.snapshot()`` has returned (KeyError names a missing figure)."""
        acd, ivr, tickets = raw.get("acd"), raw.get("ivr"), raw.get("tickets")
        return cls(
            status=str(raw["status"]),
            version=str(raw["version"]),
            uptime_s=float(raw["uptime_s"]),
            cti=CtiSnapshot.from_dict(raw["cti"]),
            store=StoreSnapshot.from_dict(raw["store"]),
            acd=None if acd is None else AcdSnapshot.from_dict(acd),
            ivr=None if ivr is None else IvrSnapshot.from_dict(ivr),
            tickets=None if tickets is None else TicketsSnapshot.from_dict(tickets),
            details=_rest(raw, cls.FIELDS),
            role=None if raw.get("role") is None else str(raw["role"]),
        )

    def to_json(self) -> dict[str, Any]:
        """The /healthz body (``role`` only with active/standby)."""
        role = {} if self.role is None else {"role": self.role}
        return {
            **role,
            **self.details,
            "acd": None if self.acd is None else self.acd.to_json(),
            "ivr": None if self.ivr is None else self.ivr.to_json(),
            "tickets": None if self.tickets is None else self.tickets.to_json(),
            "status": self.status,
            "version": self.version,
            "uptime_s": self.uptime_s,
            "cti": self.cti.to_json(),
            "store": self.store.to_json(),
        }
