"""What the hotline dialplan notes in Asterisk's own database for ccserver.

The dialplan (``asterisk/extensions.conf``, context ``cc-record``) writes these
notes in the AstDB family ``cc``: when an agent's leg answered (Dial's
``U()`` gosub: ``<call id>_answered`` = ``<epoch.ms>/<agent channel>``), when
that leg ended (the hangup handler the gosub pushes: ``<leg uniqueid>_left`` =
``<epoch.ms>``: the end of the talk, as the caller may stay on for the survey) and
when the caller's line ended (its hangup handler: ``<uniqueid>_ended`` =
``<epoch.ms>/<CC_QUEUED>/<CC_ENTERED>/<caller number>``, ``CC_QUEUED`` empty if the
caller never reached the queue; a note of the older dialplan has the first two only).
Over AMI those moments are events; but while the link is down or ccserver is
restarting the events are lost, and these notes are the only record of what
happened, with Asterisk's own times (the ended note is even the only trace of a
line that began and ended meanwhile). The CTI service reads them at every resync
(``DBGetTree``) and then deletes the ones it read, key by key (``DBDel``): a note
written in between (a caller hanging up during the resync) stays for the next read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts import dialplan as dp


@dataclass(frozen=True)
class CallNotes:
    """Per call id: (answer time, agent channel); per caller uniqueid: end time, when
    the line reached the hotline (``CC_ENTERED``) with the caller's number, and, if the
    caller had reached the queue, when they first entered it (``CC_QUEUED``); per
    answered agent leg's uniqueid: when it ended (``left``)."""

    answered: dict[str, tuple[float, str]] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    left: dict[str, float] = field(default_factory=dict)
    queued: dict[str, float] = field(default_factory=dict)
    entered: dict[str, tuple[float, str]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # the notes read, to delete once applied

    def __bool__(self) -> bool:
        return bool(self.answered or self.ended or self.left)

    def line_ends(self) -> dict[str, float]:
        """When each noted line ended, callers' and agent legs' alike, by uniqueid."""
        return self.ended | self.left


def _time(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def read_call_notes(rows: Iterable[tuple[str, str]]) -> CallNotes:
    """Notes from ``DBGetTreeResponse`` rows (``Key: /cc/<id>_<what>``, ``Val``).

    Rows of other families, unknown suffixes and malformed values are skipped:
    the family may be shared with an operator's own dialplan.
    """
    notes = CallNotes()
    prefix = f"/{dp.ASTDB_FAMILY}/"
    for key, value in rows:
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if name.endswith((dp.ASTDB_ANSWERED, dp.ASTDB_ENDED, dp.ASTDB_LEFT)):
            notes.keys.append(name)
        if name.endswith(dp.ASTDB_LEFT):
            at = _time(value)
            if at is not None:
                notes.left[name.removesuffix(dp.ASTDB_LEFT)] = at
        elif name.endswith(dp.ASTDB_ANSWERED):
            at_text, _, channel = value.partition("/")
            at = _time(at_text)
            if at is not None and channel:
                notes.answered[name.removesuffix(dp.ASTDB_ANSWERED)] = (at, channel)
        elif name.endswith(dp.ASTDB_ENDED):
            # the caller's number is last: whatever it holds, it cannot shift the times
            at_text, queued_text, entered_text, caller = [*value.split("/", 3), "", "", ""][:4]
            at = _time(at_text)
            uniqueid = name.removesuffix(dp.ASTDB_ENDED)
            if at is not None:
                notes.ended[uniqueid] = at
                queued = _time(queued_text) if queued_text else None
                if queued is not None and queued <= at:
                    notes.queued[uniqueid] = queued
                entered = _time(entered_text) if entered_text else None
                if entered is not None and entered <= at:
                    notes.entered[uniqueid] = (entered, caller)
    return notes
