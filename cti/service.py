"""The CTI service: AMI session, typed events, call tracker and resync, wired.

Every event is typed, applied to the tracker, then handed to subscribers (the
ACD orchestrator, the live views) in order, awaited one by one. After every
login, and when Asterisk reports a fresh boot, the tracker is reconciled with
``CoreShowChannels`` before any later event is applied.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import events as ev
from .connection import AmiClient, AmiError, AmiSettings
from .sink import EventSink
from .tracker import CallTracker
from .wire import AmiMessage

log = logging.getLogger(__name__)

Subscriber = Callable[[ev.TypedEvent], Awaitable[None]]
TRACKED_VARIABLES = ("CC_", "DIALSTATUS", "AGISTATUS")


class CtiService:
    """Keeps the call tracker true to Asterisk."""

    def __init__(
        self,
        settings: AmiSettings,
        sink: EventSink,
        *,
        clock: Callable[[], float] = time.time,
        ids: Callable[[], str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.tracker = CallTracker(sink, ids=ids, track_vars=TRACKED_VARIABLES)
        self.client = AmiClient(
            settings, on_event=self._on_message, on_session=self.resync, rng=rng
        )
        self._subscribers: list[Subscriber] = []
        self._session_at_boot = 0
        self.resyncs = 0
        self.last_event_at: float | None = None
        self.events_by_name: dict[str, int] = {}

    def subscribe(self, handler: Subscriber) -> None:
        """Call ``handler`` with every typed event, after the tracker applied it."""
        self._subscribers.append(handler)

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.stop()

    async def send_action(
        self, action: str, headers: list[tuple[str, str]] | None = None
    ) -> AmiMessage:
        """Send one action on the current session (never re-sent on reconnect)."""
        return await self.client.send_action(action, headers or [])

    async def _on_message(self, msg: AmiMessage) -> None:
        variable = msg.exact("Variable")
        if variable is not None and not variable.startswith(TRACKED_VARIABLES):
            # Dial() and the dialplan set many variables the product never reads
            event: ev.TypedEvent = ev.RawEvent(msg)
        else:
            event = ev.type_event(msg)
        now = self.clock()
        self.last_event_at = now
        name = event.name
        self.events_by_name[name] = self.events_by_name.get(name, 0) + 1
        if isinstance(event, ev.FullyBooted) and self._session_at_boot == self.client.sessions:
            # a second FullyBooted in one session: Asterisk restarted under us
            await self.resync()
        elif isinstance(event, ev.FullyBooted):
            self._session_at_boot = self.client.sessions
        self.tracker.apply(event, now)
        for handler in self._subscribers:
            await handler(event)

    async def resync(self) -> None:
        """Reconcile the tracker with Asterisk's own list of channels."""
        try:
            _, items = await self.client.list_action("CoreShowChannels", timeout=30.0)
        except (AmiError, TimeoutError) as exc:
            log.error("resync failed (%s); dropping the session to try again", exc)
            self.client.drop()
            return
        snapshot = []
        for item in items:
            typed = ev.type_event(item)
            if isinstance(typed, ev.CoreShowChannel):
                snapshot.append(typed)
        vanished, adopted = self.tracker.reconcile(
            snapshot, self.clock(), hung_up_meanwhile=frozenset(self.client.hangups_seen)
        )
        self.resyncs += 1
        log.info(
            "resync %d: %d channels live, %d vanished, %d adopted",
            self.resyncs,
            len(snapshot),
            vanished,
            adopted,
        )

    def health(self) -> dict[str, Any]:
        """Connection and tracker state for /healthz and metrics."""
        summary = self.tracker.summary()
        return {
            "ami": self.client.stats() | {"resyncs": self.resyncs},
            "last_event_at": self.last_event_at,
            "active_calls": summary.active_calls,
            "active_channels": summary.active_channels,
            "calls_ended": summary.calls_ended,
        }
