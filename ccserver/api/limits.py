"""Connection limits for the HTTP listener, and log lines that an attacker cannot multiply.

aiohttp bounds a request's line and header sizes, and its keep-alive timer
closes a connection whose next request has not fully arrived within
``keepalive_timeout`` (it runs from the connection's start too): that is the
header timeout. It has no limit on the number of connections, so
:class:`LimitedSite` counts them per source address and in total and turns
away the rest with a ``503`` before aiohttp sees a byte. The body timeout is
the request's (``routes``), as only the handler knows when it reads one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: 35\r\n\r\n"
    b'{"error": "too many connections"}\r\n'
)


class ThrottledLog:
    """At most one line per key (a source address) per interval; the rest are counted.

    The next line for that key says how many were left out, so a flood of bad
    requests costs one log line per source per interval, not one each.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 60.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self.max_keys = max_keys
        self.clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # key -> (logged at, left out since)

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval_s:
            self._last[key] = (last[0], last[1] + 1)
            return
        if len(self._last) >= self.max_keys:  # many sources: forget the oldest half
            for old in sorted(self._last, key=lambda k: self._last[k][0])[: self.max_keys // 2]:
                del self._last[old]
        skipped = last[1] if last is not None else 0
        suffix = f" ({skipped} more like it not logged)" if skipped else ""
        self.logger.warning(msg + suffix, *args)
        self._last[key] = (now, 0)


class ConnectionGate:
    """How many connections each source has open, and whether one more may come in."""

    def __init__(self, total: int, per_source: int, on_refused: Callable[[str], None]) -> None:
        self.total = total
        self.per_source = per_source
        self.on_refused = on_refused
        self.open: dict[str, int] = {}
        self.count = 0
        self.refused = 0

    def admit(self, source: str) -> bool:
        if self.count >= self.total or self.open.get(source, 0) >= self.per_source:
            self.refused += 1
            self.on_refused(source)
            return False
        self.count += 1
        self.open[source] = self.open.get(source, 0) + 1
        return True

    def release(self, source: str) -> None:
        self.count -= 1
        left = self.open.get(source, 1) - 1
        if left:
            self.open[source] = left
        else:
            self.open.pop(source, None)


class _Gated(asyncio.Protocol):
    """aiohttp's protocol behind the gate: it only sees connections the gate admitted."""

    def __init__(self, inner: RequestHandler, gate: ConnectionGate) -> None:
        self.inner = inner
        self.gate = gate
        self.source: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self.gate.admit(source):
            assert isinstance(transport, asyncio.Transport)
            transport.write(_REFUSED)
            transport.close()
            return
        self.source = source
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.source is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.source is not None:
            self.inner.eof_received()
        return None  # close the transport, as aiohttp's protocol does

    def pause_writing(self) -> None:
        if self.source is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.source is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.source is not None:
            self.gate.release(self.source)
            self.inner.connection_lost(exc)


class LimitedSite(web.BaseSite):
    """A TCP site whose connections pass a :class:`ConnectionGate` first."""

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, gate: ConnectionGate, **kw: Any
    ) -> None:
        super().__init__(runner, **kw)
        self._host = host
        self._port = port
        self.gate = gate

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        gate = self.gate

        def factory() -> asyncio.Protocol:
            return _Gated(server(), gate)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
