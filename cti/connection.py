"""The AMI connection: login, reconnect, ping watchdog, action correlation.

Theory of operation
-------------------
``AmiClient`` keeps one TCP session to Asterisk alive. The transport is a
subclass of panoramisk's ``AMIProtocol`` whose ``data_received`` uses our
bounded framer; the session logic is ours. What panoramisk's ``Manager`` does
that we must not, and what we do instead:

- its receive buffer grows without limit on a line that never ends, and it
  decodes as ASCII dropping other bytes: ``cti.wire.AmiFramer`` bounds every
  message and flags bad bytes;
- it re-sends pending actions after a reconnect (a Redirect or Originate
  could run twice): every pending action fails with
  :class:`AmiConnectionLost` and the caller decides;
- it reconnects after a fixed delay: capped exponential backoff with jitter
  from an injectable RNG;
- it guesses list completion from message text (actions that never return):
  ``LIST_COMPLETE`` names the event that ends each list, with a timeout;
- it collects a list without a cap: a list longer than ``max_list_items``
  fails its action with :class:`AmiListTooLong` and drops the session (the
  rest of that list would still arrive on it); the run loop reconnects and the
  service resyncs;
- it runs event handlers as un-awaited tasks: one consumer task awaits them
  in order;
- it has no liveness check and no resync: a Ping watchdog drops a silent
  peer, and every login queues a resync (``on_session``).

The read path does no work: responses resolve their waiting action by
ActionID; events go into a bounded queue that one consumer task drains, in
order, into ``on_event``. If that queue overflows, the session is reset, and
the resync that follows every login repairs the picture. The resync marker is
queued on the read path the moment the Login succeeds, so it precedes every
event of the session; events that arrive while ``on_session`` collects its
snapshot wait in the queue and are applied after it.

Nothing a peer sends raises out of the read path: header values are read
defensively (``Uptime`` must be plain ASCII digits of sane length), and
``hangups_seen`` is capped like everything else a peer can grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from panoramisk.ami_protocol import AMIProtocol

from .wire import AmiFramer, AmiMessage, FrameError, encode_message

log = logging.getLogger(__name__)

# list actions and the event that completes each
LIST_COMPLETE = {
    "CoreShowChannels": "CoreShowChannelsComplete",
    "DBGetTree": "DBGetTreeComplete",
    "Status": "StatusComplete",
    "BridgeList": "BridgeListComplete",
    "DeviceStateList": "DeviceStateListComplete",
    "ExtensionStateList": "ExtensionStateListComplete",
    "QueueStatus": "QueueStatusComplete",
    "QueueSummary": "QueueSummaryComplete",
    "PJSIPShowContacts": "ContactListComplete",
    "PJSIPShowEndpoints": "EndpointListComplete",
}
SECRET_HEADERS = frozenset({"secret", "key"})


class AmiError(Exception):
    """Base of AMI client errors."""


class AmiConnectionLost(AmiError):
    """The session ended before the action completed; it was not re-sent."""


class AmiNotConnected(AmiError):
    """No logged-in session to send on."""


class AmiAuthError(AmiError):
    """Asterisk refused the login."""


class AmiListTooLong(AmiError):
    """A list action sent more than ``max_list_items`` items; the session was dropped."""


# Asterisk's Uptime in seconds: at most 12 ASCII digits (31,000 years); anything
# else (``²``, ``-1``, ``1e99``, 50 digits) is no usable uptime
MAX_UPTIME_DIGITS = 12


def parse_uptime(value: str | None) -> int | None:
    """``FullyBooted``'s Uptime as seconds, or None when it is not a sane number."""
    if not value or len(value) > MAX_UPTIME_DIGITS or not value.isascii() or not value.isdigit():
        return None
    return int(value)


