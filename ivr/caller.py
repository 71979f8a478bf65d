"""The caller's side of an IVR session: prompts, key presses, and call events.

``Caller`` wraps an AGI session with what menus need: play prompts that a key
can interrupt, read one key or a number, say numbers and digits, set channel
variables. Every input is recorded as an ``ivr.*`` call event (secrets such
as PINs are never put in an event or a log line).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from contracts import eventlog as el
from contracts.dialplan import CC_DTMF_PRIVATE
from contracts.ids import unique_prefix
from contracts.masking import mask_number
from contracts.sink import CallEvent, EventSink

from .agi import AgiSession

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"


class EventIds:
    """Unique event ids for IVR events: ``<tag>-<time+random>-<n>``.

    ``tag`` is a readable label only (the app passes ``ivr-<start second>``); the
    random part of ``contracts.ids.unique_prefix`` keeps two processes, or a restart
    in the same second, from ever repeating an id.
    """

    def __init__(self, tag: str = "ivr") -> None:
        self.prefix = unique_prefix(tag)
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self._n)}"


class Caller:
    """One caller in the IVR, reached through one AGI session."""

    def __init__(
        self,
        agi: AgiSession,
        sink: EventSink,
        ids: Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agi = agi
        self.sink = sink
        self.ids = ids
        self.clock = clock
        self.call_id = agi.uniqueid
        self.number = agi.caller
        self.missing_prompts: set[str] = set()

    def event(self, kind: str, **data: Any) -> None:
        """Record a call event for this call."""
        self.sink.emit(CallEvent(self.ids(), self.clock(), self.call_id, kind, data))

    def input(self, node: str, ok: bool, given: str | None, attempt: int, **data: Any) -> None:
        """Record one answer to a prompt: ok, timeout (nothing) or invalid."""
        status = "ok" if ok else ("timeout" if given is None else "invalid")
        self.event(el.IVR_INPUT, node=node, status=status, attempt=attempt, **data)

    @property
    def masked(self) -> str:
        return mask_number(self.number)

    async def set_var(self, name: str, value: str) -> None:
        await self.agi.command(f'SET VARIABLE {name} "{value}"')

    async def get_var(self, name: str) -> str | None:
        reply = await self.agi.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else None

    async def hangup(self) -> None:
        await self.agi.command("HANGUP")

    def _missing(self, prompt: str) -> None:
        if prompt not in self.missing_prompts:
            self.missing_prompts.add(prompt)
            log.error("IVR prompt %r is missing on Asterisk (call %s)", prompt, self.call_id)
            self.event(el.IVR_PROMPT_MISSING, prompt=prompt)

    async def play(self, prompts: list[str], keys: str = "") -> str | None:
        """Play prompts in order; a key in ``keys`` stops them and is returned."""
        for prompt in prompts:
            reply = await self.agi.playback_result(
                await self.agi.command(f'STREAM FILE {prompt} "{keys}"')
            )
            if reply.result == "-1":
                self._missing(prompt)
            elif reply.result not in ("", "0"):
                return chr(int(reply.result))
        return None

    async def collect(
        self,
        prompts: list[str],
        *,
        max_digits: int,
        timeout_s: float,
    ) -> str | None:
        """Play prompts and read up to ``max_digits`` keys (``#`` ends early).

        Returns the keys pressed, or None when the caller pressed nothing.
        A key pressed during an earlier prompt starts the input.
        """
        *lead, last = prompts
        first = await self.play(lead, ALL_KEYS) if lead else None
        if first is not None:
            if first == "#" or max_digits == 1:
                return "" if first == "#" else first
            rest = await self._get_data("silence/1", timeout_s, max_digits - 1)
            return first + (rest or "")
        return await self._get_data(last, timeout_s, max_digits)

    async def collect_private(
        self, prompts: list[str], *, max_digits: int, timeout_s: float
    ) -> str | None:
        """``collect`` for secrets: the CTI keeps the keys out of events meanwhile."""
        await self.set_var(CC_DTMF_PRIVATE, "1")
        try:
            return await self.collect(prompts, max_digits=max_digits, timeout_s=timeout_s)
        finally:
            if not self.agi.hung_up:
                await self.set_var(CC_DTMF_PRIVATE, "")

    async def _get_data(self, prompt: str, timeout_s: float, max_digits: int) -> str | None:
        reply = await self.agi.command(f"GET DATA {prompt} {int(timeout_s * 1000)} {max_digits}")
        if reply.result == "-1":
            await self.agi.playback_result(reply)
            self._missing(prompt)
            # the prompt is missing but the caller is there: still listen for keys
            reply = await self.agi.command(
                f"GET DATA silence/1 {int(timeout_s * 1000)} {max_digits}"
            )
            if reply.result == "-1":
                await self.agi.playback_result(reply)
                return None
        if reply.timed_out and not reply.result:
            return None  # the caller pressed nothing
        return reply.result  # "" when the caller pressed only the terminator (#)

    async def say_number(self, value: int) -> None:
        await self.agi.command(f'SAY NUMBER {value} ""')

    async def say_digits(self, digits: str) -> None:
        await self.agi.command(f'SAY DIGITS {digits} ""')

    async def say_date(self, epoch_s: int) -> None:
        await self.agi.command(f'SAY DATE {epoch_s} ""')

    async def say_datetime(self, epoch_s: int) -> None:
        await self.agi.command(f'SAY DATETIME {epoch_s} "" "ABdY \'digits/at\' IMp"')
