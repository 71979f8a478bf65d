"""MixMonitor: the simulated Asterisk records a channel, as ``apps/app_mixmonitor.c`` does.

Where each answer's shape comes from (Asterisk 22 source, read, not copied):

- the manager action ``MixMonitor`` (manager_mixmonitor; write class ``system``):
  ``Channel`` (required: ``No channel specified``; unknown: ``No such channel``),
  ``File``, ``Options``, ``Command``. It runs the application with
  ``File,Options,Command``: a file name is required (else ``Could not start
  monitoring channel``), a relative one is under the monitor directory
  (``ast_config_AST_MONITOR_DIR``, /var/spool/asterisk/monitor) and its folders are
  created; the extension is the format. The application sets
  ``MIXMONITOR_FILENAME`` on the channel (a ``VarSet``) before the response,
  ``Response: Success`` (with ``MixMonitorID`` when the ``i(var)`` option named a
  variable).
- ``MixMonitorStart`` / ``MixMonitorStop`` (class ``call``, the channel block): the
  recording thread publishes the first as it starts and the second when it ends, at
  the channel's hang-up or ``StopMixMonitor``.
- ``StopMixMonitor`` (manager_stop_mixmonitor): ``No channel specified``, ``No such
  channel``, ``Could not stop monitoring channel`` when none runs, else Success.

The simulator writes a real WAV file (8 kHz, 16-bit mono, silence as long as the
recording, at most :data:`MAX_WAV_S`) under ``monitor_dir`` so pages can play it; a
name with ``..`` is refused rather than written outside it. Without a
``monitor_dir`` nothing is written (the answers and events are the same).
"""

from __future__ import annotations

import logging
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti.wire import AmiMessage

from .channels import Channel, event
from .core import SimCore
from .session import ActionHandler, AmiSession, resp

log = logging.getLogger("ccserver.sim")

ASTERISK_MONITOR_DIR = "/var/spool/asterisk/monitor"
RATE = 8000
MAX_WAV_S = 30.0  # a long call's silence is cut here: the file only has to play
WATCH_S = 0.25  # how often (simulated) a recording looks whether its channel hung up


@dataclass
class Monitor:
    """One MixMonitor running on a channel."""

    channel: Channel
    path: str  # as MIXMONITOR_FILENAME says it
    file: Path | None  # where the simulator writes it (None: not written)
    started_at: float
    mixmonitor_id: str
    stopped: bool = False


def write_wav(path: Path, seconds: float) -> None:
    """A valid WAV file of ``seconds`` of silence (8 kHz, 16-bit, mono)."""
    frames = int(min(max(seconds, 0.0), MAX_WAV_S) * RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"\x00\x00" * frames)


class RecordingMixin(SimCore):
    """The ``MixMonitor`` and ``StopMixMonitor`` actions and their events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Asterisk's monitor directory, where files are written (None: nowhere)
        self.monitor_dir: Path | None = None
        self.monitors: dict[str, Monitor] = {}  # channel name -> its running MixMonitor
        self.recorded: list[Monitor] = []  # every MixMonitor started (ground truth)
        self._monitor_seq = 0

    async def _action_mixmonitor(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel") or ""
        if not name:
            s.send(resp(aid, "Error", ("Message", "No channel specified")))
            return
        ch = self.channels.get(name)
        if ch is None:
            s.send(resp(aid, "Error", ("Message", "No such channel")))
            return
        file = (m.get("File") or "").strip()
        options = m.get("Options") or ""
        # no file to write, or one that would leave the directories (this simulator's rule)
        if not file or ".." in Path(file).parts or name in self.monitors:
            s.send(resp(aid, "Error", ("Message", "Could not start monitoring channel")))
            return
        absolute = file if file.startswith("/") else f"{ASTERISK_MONITOR_DIR}/{file}"
        target: Path | None = None
        if file.startswith("/"):
            target = Path(file)
        elif self.monitor_dir is not None:
            target = self.monitor_dir / file
        self._monitor_seq += 1
        mon = Monitor(ch, absolute, target, self.now(), f"0x{id(ch):x}{self._monitor_seq:04x}")
        if target is not None:
            try:
                write_wav(target, 0.0)  # Asterisk opens (creates) the file as it starts
            except OSError as exc:
                log.warning("MixMonitor cannot write %s: %s", target, exc)
                s.send(resp(aid, "Error", ("Message", "Could not start monitoring channel")))
                return
        self.monitors[name] = mon
        self.recorded.append(mon)
        self.set_var(ch, "MIXMONITOR_FILENAME", absolute)
        extra: list[tuple[str, str]] = []
        uid_var = _option_arg(options, "i")
        if uid_var:
            self.set_var(ch, uid_var, mon.mixmonitor_id)
            extra.append(("MixMonitorID", mon.mixmonitor_id))
        s.send(resp(aid, "Success", *extra))
        self.emit(event("MixMonitorStart", "call,all", ch.block()))
        self._spawn(self._watch_monitor(mon))

    async def _action_stopmixmonitor(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        name = m.get("Channel") or ""
        if not name:
            s.send(resp(aid, "Error", ("Message", "No channel specified")))
            return
        ch = self.channels.get(name)
        if ch is None:
            s.send(resp(aid, "Error", ("Message", "No such channel")))
            return
        mon = self.monitors.get(name)
        if mon is None:
            s.send(resp(aid, "Error", ("Message", "Could not stop monitoring channel")))
            return
        s.send(resp(aid, "Success"))
        self._stop_monitor(mon)

    async def _watch_monitor(self, mon: Monitor) -> None:
        while not mon.stopped and not mon.channel.hungup:
            await self.sleep(WATCH_S)
        self._stop_monitor(mon)

    def _stop_monitor(self, mon: Monitor) -> None:
        if mon.stopped:
            return
        mon.stopped = True
        self.monitors.pop(mon.channel.name, None)
        if mon.file is not None:
            try:
                write_wav(mon.file, self.now() - mon.started_at)
            except OSError as exc:
                log.warning("MixMonitor cannot write %s: %s", mon.file, exc)
        self.emit(event("MixMonitorStop", "call,all", mon.channel.block()))


def _option_arg(options: str, letter: str) -> str:
    """The argument of an option like ``i(VAR)`` in a MixMonitor options string."""
    at = options.find(f"{letter}(")
    if at < 0:
        return ""
    end = options.find(")", at)
    return options[at + 2 : end] if end > at else ""


ACTIONS: dict[str, ActionHandler] = {
    "mixmonitor": RecordingMixin._action_mixmonitor,
    "stopmixmonitor": RecordingMixin._action_stopmixmonitor,
}
