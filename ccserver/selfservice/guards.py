"""The shell's side of the IVR's defences: checks against the AMI picture, and their counters.

FastAGI cannot tell who opened a session; Asterisk's manager link can. A
session's channel must be one the call tracker knows (live, same Uniqueid),
and a post-call survey must belong to a call an agent answered.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter
from prometheus_client.registry import CollectorRegistry

from cti.tracker import CallTracker

from ..api.limits import ThrottledLog

log = logging.getLogger(__name__)


class TrackerChecks:
    """Questions the FastAGI side asks of the AMI picture."""

    def __init__(self, tracker: CallTracker, *more: CallTracker) -> None:
        self.tracker = tracker
        self.trackers = (tracker, *more)  # one per Asterisk node (README "Scaling out")

    def channel_known(self, name: str, uniqueid: str) -> bool:
        """Whether Asterisk (one of the nodes) reported a live channel of this name and Uniqueid."""
        for tracker in self.trackers:
            ch = tracker.channel_by_name(name)
            if ch is not None and ch.uniqueid == uniqueid and ch.ended_at is None:
                return True
        return False

    def answered_call(self, call_id: str, channel: str) -> bool:
        """Whether the call was bridged with an agent and ``channel`` is one of its own."""
        for tracker in self.trackers:
            call = tracker.call(call_id)
            ch = tracker.channel_by_name(channel)
            if (
                call is not None
                and call.bridged_at is not None
                and ch is not None
                and ch.linkedid == call_id
            ):
                return True
        return False


class GuardMetrics:
    """Counters of refused abuse: FastAGI sessions, HTTP connections, PIN lockouts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.agi_refused = Counter(
            "ccserver_ivr_agi_refused",
            "FastAGI sessions refused (not_allowed, too_many_sessions, bad_secret, "
            "unknown_channel)",
            ["reason"],
            registry=registry,
        )
        self.pin_lockouts = Counter(
            "ccserver_ivr_pin_lockouts",
            "accounts locked after repeated wrong PINs",
            registry=registry,
        )
        self.http_refused = Counter(
            "ccserver_http_connections_refused",
            "HTTP connections turned away over http.max_connections(_per_source)",
            registry=registry,
        )
        self._http_log = ThrottledLog(log)

    def refused_http(self, source: str) -> None:
        self.http_refused.inc()
        self._http_log.warning(source, "HTTP connections from %s refused: too many open", source)
