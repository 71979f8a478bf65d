"""The CTI service: AMI session, typed events, call tracker and resync, wired.

Theory of operation
-------------------
The AMI client reads and frames on the event loop's read path and queues
events; one consumer task takes them in order. For each: type it, apply it to
the tracker at the injected clock's ``now``, then await every subscriber (the
ACD orchestrator, live views) one by one, so a subscriber sees the tracker
already updated and events are never reordered or run as loose tasks.

Resync: after every login the client queues a marker behind the events already
read; the consumer reaches it, collects ``CoreShowChannels`` (events arriving
meanwhile wait in the queue) and reconciles the tracker with it, then applies
the waiting events in order. A Hangup read while the snapshot was collected
keeps its channel from being called vanished; its own event closes it
properly. An Asterisk restart is told apart from a mere disconnect by the
``Uptime`` of ``FullyBooted`` (the boot moved later) or a ``Shutdown`` seen
before, and a second ``FullyBooted`` in one session triggers a resync at once.

Every resync also reads Asterisk's device truth (``DeviceStateList`` and
``PJSIPShowContacts``) and then hands a :class:`Resynced` summary to the
resync subscribers (the ACD orchestrator reconciles agents and calls with it).
Besides the one after every login, a resync runs every ``reconcile_every_s``
while connected, so a call whose Hangup was missed or came out of order
cannot stay active for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import dialplan as dp
from contracts.sink import EventSink

from . import events as ev
from .astdb import CallNotes, read_call_notes
from .connection import AmiClient, AmiError, AmiSettings
from .tracker import CallTracker
from .wire import AmiMessage

log = logging.getLogger(__name__)

Subscriber = Callable[[ev.TypedEvent], Awaitable[None]]
_DELETE_CHUNK = 500  # AstDB notes deleted per write (DBDel actions sent together)


@dataclass(frozen=True)
class Resynced:
    """What a resync found: the tracker now agrees with Asterisk's channels.

    ``devices`` maps a device (``PJSIP/1001``) to its ``DeviceStateList`` state
    (``NOT_INUSE``, ``UNAVAILABLE``...); ``contacts`` maps a PJSIP endpoint to
    the status of its contact (``Reachable``, ``Unreachable``...; an endpoint
    with no contact is absent). Either is None when Asterisk could not say.
    """

    restarted: bool
    vanished: int
    adopted: int
    devices: Mapping[str, str] | None
    contacts: Mapping[str, str] | None
    notes: CallNotes = field(default_factory=CallNotes)  # what the dialplan noted (AstDB)


ResyncSubscriber = Callable[[Resynced], Awaitable[None]]
# channel variables the product reads (set by the IVR and the dialplan)
TRACKED_VARIABLES = (dp.VARIABLE_PREFIX, "DIALSTATUS", "AGISTATUS")
# how much later a boot must look to count as a restart (Uptime is whole seconds)
RESTART_SLACK_S = 5.0
MAX_EVENT_NAMES = 256  # distinct event names counted one by one; the rest as "other"
REACHABLE = ("Reachable", "NonQualified")  # PJSIP contact statuses that can take a call


class CtiService:
    """Keeps the call tracker true to Asterisk and hands typed events on."""

    def __init__(
        self,
        settings: AmiSettings,
        sink: EventSink,
        *,
        clock: Callable[[], float] = time.time,
        ids: Callable[[], str] | None = None,
        rng: random.Random | None = None,
        recent_calls: int = 1000,
        reconcile_every_s: float | None = 60.0,
        node: str = "default",
        unique_prefix: bool = False,
    ) -> None:
        # the Asterisk node this service follows; with ``unique_prefix`` (several nodes) its
        # Uniqueids must start "<node>-" (asterisk.conf systemname), else calls could collide
        self.node = node
        self._prefix = f"{node}-" if unique_prefix else None
        self._prefix_warned = False
        self.clock = clock
        self._vars_session = -1  # the session whose channels' variables were read back
        self.reconcile_every_s = reconcile_every_s
        self._resync_subscribers: list[ResyncSubscriber] = []
        self._reconciler: asyncio.Task[None] | None = None
        self._evaluated_session = 0  # the session whose boot time was last judged
        self.tracker = CallTracker(sink, ids=ids, recent=recent_calls, track_vars=TRACKED_VARIABLES)
        self.client = AmiClient(
            settings, on_event=self._on_message, on_session=self._resync, rng=rng
        )
        self._subscribers: list[Subscriber] = []
        self._boot_at: float | None = None  # Asterisk's boot time as last seen
        self._uptime: int | None = None  # and its Uptime then
        self._booted_session = 0  # the session whose FullyBooted was last applied
        self._shutdown_seen = False
        self.resyncs = 0
        self.restarts_seen = 0
        self.last_event_at: float | None = None
        self.event_at = 0.0  # the time of the event being handed to subscribers
        self.events_by_name: dict[str, int] = {}

    # --- lifecycle and actions ----------------------------------------------
    def subscribe(self, handler: Subscriber) -> Callable[[], None]:
        """Await ``handler`` with every typed event, after the tracker applied it.

        Returns a function that unsubscribes. A handler that raises is logged
        and the event goes on to the others; a slow handler delays the events
        behind it (hand long work to your own queue).
        """
        self._subscribers.append(handler)
        return lambda: self._subscribers.remove(handler)

    def subscribe_resync(self, handler: ResyncSubscriber) -> Callable[[], None]:
        """Await ``handler`` with a :class:`Resynced` after every resync (on the consumer)."""
        self._resync_subscribers.append(handler)
        return lambda: self._resync_subscribers.remove(handler)

    async def start(self) -> None:
        """Start connecting in the background (reconnects until stopped)."""
        await self.client.start()
        if self.reconcile_every_s:
            self._reconciler = asyncio.create_task(self._reconcile_loop(), name="cti-reconcile")

    async def stop(self) -> None:
        """Log off and stop every task."""
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
            self._reconciler = None
        await self.client.stop()

    async def _reconcile_loop(self) -> None:
        assert self.reconcile_every_s
        while True:
            await asyncio.sleep(self.reconcile_every_s)
            if self.connected:
                self.request_resync()

    @property
    def connected(self) -> bool:
        """True while a logged-in AMI session is up."""
        return self.client.connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session is logged in (TimeoutError otherwise)."""
        await self.client.wait_connected(timeout)

    async def send_action(
        self,
        action: str,
        headers: Sequence[tuple[str, str]] | None = None,
        *,
        timeout: float | None = None,
    ) -> AmiMessage:
        """Send one action on the current session; return Asterisk's response.

        Never re-sent: if the session ends first this raises
        :class:`cti.connection.AmiConnectionLost` and the caller decides.
        """
        return await self.client.send_action(action, headers or (), timeout=timeout)

    async def send_actions(
        self,
        actions: Sequence[tuple[str, Sequence[tuple[str, str]]]],
        *,
        timeout: float | None = None,
    ) -> list[AmiMessage]:
        """Several actions at once, taking effect in order; their responses (never re-sent)."""
        return await self.client.send_actions(actions, timeout=timeout)

    async def originate(
        self, headers: Sequence[tuple[str, str]], *, timeout: float | None = None
    ) -> AmiMessage:
        """An async Originate; returns its ``OriginateResponse`` (or the Error response)."""
        return await self.client.originate(headers, timeout=timeout)

    async def list_action(
        self,
        action: str,
        headers: Sequence[tuple[str, str]] | None = None,
        *,
        complete_event: str | None = None,
        timeout: float | None = None,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send a list action (``Status``, ``BridgeList``...); return response and items."""
        return await self.client.list_action(
            action, headers or (), complete_event=complete_event, timeout=timeout
        )

    def request_resync(self) -> None:
        """Reconcile with Asterisk after the events already received."""
        self.client.request_resync()

    # --- the consumer ------------------------------------------------------------
    async def _on_message(self, msg: AmiMessage) -> None:
        fields = msg.as_dict()
        name = fields.get("Event", "")
        if name == "VarSet" and not fields.get("Variable", "").startswith(TRACKED_VARIABLES):
            # Dial() and the dialplan set many variables the product never reads
            event: ev.TypedEvent = ev.RawEvent(msg)
        else:
            event = ev.type_event(msg)
        self.last_event_at = self.clock()
        # with timestampevents=yes (asterisk/manager.conf) call times are
        # Asterisk's own, not when ccserver happened to read the event
        now = _timestamp(fields.get("Timestamp")) or self.last_event_at
        counts = self.events_by_name
        key = name if name in counts or len(counts) < MAX_EVENT_NAMES else "other"
        counts[key] = counts.get(key, 0) + 1  # bounded: a hostile peer cannot grow it
        if self._prefix is not None and not self._prefix_warned:
            uid = fields.get("Uniqueid")
            if uid and not uid.startswith(self._prefix):
                self._prefix_warned = True
                log.error(
                    "node %s: Uniqueid %s does not start with %r: set systemname = %s in its "
                    "asterisk.conf, or calls of two nodes may share an id",
                    self.node, uid, self._prefix, self.node,
                )  # fmt: skip
        if name == "FullyBooted" or name == "Shutdown":
            self._on_system(event)
        self.tracker.apply(event, now)
        self.event_at = now  # subscribers read when it happened, in Asterisk's time
        for handler in self._subscribers:
            try:
                await handler(event)
            except Exception:
                log.exception("CTI subscriber %r failed on %s", handler, name)

    def _on_system(self, event: ev.TypedEvent) -> None:
        if isinstance(event, ev.Shutdown):
            log.warning("Asterisk is shutting down (restart: %s)", event.restart or "no")
            self._shutdown_seen = True
        elif isinstance(event, ev.FullyBooted):
            if self._booted_session == self.client.sessions:
                # a second FullyBooted in one session: Asterisk restarted under us
                log.warning("Asterisk booted again within the session; resyncing")
                self._shutdown_seen = True  # the resync closes old channels as restarted
                self.request_resync()
            self._booted_session = self.client.sessions

    def _restarted_since_last_session(self) -> bool:
        """Did Asterisk boot again since the last session? (Uptime of FullyBooted)."""
        if self._evaluated_session == self.client.sessions:
            # a periodic resync in the same session: the Uptime read at login
            # is older now, so only a Shutdown or a second boot says "restarted"
            return self._shutdown_seen
        self._evaluated_session = self.client.sessions
        uptime = self.client.boot_uptime
        if uptime is None:
            return self._shutdown_seen
        boot_at = self.clock() - uptime
        previous, self._boot_at = self._boot_at, boot_at
        previous_uptime, self._uptime = self._uptime, uptime
        later = previous is not None and boot_at > previous + RESTART_SLACK_S
        younger = previous_uptime is not None and uptime < previous_uptime
        log.debug("Asterisk uptime %d s (was %s): booted at %.0f (was %s)",
                  uptime, previous_uptime, boot_at, previous)  # fmt: skip
        return later or younger or self._shutdown_seen

    async def _resync(self) -> None:
        """Reconcile the tracker with Asterisk's own list of channels (on the consumer)."""
        try:
            _, items = await self.client.list_action("CoreShowChannels", timeout=30.0)
        except (AmiError, TimeoutError) as exc:
            log.error("resync failed (%s); dropping the session to try again", exc)
            self.client.drop()
            return
        restarted = self._restarted_since_last_session()
        self._shutdown_seen = False
        if restarted:
            self.restarts_seen += 1
        snapshot = [e for e in map(ev.type_event, items) if isinstance(e, ev.CoreShowChannel)]
        # read after the snapshot: a line missing from it ran its hangup handler first
        notes = await self._call_notes()
        now = self.clock()
        known = set(self.tracker.channels)
        vanished, adopted = self.tracker.reconcile(
            snapshot,
            now,
            hung_up_meanwhile=frozenset(self.client.hangups_seen),
            detail="asterisk_restart" if restarted else "during_disconnect",
            ended_at=notes.line_ends(),
        )
        log.info(
            "resync %d: %d channels live, %d vanished, %d adopted%s",
            self.resyncs + 1,
            len(snapshot),
            vanished,
            adopted,
            " (Asterisk restarted)" if restarted else "",
        )
        live = {c.uniqueid for c in snapshot}
        if self._vars_session != self.client.sessions:
            # the first resync of a session follows a gap: every live channel's variables
            # are read back, as a caller who reached cc-hold meanwhile got CC_QUEUED
            # (CC_QUEUE...) unseen; a watchdog resync in the same session saw them live
            self._vars_session = self.client.sessions
            await self._restore_variables(live)
        elif adopted:
            await self._restore_variables(live - known)
        self.resyncs += 1
        if self._resync_subscribers:
            devices, contacts = await self.device_truth()
            found = Resynced(restarted, vanished, adopted, devices, contacts, notes)
            for handler in self._resync_subscribers:
                try:
                    await handler(found)
                except Exception:
                    log.exception("CTI resync subscriber %r failed", handler)
        # read and applied: the notes of calls we now follow live are not needed; only
        # those read go (a caller who hung up meanwhile has a newer one, read later)
        for i in range(0, len(notes.keys), _DELETE_CHUNK):
            chunk = notes.keys[i : i + _DELETE_CHUNK]
            with contextlib.suppress(AmiError, TimeoutError):
                await self.client.send_actions(
                    [("DBDel", [("Family", dp.ASTDB_FAMILY), ("Key", key)]) for key in chunk]
                )

    async def _call_notes(self) -> CallNotes:
        """What the dialplan noted in AstDB since the last resync (empty if unreadable)."""
        try:
            reply, items = await self.client.list_action("DBGetTree", [("Family", dp.ASTDB_FAMILY)])
        except (AmiError, TimeoutError) as exc:
            log.warning("could not read the dialplan's call notes (AstDB): %s", exc)
            return CallNotes()
        if reply.response != "Success":
            log.warning("could not read the dialplan's call notes: %s", reply.get("Message"))
            return CallNotes()
        return read_call_notes((i.get("Key") or "", i.get("Val") or "") for i in items)

    async def ended_note(self, uniqueid: str) -> CallNotes:
        """The dialplan's ended note of one caller's line, read now (``DBGet``; empty if
        there is none or it cannot be read)."""
        key = f"{uniqueid}{dp.ASTDB_ENDED}"
        try:
            reply, items = await self.client.list_action(
                "DBGet", [("Family", dp.ASTDB_FAMILY), ("Key", key)], complete_event="DBGetComplete"
            )
        except (AmiError, TimeoutError):
            return CallNotes()
        if reply.response != "Success" or not items:
            return CallNotes()
        return read_call_notes([(f"/{dp.ASTDB_FAMILY}/{key}", items[0].get("Val") or "")])

    async def device_truth(self) -> tuple[dict[str, str] | None, dict[str, str] | None]:
        """Asterisk's device states and PJSIP contact statuses (None where it could not say)."""
        devices: dict[str, str] | None = None
        contacts: dict[str, str] | None = None
        try:
            reply, items = await self.client.list_action("DeviceStateList")
            if reply.response == "Success":
                devices = {i.get("Device") or "": i.get("State") or "" for i in items}
        except (AmiError, TimeoutError) as exc:
            log.warning("could not read device states: %s", exc)
        try:
            reply, items = await self.client.list_action("PJSIPShowContacts")
            if reply.response == "Success":
                contacts = {}
                for item in items:  # an endpoint with several contacts: any reachable one counts
                    endpoint = item.get("Endpoint") or ""
                    if contacts.get(endpoint) not in REACHABLE:
                        contacts[endpoint] = item.get("Status") or ""
            elif reply.get("Message") == "No Contacts found":
                contacts = {}  # Asterisk answers an empty list with this Error
        except (AmiError, TimeoutError) as exc:
            log.warning("could not read PJSIP contacts: %s", exc)
        return devices, contacts

    async def _restore_variables(self, adopted: set[str]) -> None:
        """Read back the tracked channel variables of adopted channels (CC_QUEUE...)."""
        if not adopted:
            return  # no channel: no Status to ask for
        try:
            _, items = await self.client.list_action("Status", [("AllVariables", "true")])
        except (AmiError, TimeoutError) as exc:
            log.warning("could not read the variables of adopted channels: %s", exc)
            return
        now = self.clock()
        for item in items:
            uid = item.get("Uniqueid")
            if uid not in adopted:
                continue
            variables = dict(v.partition("=")[::2] for v in item.get_all("Variable"))
            self.tracker.restore_variables(uid, variables, now)

    def health(self) -> dict[str, Any]:
        """Connection and tracker state for /healthz and metrics."""
        summary = self.tracker.summary()
        return {
            "node": self.node,
            "ami": self.client.stats() | {"resyncs": self.resyncs, "restarts": self.restarts_seen},
            "connected": self.connected,
            "last_event_at": self.last_event_at,
            "reconnects": self.client.reconnects,
            "active_calls": summary.active_calls,
            "active_channels": summary.active_channels,
            "calls_ended": summary.calls_ended,
        }


def _timestamp(value: str | None) -> float | None:
    """An event's ``Timestamp: 1795343862.123456`` header, when present and sane."""
    if not value:
        return None
    try:
        stamp = float(value)
    except ValueError:
        return None
    return stamp if stamp > 0 else None
