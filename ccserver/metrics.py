"""Prometheus metrics, computed at scrape time from the live state.

Names carry the ``ccserver_`` prefix and base units; counters end in
``_total``; labels are bounded (event class from a fixed list, never a call or
agent id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from cti.events import EVENT_TYPES

KNOWN_EVENTS = frozenset(EVENT_TYPES)
AGENT_STATES = ("logged_out", "available", "offered", "on_call", "wrap_up", "not_ready")


class LiveCollector(Collector):
    """Reads one health snapshot per scrape and turns it into metrics."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snap = self._snapshot()
        cti = snap.get("cti", {})
        ami = cti.get("ami", {})
        yield GaugeMetricFamily(
            "ccserver_ami_up",
            "1 while logged in to Asterisk's AMI",
            value=int(ami.get("connected", False)),
        )
        yield CounterMetricFamily(
            "ccserver_ami_reconnects", "AMI reconnect attempts", value=ami.get("reconnects", 0)
        )
        yield CounterMetricFamily(
            "ccserver_ami_resyncs",
            "tracker resyncs with CoreShowChannels",
            value=ami.get("resyncs", 0),
        )
        yield CounterMetricFamily(
            "ccserver_ami_frame_errors",
            "malformed AMI messages dropped",
            value=ami.get("frame_errors", 0),
        )
        events = CounterMetricFamily("ccserver_ami_events", "AMI events received", labels=["event"])
        other = 0
        for name, count in sorted(cti.get("events_by_name", {}).items()):
            if name in KNOWN_EVENTS:
                events.add_metric([name], count)
            else:
                other += count
        events.add_metric(["other"], other)
        yield events
        yield GaugeMetricFamily(
            "ccserver_calls_active", "calls in progress", value=cti.get("active_calls", 0)
        )
        yield GaugeMetricFamily(
            "ccserver_channels_active", "channels in progress", value=cti.get("active_channels", 0)
        )
        yield CounterMetricFamily(
            "ccserver_calls_ended", "calls ended", value=cti.get("calls_ended", 0)
        )
        acd = snap.get("acd") or {}
        waiting = GaugeMetricFamily(
            "ccserver_queue_calls_waiting", "calls waiting", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "ccserver_queue_longest_wait_seconds", "longest current wait", labels=["queue"]
        )
        for q in acd.get("queues", []):
            waiting.add_metric([q["name"]], q["waiting"])
            longest.add_metric([q["name"]], q["longest_wait_s"])
        yield waiting
        yield longest
        states = GaugeMetricFamily("ccserver_agents", "agents by state", labels=["state"])
        counts: dict[str, int] = {}
        for agent in acd.get("agents", []):
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
        for state in AGENT_STATES:
            states.add_metric([state], counts.get(state, 0))
        yield states
        by_queue = GaugeMetricFamily(
            "ccserver_queue_agents",
            "agents who can serve the queue, by state",
            labels=["queue", "state"],
        )
        per_queue: dict[tuple[str, str], int] = {}
        for agent in acd.get("agents", []):
            for queue in agent.get("queues", []):
                key = (queue, agent["state"])
                per_queue[key] = per_queue.get(key, 0) + 1
        for q in acd.get("queues", []):
            for state in AGENT_STATES:
                by_queue.add_metric([q["name"], state], per_queue.get((q["name"], state), 0))
        yield by_queue
        yield GaugeMetricFamily(
            "ccserver_tickets_overdue",
            "open fault tickets past their due time",
            value=(snap.get("tickets") or {}).get("overdue", 0),
        )
        ivr = snap.get("ivr") or {}
        yield GaugeMetricFamily(
            "ccserver_ivr_sessions_active",
            "FastAGI sessions open",
            value=ivr.get("sessions_active", 0),
        )
        store = snap.get("store", {})
        yield GaugeMetricFamily(
            "ccserver_eventlog_queued", "events waiting to be written", value=store.get("queued", 0)
        )
        yield CounterMetricFamily(
            "ccserver_eventlog_written",
            "events handed to the database",
            value=store.get("written", 0),
        )
        yield CounterMetricFamily(
            "ccserver_eventlog_dropped",
            "events that could not be kept (unstorable, or spool failing with memory full)",
            value=store.get("dropped", 0),
        )
        yield CounterMetricFamily(
            "ccserver_eventlog_conflicts",
            "events not stored because their id was stored for another event",
            value=store.get("conflicts", 0),
        )
        yield GaugeMetricFamily(
            "ccserver_eventlog_lag_seconds",
            "age of the oldest event not yet written",
            value=store.get("lag_s", 0.0),
        )
        yield GaugeMetricFamily(
            "ccserver_eventlog_spooled",
            "events on the local disk spool, not yet in the database",
            value=store.get("spooled", 0),
        )


def build_registry(snapshot: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    """A registry holding the live collector (one per server)."""
    registry = CollectorRegistry()
    registry.register(LiveCollector(snapshot))
    return registry
