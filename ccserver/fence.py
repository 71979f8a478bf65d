"""The Asterisk fence: Asterisk itself names the ccserver it takes orders from.

The PostgreSQL lock (``leadership.py``) decides who is active while the
database answers. When it stops answering, the lock says nothing more: the
database may be down for everyone (then nobody can take over, and an active
that stepped down would leave every caller unrouted for the whole outage), or
only this process may be cut off from it (then a standby takes the lock after
``lease_s`` and must not drive Asterisk beside it). The fence tells the two
apart where it matters, in the Asterisk nodes both would drive:

* each term begins by writing its claim into every node's AstDB
  (``DBPut ccserver/active = "<name> <epoch ms>"``) and waiting :attr:`settle_s`
  before it drives anything; a process that cannot write it (Asterisk
  unreachable) gives the lock back and stays standby;
* an active that lost the database lock keeps routing only while every node
  still holds its claim, read back (``DBGet``) every ``check_s``; the moment
  another process has claimed a node, or a node cannot be asked, it steps down.

A standby's claim therefore always lands ``settle_s`` (over twice ``check_s``)
before it routes, and an active that reads it stops within ``check_s``: no two
processes drive one Asterisk at once. The fence uses AMI sessions of its own
(no events), so it works the same whatever the active part's own session does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

from cti.connection import AmiClient, AmiError, AmiSettings
from cti.wire import AmiMessage

log = logging.getLogger(__name__)

FAMILY = "ccserver"
KEY = "active"


async def _no_events(_msg: AmiMessage) -> None:
    """The fence's sessions log in with ``Events: off``; nothing to do with any."""


class AsteriskFence:
    """Claims and checks this process's place in the AstDB of every Asterisk node."""

    def __init__(
        self,
        nodes: Sequence[AmiSettings],
        name: str,
        *,
        check_s: float = 1.0,
        connect_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nodes = [dataclasses.replace(s, events="off") for s in nodes]
        self.name = name
        self.check_s = check_s
        self.connect_s = connect_s
        # over twice the check period: a fenced active reads a new claim before it counts
        self.settle_s = 2 * check_s + 0.5
        self._clock = clock
        self._clients: list[AmiClient] = []
        self.claim_value: str | None = None
        self.last_error: str | None = None

    async def claim(self) -> bool:
        """Write this process's claim into every node; False (and nothing held) if one fails."""
        value = f"{self.name} {int(self._clock() * 1000)}"
        try:
            async with asyncio.timeout(self.connect_s):
                clients = await self._connected()
                for client in clients:
                    reply = await client.send_action(
                        "DBPut", [("Family", FAMILY), ("Key", KEY), ("Val", value)]
                    )
                    if reply.response != "Success":
                        raise AmiError(reply.get("Message") or "DBPut refused")
        except (AmiError, TimeoutError, OSError) as exc:
            self._note(exc)
            await self.close()
            return False
        self.claim_value, self.last_error = value, None
        return True

    async def mine(self) -> bool:
        """Whether every node still holds this process's claim (asked now, within ``check_s``)."""
        if self.claim_value is None or not self._clients:
            return False
        try:
            async with asyncio.timeout(self.check_s):
                for client in self._clients:
                    _, items = await client.list_action(
                        "DBGet", [("Family", FAMILY), ("Key", KEY)], complete_event="DBGetComplete"
                    )
                    held = items[0].get("Val") if items else None
                    if held != self.claim_value:
                        self._note(RuntimeError(f"Asterisk now names {held!r}"))
                        return False
        except (AmiError, TimeoutError, OSError) as exc:
            self._note(exc)
            return False
        return True

    async def close(self) -> None:
        """Log off every node (the claim stays in AstDB: the next claim overwrites it)."""
        clients, self._clients = self._clients, []
        self.claim_value = None
        for client in clients:
            with contextlib.suppress(Exception):
                await client.stop()

    async def _connected(self) -> list[AmiClient]:
        if not self._clients:
            self._clients = [AmiClient(s, on_event=_no_events) for s in self.nodes]
            for client in self._clients:
                await client.start()
        await asyncio.gather(*(c.connected.wait() for c in self._clients))
        return self._clients

    def _note(self, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if first != self.last_error:
            log.warning("ha: Asterisk fence: %s", first)
        self.last_error = first
