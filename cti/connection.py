"""The AMI connection: login, reconnect, ping watchdog, action correlation.

Theory of operation
-------------------
``AmiClient`` keeps one TCP session to Asterisk alive. The transport is a
subclass of panoramisk's ``AMIProtocol`` whose ``data_received`` uses our
bounded framer (panoramisk's own buffer grows without limit on a line that
never ends). The session logic is ours, because panoramisk's ``Manager``
re-sends pending actions after a reconnect (it can repeat a Redirect or an
Originate), reconnects after a fixed delay, guesses list completion from
message text and runs event handlers as un-awaited tasks.

The read path does no work: responses resolve their waiting action by
ActionID; events go into a bounded queue that one consumer task drains, in
order, into ``on_event``. If that queue overflows, the session is reset, and
the resync that follows every login repairs the picture. After any
(re)connect ``on_session`` runs first on the consumer, so events that arrive
while it collects a snapshot wait in the queue and are applied after it.

Actions are never re-sent: when a session ends, every pending action fails
with :class:`AmiConnectionLost` and the caller decides.
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


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[tuple[AmiMessage, list[AmiMessage]]]
    complete_event: str | None
    response: AmiMessage | None = None
    items: list[AmiMessage] = field(default_factory=list)


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with bounded framing, feeding our client."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        self.framer = AmiFramer(max_message_bytes=client.settings.max_message_bytes)

    def data_received(self, data: bytes) -> None:
        for msg in self.framer.feed(data):
            if isinstance(msg, FrameError):
                self.client.frame_errors += 1
                log.warning("AMI: dropped a malformed message (%s, %d bytes)", msg.reason, msg.size)
            else:
                self.client._on_message(msg)

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
        self.events_received = 0
        self.banner: str | None = None
        self.hangups_seen: set[str] = set()  # Uniqueids hung up since the last login

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
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session is logged in."""
        await asyncio.wait_for(self.connected.wait(), timeout)

    def drop(self) -> None:
        """Abort the current session (the run loop reconnects and resyncs)."""
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.abort()

    # --- actions -------------------------------------------------------------
    async def send_action(
        self, action: str, headers: Sequence[tuple[str, str]] = (), *, timeout: float | None = None
    ) -> AmiMessage:
        """Send an action and return its response message."""
        response, _ = await self._request(action, headers, None, timeout)
        return response

    async def list_action(
        self,
        action: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        complete_event: str | None = None,
        timeout: float | None = None,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send a list action; return its response and the events of the list."""
        complete = complete_event or LIST_COMPLETE[action]
        return await self._request(action, headers, complete, timeout)

    async def _request(
        self,
        action: str,
        headers: Sequence[tuple[str, str]],
        complete_event: str | None,
        timeout: float | None,
        *,
        require_login: bool = True,
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        proto = self._protocol
        if proto is None or proto.closed or (require_login and not self.connected.is_set()):
            raise AmiNotConnected(f"cannot send {action}: not connected to Asterisk")
        action_id = f"ccs-{self.sessions}-{next(self._ids)}"
        future: asyncio.Future[tuple[AmiMessage, list[AmiMessage]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[action_id] = _Pending(action, future, complete_event)
        proto.transport.write(
            encode_message([("Action", action), ("ActionID", action_id), *headers])
        )
        try:
            return await asyncio.wait_for(future, timeout or self.settings.action_timeout_s)
        except TimeoutError:
            raise TimeoutError(f"AMI action {action} got no complete answer in time") from None
        finally:
            self._pending.pop(action_id, None)

    # --- read path (runs inside data_received: keep it cheap) ----------------
    def _on_message(self, msg: AmiMessage) -> None:
        # exact-case lookups: Asterisk's own spelling, no case-folding per event
        action_id = msg.exact("ActionID")
        name = msg.exact("Event")
        pending = self._pending.get(action_id) if action_id else None
        if pending is not None:
            self._resolve(pending, msg)
            if name is None or pending.complete_event is not None:
                return  # a response, a list item or the list's end
        if name is None:
            return  # a late response to an action that timed out
        self.events_received += 1
        if name == "Hangup":
            uid = msg.exact("Uniqueid")
            if uid:
                self.hangups_seen.add(uid)
        if not self._enqueue(msg):
            self.overflows += 1
            log.error("AMI event queue overflow: resetting the session to resync")
            self.drop()

    def _enqueue(self, item: AmiMessage | None) -> bool:
        if len(self._queue) >= self.settings.queue_size:
            return False
        self._queue.append(item)
        self._wakeup.set()
        return True

    def _resolve(self, pending: _Pending, msg: AmiMessage) -> None:
        if pending.future.done():
            return
        if msg.event is None:
            pending.response = msg
            listing = pending.complete_event is not None
            if not listing or msg.response != "Success" or msg.get("EventList") != "start":
                pending.future.set_result((msg, []))
            return
        if pending.complete_event is None:
            return
        if msg.event == pending.complete_event:
            pending.future.set_result((pending.response or msg, pending.items))
        else:
            pending.items.append(msg)

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
        _, proto = await asyncio.wait_for(
            loop.create_connection(lambda: _Protocol(self), s.host, s.port), s.connect_timeout_s
        )
        self._protocol = proto
        try:
            self.sessions += 1
            self.hangups_seen = set()
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
            self.connected.set()
            self._queue_marker()
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

    def _queue_marker(self) -> None:
        """Tell the consumer a new session began (it runs on_session in order)."""
        if not self._enqueue(None):
            self.drop()

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
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                msg = queue.popleft()
                try:
                    if msg is None:
                        if self._on_session is not None and self.connected.is_set():
                            await self._on_session()
                    else:
                        await self._on_event(msg)
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
            "queued": len(self._queue),
        }
