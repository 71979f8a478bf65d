"""The FastAGI server: Asterisk's ``AGI(agi://host:port/<script>)`` lands here.

One TCP connection is one call's AGI session: Asterisk sends the ``agi_``
header block, then we send commands one line at a time and read a reply
line for each (see the capture ``dtmf_fastagi.agi.txt``).

panoramisk's FastAGI side is not used. ``fast_agi.Application``'s header
reader loops forever on a connection closed before the blank line and has no
bound on the header size; it reads only one extra line of a multi-line ``520``
usage reply (the rest then answers the following commands); it does not
notice the ``HANGUP`` line Asterisk interleaves when the caller hangs up; and
``parse_agi_result`` turns ``200 result=-1`` into an error without its code
and drops the ``(timeout)`` of ``200 result= (timeout)``. The reply grammar
is small (``parse_reply``), so it is parsed here against the capture.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
HEADER_TIMEOUT_S = 5.0
LOOPBACK: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.IPv4Network("127.0.0.0/8"),
    ipaddress.IPv6Network("::1/128"),
)
REFUSAL_LOG_EVERY_S = 60.0  # one log line per refusal reason and host in this time
CHANNEL_POLL_S = 0.02


class AgiHangup(Exception):
    """The caller hung up (Asterisk sent ``HANGUP``, ``result=-1`` or ``511``)."""


class AgiError(Exception):
    """Asterisk rejected a command (510 / 520) or the session broke."""


@dataclass(frozen=True)
class AgiReply:
    """One command's reply: the code, ``result=`` and the text in brackets."""

    code: int
    result: str
    data: str
    line: str

    @property
    def timed_out(self) -> bool:
        """GET DATA ended because the caller pressed nothing more."""
        return self.data == "timeout"


_RESULT = re.compile(r"result=(\S*)(?:\s+\(([^)]*)\))?")


def parse_reply(line: str) -> AgiReply:
    """``200 result=1 (5556000)`` -> code 200, result "1", data "5556000"."""
    code_text = line[:3]
    code = int(code_text) if code_text.isdigit() else 0
    m = _RESULT.search(line) if code == 200 else None
    return AgiReply(code, m.group(1) if m else "", (m.group(2) or "") if m else "", line)


