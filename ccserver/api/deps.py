"""What the HTTP plugins are built from: the server's parts, each optional."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from prometheus_client.registry import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.tracker import Call, CallTracker
from ivr.accounts import AccountBackend

from ..callbacks import FollowUpDesk
from ..config import PeopleSection, QualitySection, RecordingsSection, ReportsSection
from ..configuration import LiveConfiguration
from ..orchestrator import Orchestrator
from ..people import People
from ..selfservice.pins_sql import DbPinAttempts
from ..selfservice.records_sql import SelfServiceRecords
from ..snapshots import HealthSnapshot


class CallView(Protocol):
    """What the API reads of the live calls: a call tracker, or several nodes' (NodeCalls)."""

    def call(self, call_id: str) -> Call | None: ...

    def active_calls(self) -> list[Call]: ...


class NodeCalls:
    """The call trackers of several Asterisk nodes as one view (call ids differ by node)."""

    def __init__(self, trackers: list[CallTracker]) -> None:
        self.trackers = trackers

    def call(self, call_id: str) -> Call | None:
        return next((c for t in self.trackers if (c := t.call(call_id)) is not None), None)

    def active_calls(self) -> list[Call]:
        return [c for t in self.trackers for c in t.active_calls()]


@dataclass(frozen=True)
class Deps:
    """A plugin registers its routes only when the parts it needs are here."""

    snapshot: Callable[[], HealthSnapshot]
    registry: CollectorRegistry
    tracker: CallView | None = None
    orchestrator: Orchestrator | None = None
    records: SelfServiceRecords | None = None
    desk: FollowUpDesk | None = None
    db: AsyncEngine | None = None  # the event log, for reports and staffing plans
    reports: ReportsSection | None = None
    threshold_s: Callable[[str], float] | None = None  # a queue's service-level threshold
    pins: DbPinAttempts | None = None  # the PIN lockout, for supervisors to lift
    people: People | None = None  # users, sessions, tokens, audit: without it, config tokens only
    people_settings: PeopleSection | None = None
    accounts: AccountBackend | None = None  # for the agent's screen pop
    configuration: LiveConfiguration | None = None  # the ACD's live configuration (admins)
    recordings: RecordingsSection | None = None  # where recordings are read (quality)
    quality: QualitySection | None = None  # the scorecard


class Plugin(Protocol):
    """A module of :mod:`ccserver.api.plugins`: one domain's routes."""

    def setup(self, app: web.Application, deps: Deps) -> None: ...
