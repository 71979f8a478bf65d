"""One AMI client connection of the simulator: framing, queueing, event masks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cti.wire import AmiFramer, AmiMessage, FrameError, encode_message

from .channels import Headers

if TYPE_CHECKING:
    from .server import AsteriskSimulator

log = logging.getLogger("ccserver.sim")

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SESSION_QUEUE_LIMIT = 20_000  # messages; a reader this far behind is dropped

# an action: (simulator, session, message, ActionID) -> answers sent on the session
ActionHandler = Callable[[Any, "AmiSession", AmiMessage, "str | None"], Awaitable[None]]


class AmiSession:
    """One AMI client connection."""

    def __init__(
        self, sim: AsteriskSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.username = ""
        self.events: set[str] | None = None  # None = every class
        self.challenge: str | None = None
        self.session_id = f"0x{id(self):x}"
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(SESSION_QUEUE_LIMIT)
        self.closed = False
        self._writer_task: asyncio.Task[None] | None = None
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"

    def send(self, headers: Headers | bytes) -> None:
        """Queue a message; a client that cannot keep up is disconnected."""
        if self.closed or self.sim.silent:
            return
        data = headers if isinstance(headers, bytes) else encode_message(headers)
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("AMI session %s too slow to read; dropping it", self.session_id)
            self.close(abrupt=True)

    def wants(self, privilege: str) -> bool:
        if not self.authenticated or (self.events is not None and not self.events):
            return False
        if self.events is None:
            return True
        return any(c in self.events for c in privilege.split(","))

    def close(self, *, abrupt: bool = False) -> None:
        """End the session: after what is queued has been written, or at once."""
        if self.closed and not abrupt:
            return
        self.closed = True
        if abrupt:
            self.writer.transport.abort()
            if self._writer_task is not None:
                self._writer_task.cancel()  # nothing more will be written: end serve() too
            return
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.writer.transport.abort()

    async def write_loop(self) -> None:
        try:
            while True:
                data = await self.queue.get()
                if data is None:
                    break
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self.writer.close()

    async def serve(self) -> None:
        self._writer_task = asyncio.create_task(self.write_loop())
        self.writer.write(BANNER)
        framer = AmiFramer(expect_banner=False, max_message_bytes=64 * 1024, max_headers=1024)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                if self.sim.silent:
                    continue
                for msg in framer.feed(data):
                    if isinstance(msg, FrameError):
                        log.warning(
                            "AMI session %s: dropped input (%s)", self.session_id, msg.reason
                        )
                        continue
                    await self.sim.handle_action(self, msg)
                    if self.closed:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()
            self.sim.sessions.discard(self)
            if self._writer_task:
                await asyncio.gather(self._writer_task, return_exceptions=True)


def resp(action_id: str | None, status: str, *pairs: tuple[str, str]) -> Headers:
    out: Headers = [("Response", status)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out.extend(pairs)
    return out


def event_mask(value: str | None) -> set[str] | None:
    """Login/Events ``Events:`` header: None = every class, empty set = none."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("on", "yes", "true", "all"):
        return None
    if v in ("off", "no", "false", ""):
        return set()
    return {c.strip() for c in v.split(",") if c.strip()}