@dataclass(frozen=True)
class AmiSettings:
    """Where and how to connect (the secret is never logged)."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "ccserver"
    secret: str = field(default="", repr=False)
    events: str = "system,call,dialplan,user,dtmf,agent,agi"
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    connect_timeout_s: float = 5.0
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 5.0
    action_timeout_s: float = 10.0
    queue_size: int = 20_000
    max_message_bytes: int = 256 * 1024
    # items one list action may collect (CoreShowChannels of a very busy Asterisk
    # stays far below); beyond it the action fails and the session is reset
    max_list_items: int = 100_000
    # Uniqueids remembered as hung up while a resync is pending
    max_hangups_seen: int = 100_000


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[tuple[AmiMessage, list[AmiMessage]]]
    complete_event: str | None
    response: AmiMessage | None = None
    items: list[AmiMessage] = field(default_factory=list)
    follow_up: bool = False  # the response has no EventList; wait for the event anyway


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with bounded framing, feeding our client."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.framer = AmiFramer(max_message_bytes=client.settings.max_message_bytes)
        self.closed = False

    def data_received(self, data: bytes) -> None:
        on_message = self.client._on_message
        for msg in self.framer.feed(data):
            if self.closed:
                return  # dropped (queue overflow): the rest goes with the session
            if isinstance(msg, FrameError):
                self.client.frame_errors += 1
                log.warning("AMI: dropped a malformed message (%s, %d bytes)", msg.reason, msg.size)
            else:
                on_message(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client._on_connection_lost(self, exc)


def backoff_delay(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Capped exponential backoff with equal jitter: half fixed, half random."""
    cap = min(high, low * float(2 ** min(attempt, 30)))
    return cap / 2 + rng.random() * cap / 2


