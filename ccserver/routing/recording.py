"""Call recording: a queue with ``record: true`` has its conversations recorded by Asterisk.

When the ACD says a call connected (``Connected``), the caller's channel gets
AMI ``MixMonitor`` (apps/app_mixmonitor.c: ``Channel``, ``File``, ``Options``;
the answer is ``Response: Success`` or an Error with ``Message``). The caller's
channel, not the agent's leg, so that a transfer to a colleague stays in the same
file. The file name is ccserver's: ``<yyyy>/<mm>/<dd>/<call id>.wav`` (the UTC
day of the answer), relative, so Asterisk writes it under its monitor directory
(or under ``recordings.asterisk_dir`` when set) and ccserver reads it under
``recordings.dir``. The name goes into the event log as ``call.recording``, which
is what the quality pages list and the only files they serve.

A refused or unanswered MixMonitor is logged and counted (``recordings_failed``);
the call goes on unrecorded.

Adopted calls (ccserver restarted or the link came back mid-call): the caller's
channel is asked for ``MIXMONITOR_FILENAME``, which MixMonitor sets on the
channel it records. Set: the recording goes on, and is logged again under its
name (so a restarted ccserver still knows it). Unset: recording starts now, the
file holds the rest of the conversation.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from acd.effects import Adopted, Connected
from contracts import eventlog as el
from contracts.sink import CallEvent
from cti.connection import AmiError

from .state import RoutingState

log = logging.getLogger("ccserver.orchestrator")

# MixMonitor options: b = only while the caller is bridged (with an agent), not the
# hold music or a survey after the agent hung up
MIXMONITOR_OPTIONS = "b"
# ccserver's own names; a MIXMONITOR_FILENAME ending like this is one of ours
OUR_NAME = re.compile(r"(\d{4}/\d{2}/\d{2}/[A-Za-z0-9._-]+\.wav)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def recording_name(call_id: str, at: float) -> str:
    """The file a call is recorded to, relative to the recordings directory."""
    day = time.strftime("%Y/%m/%d", time.gmtime(at))
    safe = _UNSAFE.sub("_", call_id).lstrip(".") or "call"
    return f"{day}/{safe}.wav"


class Recording(RoutingState):
    """Starts MixMonitor on the calls of recorded queues."""

    # recordings.asterisk_dir: where Asterisk writes, when not its monitor directory
    recordings_at: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorded: dict[str, str] = {}  # call id -> its file ("" while asking)
        self.recordings_started = 0
        self.recordings_failed = 0

    def _recorded_queues(self) -> frozenset[str]:
        return frozenset(q.name for q in self.model.queues if q.record)

    def _start_recording(self, d: Connected | Adopted) -> None:
        """A call connected: record it if its queue says so and it is not recorded yet."""
        call_id = d.call_id or ""
        call = self.engine.calls.get(call_id)
        if call is None or call.queue not in self._recorded_queues():
            return
        if call_id in self._recorded:
            return  # connected again (back from a transfer): the same file goes on
        self._recorded[call_id] = ""
        answered = d.answered_at if d.answered_at is not None else d.at
        self._tasks.spawn(
            self._mixmonitor(call_id, call.queue, d.agent_id, answered, isinstance(d, Adopted)),
            name="acd.record",
        )

    async def _mixmonitor(
        self, call_id: str, queue: str, agent: str | None, answered_at: float, adopted: bool
    ) -> None:
        channel = self._caller_channel.get(call_id) or self._first_channel(call_id)
        name = recording_name(call_id, answered_at)
        try:
            if channel is None:
                raise AmiError("caller channel unknown")
            if adopted:
                reply = await self.cti_of(call_id).send_action(
                    "Getvar", [("Channel", channel), ("Variable", "MIXMONITOR_FILENAME")]
                )
                running = reply.get("Value") or "" if reply.response == "Success" else ""
                if running:
                    found = OUR_NAME.search(running)
                    self._logged(call_id, found.group(1) if found else running, channel,
                                 queue, agent, adopted)  # fmt: skip
                    return
            target = f"{self.recordings_at.rstrip('/')}/{name}" if self.recordings_at else name
            reply = await self.cti_of(call_id).send_action(
                "MixMonitor",
                [("Channel", channel), ("File", target), ("Options", MIXMONITOR_OPTIONS)],
            )
            if reply.response != "Success":
                raise AmiError(reply.get("Message") or "MixMonitor refused")
        except (AmiError, TimeoutError) as exc:
            self.recordings_failed += 1
            self._recorded.pop(call_id, None)
            log.warning("recording of call %s (queue %s) failed: %s", call_id, queue, exc)
            return
        self.recordings_started += 1
        self._logged(call_id, name, channel, queue, agent, adopted)

    def _first_channel(self, call_id: str) -> str | None:
        """The call's first channel (the caller's; its uniqueid is the call's linkedid): what
        an adopted call has before routing has correlated it."""
        call = self.cti_of(call_id).tracker.calls.get(call_id)
        first = call.channels.get(call_id) if call is not None else None
        return first.name if first is not None and first.ended_at is None else None

    def _logged(
        self, call_id: str, name: str, channel: str, queue: str, agent: str | None, adopted: bool
    ) -> None:
        if call_id in self._recorded:
            self._recorded[call_id] = name
        now = self.clock()
        data = {
            "file": name,
            "started_at": now,
            "channel": channel,
            "queue": queue,
            "agent": agent,
            "adopted": adopted,
        }
        self.sink.emit(CallEvent(self._ids(), now, call_id, el.CALL_RECORDING, data))
        log.info("recording call %s to %s", call_id, name)

    def _forget(self, call_id: str) -> None:
        self._recorded.pop(call_id, None)
        super()._forget(call_id)