class AgiSession:
    """The commands of one AGI conversation; raises :class:`AgiHangup` once hung up."""

    def __init__(
        self,
        headers: Mapping[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        command_timeout_s: float = 120.0,
    ) -> None:
        self.headers = dict(headers)
        self.reader = reader
        self.writer = writer
        self.command_timeout_s = command_timeout_s
        self.hung_up = False

    @property
    def script(self) -> str:
        return self.headers.get("agi_network_script", "")

    @property
    def channel(self) -> str:
        return self.headers.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    @property
    def caller(self) -> str:
        num = self.headers.get("agi_callerid", "")
        return "" if num == "unknown" else num

    async def command(self, line: str) -> AgiReply:
        """Send one command and read its reply."""
        if self.hung_up:
            raise AgiHangup(line)
        self.writer.write(line.encode() + b"\n")
        try:
            await self.writer.drain()
            reply = await asyncio.wait_for(self._read_reply(), self.command_timeout_s)
        except (ConnectionError, TimeoutError) as exc:
            self.hung_up = True
            raise AgiHangup(f"{line}: {exc or 'no reply'}") from None
        if reply.code == 511:
            self.hung_up = True
            raise AgiHangup(line)
        if reply.code != 200:
            raise AgiError(f"{line!r} rejected: {reply.line}")
        return reply

    async def _read_reply(self) -> AgiReply:
        while True:
            raw = await self.reader.readline()
            if not raw:
                raise ConnectionError("Asterisk closed the AGI connection")
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line == "HANGUP":
                # sent by Asterisk when the channel hangs up; the reply follows
                self.hung_up = True
                continue
            if line.startswith("520-"):
                while line and not line.startswith("520 "):
                    line = (await self.reader.readline()).decode(errors="replace").rstrip("\r\n")
                return AgiReply(520, "", "", line)
            if not line.strip():
                continue
            return parse_reply(line)

    async def playback_result(self, reply: AgiReply) -> AgiReply:
        """``result=-1`` means a missing prompt or a hangup: a NOOP tells which."""
        if reply.result == "-1":
            await self.command("NOOP")
            if self.hung_up:  # Asterisk sent HANGUP before NOOP's reply
                raise AgiHangup(reply.line)
        return reply

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


Handler = Callable[[AgiSession], Awaitable[None]]


async def read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    """The ``agi_`` block up to its blank line; bounded in size and time."""
    headers: dict[str, str] = {}
    size = 0
    async with asyncio.timeout(HEADER_TIMEOUT_S):
        while True:
            raw = await reader.readline()
            if not raw:
                raise ConnectionError("closed before the AGI header block ended")
            size += len(raw)
            if size > MAX_HEADER_BYTES:
                raise ValueError("AGI header block too large")
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line:
                return headers
            key, sep, value = line.partition(": ")
            if sep:
                headers[key] = value


class AgiServer:
    """A FastAGI listener that hands each session to the handler of its script.

    FastAGI has no authentication of its own, and a session can read account
    data and register callbacks, so a session must pass, in order:

    - the allow-list: the peer is one of the Asterisk hosts (``allow``;
      loopback by default); others are closed before a byte is read;
    - the limits: at most ``max_sessions`` at once, ``max_per_host`` from one
      host (the HTTP side has its own, so neither can starve the other);
    - the shared secret, when set: the dialplan's AGI URL is
      ``agi://host:port/<secret>/<script>``;
    - the channel check, when given (``channel_known(name, uniqueid)``, from
      the AMI picture): the channel the session claims must be one Asterisk
      reported, within ``channel_wait_s`` (AMI events may trail the AGI
      connection a little). While the AMI picture is blind (``blind()``: the
      link is down) the wait goes on, up to ``blind_wait_s``, until the picture
      is back: a caller who arrives during a link drop still gets the IVR
      once the resync has seen their channel. A forged session is refused
      before any handler, so before any account data is read.

    Each refusal is counted in ``refused`` (by reason), passed to ``on_refused``
    and logged once per reason and host a minute.
    """

    def __init__(
        self,
        routes: Mapping[str, Handler],
        host: str,
        port: int,
        *,
        allow: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = LOOPBACK,
        secret: str | None = None,
        max_sessions: int = 500,
        max_per_host: int = 500,
        channel_known: Callable[[str, str], bool] | None = None,
        channel_wait_s: float = 2.0,
        blind: Callable[[], bool] | None = None,
        blind_wait_s: float = 15.0,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.host = host
        self.port = port
        self.allow = tuple(allow)
        self.secret = secret
        self.max_sessions = max_sessions
        self.max_per_host = max_per_host
        self.channel_known = channel_known
        self.channel_wait_s = channel_wait_s
        self.blind = blind
        self.blind_wait_s = blind_wait_s
        self.on_refused = on_refused
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._per_host: dict[str, int] = {}
        self._logged: dict[tuple[str, str], float] = {}
        self.sessions_total = 0
        self.sessions_failed = 0
        self.refused: dict[str, int] = {}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("FastAGI on agi://%s:%s (%s)", self.host, self.port, ", ".join(self.routes))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)

    @property
    def active(self) -> int:
        return len(self._sessions)

    def allowed(self, host: str) -> bool:
        """Whether ``host`` is on the allow-list."""
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.allow)

    def _refuse(self, reason: str, host: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        if self.on_refused is not None:
            self.on_refused(reason)
        now = time.monotonic()
        key = (reason, host)
        if now - self._logged.get(key, -REFUSAL_LOG_EVERY_S) >= REFUSAL_LOG_EVERY_S:
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged[key] = now
            log.warning("FastAGI session from %s refused: %s", host, reason.replace("_", " "))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self.allowed(host):
            self._refuse("not_allowed", host)
            writer.close()
            return
        if len(self._sessions) >= self.max_sessions or (
            self._per_host.get(host, 0) >= self.max_per_host
        ):
            self._refuse("too_many_sessions", host)
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        self._per_host[host] = self._per_host.get(host, 0) + 1
        try:
            await self._serve(reader, writer, host)
        except asyncio.CancelledError:
            # stop() cancels sessions; asyncio's start_server callback (3.11) would log a
            # traceback for a cancelled task, so the session ends here, its socket closed
            writer.close()
        finally:
            self._sessions.discard(task)
            left = self._per_host.get(host, 1) - 1
            if left:
                self._per_host[host] = left
            else:
                self._per_host.pop(host, None)

    def _route(self, script: str) -> str | None:
        """The route a script names, once the secret (when set) is stripped; None: bad secret."""
        path = script.split("?", 1)[0].strip("/")
        if self.secret is None:
            return path
        given, _, route = path.partition("/")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return None
        return route

    async def _known(self, session: AgiSession) -> bool:
        check = self.channel_known
        if check is None:
            return True
        channel, uniqueid = session.channel, session.uniqueid
        if not channel or not uniqueid:
            return False
        start = time.monotonic()
        deadline = start + self.channel_wait_s
        while not check(channel, uniqueid):
            now = time.monotonic()
            if self.blind is not None and self.blind() and now < start + self.blind_wait_s:
                # nothing can be known while the link is down: the full wait starts over
                # once it is back (the resync reports the channel)
                deadline = max(deadline, now + self.channel_wait_s)
            if now >= deadline:
                return False
            await asyncio.sleep(CHANNEL_POLL_S)
        return True

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        try:
            headers = await read_headers(reader)
        except (ConnectionError, TimeoutError, ValueError) as exc:
            log.warning("FastAGI connection dropped: %s", exc)
            writer.close()
            return
        session = AgiSession(headers, reader, writer)
        name = self._route(session.script)
        if name is None:
            self._refuse("bad_secret", host)
            await session.close()
            return
        if not await self._known(session):
            self._refuse("unknown_channel", host)
            await session.close()
            return
        handler = self.routes.get(name)
        self.sessions_total += 1
        try:
            if handler is None:
                log.error("FastAGI: no route for script %r", name[:64])
                self.sessions_failed += 1
                return
            await handler(session)
        except AgiHangup:
            pass
        except Exception:
            self.sessions_failed += 1
            log.exception("FastAGI %s failed on %s", name, session.channel)
        finally:
            await session.close()
