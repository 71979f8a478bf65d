"""The Asterisk simulator: an AMI server over real TCP with a channel model behind it.

Theory of operation
-------------------
``AsteriskSimulator`` listens like Asterisk's manager (banner, Login/Challenge,
actions, events) and keeps a small model of channels, bridges and the agents'
softphones. Callers arrive on a SIP trunk (``PJSIP/trunk-...``) into the
hotline dialplan (``dialplan.py``); agents are PJSIP softphones with a seeded
behaviour script (answer delay, talk time, no answer, busy, registration
drops) whose registration and reachability follow the captures
(``devices.py``). Simulated time is real asyncio time divided by
``time_scale``; every duration in a scenario is in simulated seconds. The
simulator keeps its own record of what happened to every caller
(``ground_truth()``), which reports are checked against.

The class is assembled from mixins, one job each: ``core`` (state, clock,
events, channel model), ``dialplan``, ``actions`` and ``originate`` (AMI
actions), ``devices`` (seats), ``traffic`` (callers). Actions are dispatched
by a table built from each module's ``ACTIONS``.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from cti.wire import AmiMessage

from . import actions, astdb, devices, originate
from .actions import ActionsMixin
from .astdb import AstDbMixin
from .devices import DevicesMixin
from .internode import InterNodeMixin
from .originate import OriginateMixin
from .session import ActionHandler, AmiSession, resp
from .traffic import TrafficMixin
from .truth import CallerRecord, CallHandle, write_records

__all__ = ["AsteriskSimulator", "CallHandle", "CallerRecord"]

ACTIONS_NO_AUTH = {"login", "challenge"}
ACTIONS: dict[str, ActionHandler] = (
    actions.ACTIONS | originate.ACTIONS | devices.ACTIONS | astdb.ACTIONS
)


class AsteriskSimulator(
    ActionsMixin, OriginateMixin, TrafficMixin, DevicesMixin, AstDbMixin, InterNodeMixin
):
    """A protocol-faithful stand-in for Asterisk's AMI and FastAGI client."""

    # --- lifecycle ----------------------------------------------------------
    async def start(self) -> None:
        """Start listening; with ``traffic`` the scenario's callers start arriving."""
        self._loop_t0 = asyncio.get_running_loop().time()
        self._booted_at = self.now()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._start_devices()
        if self.traffic:
            self._spawn(self._arrivals())

    async def stop(self) -> None:
        """Close every session and channel and stop listening."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in list(self.sessions):
            session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restart(self) -> None:
        """Behave like an Asterisk restart: sessions dropped, every channel gone."""
        for task in list(self._runners.values()):
            task.cancel()
        self._runners.clear()
        for ch in list(self.channels.values()):
            ch.hungup = True
            self._finish_record(ch, "abandoned" if ch.name in self._handles else None)
        self.channels.clear()
        for phone in self.phones.values():
            phone.channel = None
        self.drop_sessions()
        self._booted_at = self.now()

    def drop_sessions(self) -> None:
        """Abruptly close every AMI connection; channels live on."""
        for session in list(self.sessions):
            session.close(abrupt=True)

    def set_silent(self, silent: bool) -> None:
        """Stop (or resume) answering and sending anything on AMI."""
        self.silent = silent

    async def link_down(self, seconds: float) -> None:
        """Cut the AMI link for ``seconds`` (simulated): sessions dropped, connections refused.

        Calls go on meanwhile: callers keep arriving, ringing, being answered and ending.
        """
        self.set_link(False)
        try:
            await self.sleep(seconds)
        finally:
            self.set_link(True)

    def set_link(self, up: bool) -> None:
        """Take the AMI link down (every session dropped, new ones closed at once) or up."""
        self.link_up = up
        if not up:
            self.drop_sessions()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.link_up:  # the link is cut: the client sees its connection close at once
            writer.transport.abort()
            return
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        with contextlib.suppress(asyncio.CancelledError):
            await session.serve()

    # --- actions ------------------------------------------------------------
    async def handle_action(self, session: AmiSession, msg: AmiMessage) -> None:
        """Answer one action the way Asterisk does."""
        aid = msg.action_id
        name = msg.action
        if name is None:
            session.send(resp(aid, "Error", ("Message", "Missing action in request")))
            if session.authenticated:
                self._security("RequestBadFormat", session, ("RequestType", "Action: NONE"))
            return
        key = name.lower()
        if not session.authenticated and key not in ACTIONS_NO_AUTH:
            session.send(resp(aid, "Error", ("Message", "Permission denied")))
            self._security("RequestNotAllowed", session, ("RequestType", f"Action: {name}"))
            return
        handler = ACTIONS.get(key)
        if handler is None:
            session.send(
                resp(
                    aid,
                    "Error",
                    (
                        "Message",
                        f"Invalid/unknown command: {name}. "
                        "Use Action: ListCommands to show available commands.",
                    ),
                )
            )
            self._security("RequestBadFormat", session, ("RequestType", f"Action: {name}"))
            return
        await handler(self, session, msg, aid)

    # --- ground truth -------------------------------------------------------
    def ground_truth(self) -> list[CallerRecord]:
        """The simulator's record of every caller so far."""
        return list(self.records)

    def write_ground_truth(self, path: str | Path) -> None:
        """Write the ground truth as JSON (one object per caller)."""
        write_records(self.records, path)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every placed call has ended."""
        async with asyncio.timeout(timeout):
            while self._handles:
                await asyncio.sleep(0.005)
