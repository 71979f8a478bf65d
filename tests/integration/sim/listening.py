"""An AMI client for the simulator's tests: logged in, reading in the background.

Every message it receives is kept, in order (``messages``); ``action`` sends an
action with an ActionID of its own and returns its response. ``answered_by``
puts a hotline caller through to an agent's phone as ccserver's Redirect does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

from support import until

from ccserver.sim import AsteriskSimulator, CallHandle
from cti.wire import AmiFramer, AmiMessage

LOGIN = b"Action: Login\r\nUsername: ccserver\r\nSecret: ccsecret\r\n\r\n"


class ListeningClient:
    """A logged-in AMI connection: every message kept, actions answered by ActionID."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.messages: list[AmiMessage] = []
        self._ids = itertools.count(1)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        framer = AmiFramer()
        while data := await self.reader.read(65536):
            self.messages.extend(m for m in framer.feed(data) if isinstance(m, AmiMessage))

    def named(self, name: str) -> list[AmiMessage]:
        return [m for m in self.messages if m.event == name]

    async def action(self, name: str, *headers: tuple[str, str], **fields: str) -> AmiMessage:
        """Send ``name`` with ``headers`` (pairs) and ``fields``; its response."""
        aid = f"t{next(self._ids)}"
        pairs = [*headers, *fields.items()]
        lines = [f"Action: {name}", f"ActionID: {aid}", *(f"{k}: {v}" for k, v in pairs)]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

        def response() -> AmiMessage | None:
            return next((m for m in self.messages if m.get("ActionID") == aid and m.response), None)

        await until(lambda: response() is not None, 5)
        found = response()
        assert found is not None
        return found

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()


@contextlib.asynccontextmanager
async def logged_in(sim: AsteriskSimulator) -> AsyncIterator[ListeningClient]:
    """A client logged in to ``sim`` (FullyBooted seen); closed on the way out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(LOGIN)
    client = ListeningClient(reader, writer)
    try:
        await until(lambda: bool(client.named("FullyBooted")), 5)
        yield client
    finally:
        client.close()


async def answered_by(sim: AsteriskSimulator, ext: str) -> CallHandle:
    """A hotline caller delivered to ``ext`` (as ccserver's Redirect does) and answered."""
    call = await sim.place_call("5551234", "Caller")
    await until(lambda: call.channel in sim.channels and sim.channels[call.channel].context
                == "cc-hold", 5)  # fmt: skip
    sim.goto(sim.channels[call.channel], "cc-deliver", ext)
    await until(lambda: call.record.answered_at is not None, 5)
    return call
