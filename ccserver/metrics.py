"""Prometheus metrics, computed at scrape time from the live state.

Names carry the ``ccserver_`` prefix and base units; counters end in
``_total``; labels are bounded (event class from a fixed list, never a call or
agent id).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from cti.events import EVENT_TYPES

from .snapshots import AcdSnapshot, CtiSnapshot, HealthSnapshot, StoreSnapshot

KNOWN_EVENTS = frozenset(EVENT_TYPES)
AGENT_STATES = ("logged_out", "available", "offered", "on_call", "wrap_up", "not_ready")


class LiveCollector(Collector):
    """Reads one health snapshot per scrape and turns it into metrics."""

    def __init__(self, snapshot: Callable[[], HealthSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snap = self._snapshot()
        yield from _cti(snap.cti)
        yield from _acd(snap.acd or AcdSnapshot((), ()))  # no ACD: agents all at zero
        if snap.cti.nodes:
            yield from _nodes(snap.cti, snap.acd)
        yield GaugeMetricFamily(
            "ccserver_tickets_overdue",
            "open fault tickets past their due time",
            value=snap.tickets.overdue if snap.tickets is not None else 0,
        )
        yield GaugeMetricFamily(
            "ccserver_ivr_sessions_active",
            "FastAGI sessions open",
            value=snap.ivr.sessions_active if snap.ivr is not None else 0,
        )
        yield from _store(snap.store)


def _cti(cti: CtiSnapshot) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    ami = cti.ami
    yield GaugeMetricFamily(
        "ccserver_ami_up", "1 while logged in to Asterisk's AMI", value=int(ami.connected)
    )
    yield CounterMetricFamily(
        "ccserver_ami_reconnects", "AMI reconnect attempts", value=ami.reconnects
    )
    yield CounterMetricFamily(
        "ccserver_ami_resyncs", "tracker resyncs with CoreShowChannels", value=ami.resyncs
    )
    yield CounterMetricFamily(
        "ccserver_ami_frame_errors", "malformed AMI messages dropped", value=ami.frame_errors
    )
    events = CounterMetricFamily("ccserver_ami_events", "AMI events received", labels=["event"])
    other = 0
    for name, count in sorted(cti.events_by_name.items()):
        if name in KNOWN_EVENTS:
            events.add_metric([name], count)
        else:
            other += count
    events.add_metric(["other"], other)
    yield events
    yield GaugeMetricFamily("ccserver_calls_active", "calls in progress", value=cti.active_calls)
    yield GaugeMetricFamily(
        "ccserver_channels_active", "channels in progress", value=cti.active_channels
    )
    yield CounterMetricFamily("ccserver_calls_ended", "calls ended", value=cti.calls_ended)


def _nodes(
    cti: CtiSnapshot, acd: AcdSnapshot | None
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """Several Asterisk nodes: each node's link, calls and seats (label ``node``)."""
    up = GaugeMetricFamily("ccserver_node_ami_up", "1 while logged in to the node", labels=["node"])
    calls = GaugeMetricFamily(
        "ccserver_node_calls_active", "calls in progress on the node", labels=["node"]
    )
    resyncs = CounterMetricFamily("ccserver_node_resyncs", "resyncs with the node", labels=["node"])
    for node in cti.nodes:
        up.add_metric([node.name], int(node.connected))
        calls.add_metric([node.name], node.active_calls)
        resyncs.add_metric([node.name], node.resyncs)
    yield up
    yield calls
    yield resyncs
    seats = GaugeMetricFamily(
        "ccserver_node_agents",
        "agents by the node their softphone is registered on (none: not yet) and state",
        labels=["node", "state"],
    )
    counts = Counter(
        (str(a.details.get("node") or "none"), a.state) for a in (acd.agents if acd else ())
    )
    for node_name in [n.name for n in cti.nodes] + ["none"]:
        for state in AGENT_STATES:
            seats.add_metric([node_name, state], counts[(node_name, state)])
    yield seats


def _acd(acd: AcdSnapshot) -> Iterator[GaugeMetricFamily]:
    waiting = GaugeMetricFamily("ccserver_queue_calls_waiting", "calls waiting", labels=["queue"])
    longest = GaugeMetricFamily(
        "ccserver_queue_longest_wait_seconds", "longest current wait", labels=["queue"]
    )
    for q in acd.queues:
        waiting.add_metric([q.name], q.waiting)
        longest.add_metric([q.name], q.longest_wait_s)
    yield waiting
    yield longest
    states = GaugeMetricFamily("ccserver_agents", "agents by state", labels=["state"])
    counts = Counter(agent.state for agent in acd.agents)
    for state in AGENT_STATES:
        states.add_metric([state], counts[state])
    yield states
    by_queue = GaugeMetricFamily(
        "ccserver_queue_agents",
        "agents who can serve the queue, by state",
        labels=["queue", "state"],
    )
    per_queue = Counter((queue, agent.state) for agent in acd.agents for queue in agent.queues)
    for q in acd.queues:
        for state in AGENT_STATES:
            by_queue.add_metric([q.name, state], per_queue[(q.name, state)])
    yield by_queue


def _store(store: StoreSnapshot) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    yield GaugeMetricFamily(
        "ccserver_eventlog_queued", "events waiting to be written", value=store.queued
    )
    yield CounterMetricFamily(
        "ccserver_eventlog_written", "events handed to the database", value=store.written
    )
    yield CounterMetricFamily(
        "ccserver_eventlog_dropped",
        "events that could not be kept (unstorable, or spool failing with memory full)",
        value=store.dropped,
    )
    yield CounterMetricFamily(
        "ccserver_eventlog_conflicts",
        "events not stored because their id was stored for another event",
        value=store.conflicts,
    )
    yield GaugeMetricFamily(
        "ccserver_eventlog_lag_seconds",
        "age of the oldest event not yet written",
        value=store.lag_s,
    )
    yield GaugeMetricFamily(
        "ccserver_eventlog_spooled",
        "events on the local disk spool, not yet in the database",
        value=store.spooled,
    )


def build_registry(snapshot: Callable[[], HealthSnapshot]) -> CollectorRegistry:
    """A registry holding the live collector (one per server)."""
    registry = CollectorRegistry()
    registry.register(LiveCollector(snapshot))
    return registry