class AmiClient:
    """One resilient AMI session; see the module docstring."""

    def __init__(
        self,
        settings: AmiSettings,
        *,
        on_event: Callable[[AmiMessage], Awaitable[None]],
        on_session: Callable[[], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_session = on_session
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        # a deque and a wake-up event: cheaper per event than asyncio.Queue on this hot path
        self._queue: deque[AmiMessage | None] = deque()
        self._wakeup = asyncio.Event()
        self._protocol: _Protocol | None = None
        self._lost: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.connected = asyncio.Event()
        self.sessions = 0
        self.reconnects = 0
        self.frame_errors = 0
        self.overflows = 0
        self.list_overflows = 0
        self.hangups_overflows = 0
        self.events_received = 0
        self.banner: str | None = None
        # Uniqueids hung up since a resync was asked for, until it is done (the
        # resync must not call them vanished: their Hangup is still queued)
        self.hangups_seen: set[str] = set()
        self._resyncs_pending = 0
        self.boot_uptime: int | None = None  # Uptime of this session's FullyBooted

    # --- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Start connecting (in the background) and consuming events."""
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._consume(), name="ami-consume"),
            asyncio.create_task(self._run(), name="ami-session"),
        ]

    async def stop(self) -> None:
        """Log off if connected, close, and stop every task."""
        self._stopping = True
        if self.connected.is_set():
            with contextlib.suppress(AmiError, TimeoutError):
                await self.send_action("Logoff", timeout=1.0)
        # stop the tasks before closing, so none wakes up to a lost session first
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session is logged in."""
        await asyncio.wait_for(self.connected.wait(), timeout)

    def drop(self) -> None:
        """Abort the current session (the run loop reconnects and resyncs)."""
        proto = self._protocol
        if proto is not None and proto.transport is not None:
            proto.closed = True  # read nothing more from it
            proto.transport.abort()

    # --- actions -------------------------------------------------------------
    async def send_action(
        self, action: str, headers: Sequence[tuple[str, str]] = (), *, timeout: float | None = None
    ) -> AmiMessage:
        """Send an action and return its response message."""
        response, _ = await self._request(action, headers, None, timeout)
        return response

    async def send_actions(
        self,
        actions: Sequence[tuple[str, Sequence[tuple[str, str]]]],
        *,
        timeout: float | None = None,
    ) -> list[AmiMessage]:
        """Send several actions at once; return their responses, in order.

        Asterisk runs one session's actions one after another, in the order they
        arrive, so they take effect in this order while their round trips overlap
        (a delivery's ``Setvar``s and ``Redirect``: one round trip, not three).
        """
        sent = [self._submit(action, headers, None) for action, headers in actions]
        answers = await asyncio.gather(
            *(self._answer(action, aid, future, timeout) for (action, _), (aid, future)
              in zip(actions, sent, strict=True)),
            return_exceptions=True,
        )  # fmt: skip
        failed = next((a for a in answers if isinstance(a, BaseException)), None)
        if failed is not None:
            raise failed
        return [a[0] for a in answers if not isinstance(a, BaseException)]

    async def list_action(
        self,
        action: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        complete_event: str | None = None,
        timeout: float | None = None,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send a list action; return its response and the events of the list."""
        complete = complete_event or LIST_COMPLETE.get(action)
        if complete is None:
            raise ValueError(f"no known event completes {action}; pass complete_event")
        return await self._request(action, headers, complete, timeout)

    async def originate(
        self, headers: Sequence[tuple[str, str]], *, timeout: float | None = None
    ) -> AmiMessage:
        """An async ``Originate``: the ``OriginateResponse`` event for it, or an Error response.

        Async originates answer "queued" at once; the outcome (``Response:
        Success|Failure``, ``Reason``) arrives later as an event with our ActionID.
        """
        response, items = await self._request(
            "Originate", [*headers, ("Async", "true")], "OriginateResponse", timeout, follow_up=True
        )
        return response if response.response == "Error" else (items[-1] if items else response)

    async def _request(
        self,
        action: str,
        headers: Sequence[tuple[str, str]],
        complete_event: str | None,
        timeout: float | None,
        *,
        require_login: bool = True,
        follow_up: bool = False,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        action_id, future = self._submit(
            action, headers, complete_event, require_login=require_login, follow_up=follow_up
        )
        return await self._answer(action, action_id, future, timeout)

    def _submit(
        self,
        action: str,
        headers: Sequence[tuple[str, str]],
        complete_event: str | None,
        *,
        require_login: bool = True,
        follow_up: bool = False,
    ) -> tuple[str, asyncio.Future[tuple[AmiMessage, list[AmiMessage]]]]:
        """Write one action now; its ActionID and the future its answer resolves."""
        proto = self._protocol
        if proto is None or proto.closed or (require_login and not self.connected.is_set()):
            raise AmiNotConnected(f"cannot send {action}: not connected to Asterisk")
        action_id = f"ccs-{self.sessions}-{next(self._ids)}"
        future: asyncio.Future[tuple[AmiMessage, list[AmiMessage]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[action_id] = _Pending(action, future, complete_event, follow_up=follow_up)
        proto.transport.write(
            encode_message([("Action", action), ("ActionID", action_id), *headers])
        )
        return action_id, future

    async def _answer(
        self,
        action: str,
        action_id: str,
        future: asyncio.Future[tuple[AmiMessage, list[AmiMessage]]],
        timeout: float | None,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a
            # cancellation that races with the answer, and stop() would hang
            async with asyncio.timeout(timeout or self.settings.action_timeout_s):
                return await future
        except TimeoutError:
            raise TimeoutError(f"AMI action {action} got no complete answer in time") from None
        finally:
            self._pending.pop(action_id, None)

    # --- read path (runs inside data_received: keep it cheap) ----------------
    def _on_message(self, msg: AmiMessage) -> None:
        # exact-case lookups: Asterisk's own spelling, no case-folding per event
        fields = msg.as_dict()
        name = fields.get("Event")
        if self._pending:
            action_id = fields.get("ActionID")
            pending = self._pending.get(action_id) if action_id else None
            if pending is not None:
                self._resolve(pending, msg)
                if name is None or pending.complete_event is not None:
                    return  # a response, a list item or the list's end
        if name is None:
            return  # a late response to an action that timed out
        self.events_received += 1
        if name == "Hangup":
            if self._resyncs_pending:
                self._remember_hangup(fields.get("Uniqueid", ""))
        elif name == "FullyBooted":
            self.boot_uptime = parse_uptime(fields.get("Uptime"))
        queue = self._queue
        if len(queue) >= self.settings.queue_size:
            self.overflows += 1
            log.error("AMI event queue overflow: resetting the session to resync")
            self.drop()
            return
        queue.append(msg)
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _remember_hangup(self, uniqueid: str) -> None:
        seen = self.hangups_seen
        if len(seen) < self.settings.max_hangups_seen or uniqueid in seen:
            seen.add(uniqueid)
            return
        # a flood of hangups while a resync waits: stop remembering rather than
        # grow; the cost is at most a call closed as vanished instead of hung up
        if not self.hangups_overflows:
            log.error(
                "AMI: more than %d hangups while a resync is pending; not remembering more",
                self.settings.max_hangups_seen,
            )
        self.hangups_overflows += 1

    def request_resync(self) -> None:
        """Have the consumer run ``on_session`` after the events already queued."""
        if len(self._queue) >= self.settings.queue_size:
            self.overflows += 1
            self.drop()  # the next session resyncs anyway
            return
        self._resyncs_pending += 1
        self._queue.append(None)
        self._wakeup.set()

    def resync_done(self) -> None:
        """``on_session`` finished one resync; stop remembering hangups when none is left."""
        self._resyncs_pending = max(0, self._resyncs_pending - 1)
        if not self._resyncs_pending:
            self.hangups_seen = set()

    def _resolve(self, pending: _Pending, msg: AmiMessage) -> None:
        if pending.future.done():
            return
        if msg.event is None:
            pending.response = msg
            if pending.action == "Login" and msg.response == "Success":
                # logged in: the resync marker must precede every event read after
                # this response, so queue it here on the read path, not when the
                # session task next runs (FullyBooted is often in the same read)
                self.connected.set()
                self.request_resync()
            listing = pending.complete_event is not None
            more = pending.follow_up or msg.get("EventList") == "start"
            if not listing or msg.response != "Success" or not more:
                pending.future.set_result((msg, []))
            return
        if pending.complete_event is None:
            return
        if msg.event == pending.complete_event:
            if pending.follow_up:
                pending.items.append(msg)
            pending.future.set_result((pending.response or msg, pending.items))
        elif len(pending.items) < self.settings.max_list_items:
            pending.items.append(msg)
        else:
            self._list_too_long(pending)

    def _list_too_long(self, pending: _Pending) -> None:
        """Fail an endless list and drop the session: its remaining items would follow."""
        limit = self.settings.max_list_items
        self.list_overflows += 1
        log.error(
            "AMI: %s sent more than %d list items; failing it and resetting the session",
            pending.action,
            limit,
        )
        pending.items = []  # let go of them now, not when the caller wakes up
        pending.future.set_exception(
            AmiListTooLong(f"AMI list of {pending.action} too long (over {limit} items)")
        )
        self.drop()

    def _on_connection_lost(self, proto: _Protocol, exc: Exception | None) -> None:
        if proto is not self._protocol:
            return
        self.connected.clear()
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(
                    AmiConnectionLost(f"AMI session lost before {pending.action} completed")
                )
        self._pending.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    # --- session loop --------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        s = self.settings
        while not self._stopping:
            try:
                await self._session(loop)
                attempt = 0
            except (OSError, TimeoutError, AmiError) as exc:
                log.warning("AMI %s:%d: %s", s.host, s.port, exc or type(exc).__name__)
            if self._stopping:
                break
            delay = backoff_delay(attempt, s.backoff_min_s, s.backoff_max_s, self._rng)
            attempt += 1
            self.reconnects += 1
            log.info("AMI: reconnecting in %.2f s (attempt %d)", delay, attempt)
            await asyncio.sleep(delay)

    async def _session(self, loop: asyncio.AbstractEventLoop) -> None:
        s = self.settings
        self._lost = loop.create_future()
        # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancellation that
        # arrives as the connection completes, and stop() would then hang
        async with asyncio.timeout(s.connect_timeout_s):
            _, proto = await loop.create_connection(lambda: _Protocol(self), s.host, s.port)
        self._protocol = proto
        try:
            self.sessions += 1
            self.boot_uptime = None
            response, _ = await self._request(
                "Login",
                [("Username", s.username), ("Secret", s.secret), ("Events", s.events)],
                None,
                s.action_timeout_s,
                require_login=False,
            )
            if response.response != "Success":
                raise AmiAuthError(f"login refused: {response.get('Message') or 'no reason'}")
            self.banner = proto.framer.banner
            log.info("AMI: logged in to %s:%d (%s)", s.host, s.port, self.banner)
            watchdog = asyncio.create_task(self._watchdog())
            try:
                await self._lost
            finally:
                watchdog.cancel()
                await asyncio.gather(watchdog, return_exceptions=True)
            log.warning("AMI: session to %s:%d lost", s.host, s.port)
        finally:
            self.connected.clear()
            if proto.transport is not None:
                proto.transport.close()

    async def _watchdog(self) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.ping_interval_s)
            try:
                await self.send_action("Ping", timeout=s.ping_timeout_s)
            except TimeoutError:
                log.error("AMI: no answer to Ping in %.1f s; the peer is silent", s.ping_timeout_s)
                self.drop()
                return
            except AmiError:
                return

    async def _consume(self) -> None:
        queue, on_event = self._queue, self._on_event
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                msg = queue.popleft()
                try:
                    if msg is not None:
                        await on_event(msg)
                    else:
                        try:
                            if self._on_session is not None and self.connected.is_set():
                                await self._on_session()
                        finally:
                            self.resync_done()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("AMI: handler failed; event skipped")

    def stats(self) -> dict[str, Any]:
        """Counters for health and metrics."""
        return {
            "connected": self.connected.is_set(),
            "sessions": self.sessions,
            "reconnects": self.reconnects,
            "events_received": self.events_received,
            "frame_errors": self.frame_errors,
            "queue_overflows": self.overflows,
            "list_overflows": self.list_overflows,
            "hangups_overflows": self.hangups_overflows,
            "queued": len(self._queue),
        }
