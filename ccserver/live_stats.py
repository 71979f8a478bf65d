"""Live queue statistics for Prometheus, kept as call events happen.

An event sink beside the event writer: it counts offered, answered and
abandoned calls per queue, observes waits and handle times in histograms,
counts IVR outcomes, and keeps the last ``window_s`` of answered and abandoned
calls per queue for a rolling service level (the variant the reports use).
Labels are bounded: queue names come from the ACD configuration.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from acd.service_level import service_level
from cti.sink import CallEvent

WAIT_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)
HANDLE_BUCKETS = (30, 60, 120, 180, 240, 300, 420, 600, 900, 1800)
IVR_OUTCOMES = ("self_served", "deflected", "handoff", "hangup")


class LiveStats(Collector):
    """Counters and histograms fed by call events; a rolling service level at scrape."""

    def __init__(
        self,
        registry: CollectorRegistry,
        queues: list[str],
        threshold_s: Callable[[str], float],
        *,
        variant: str = "answered_only",
        short_abandon_s: float = 5.0,
        window_s: float = 900.0,
        clock: Callable[[], float],
    ) -> None:
        self.queues = set(queues)
        self.threshold_s = threshold_s
        self.variant = variant
        self.short_abandon_s = short_abandon_s
        self.window_s = window_s
        self.clock = clock
        self.offered = Counter(
            "ccserver_queue_calls_offered", "calls that entered the queue", ["queue"],
            registry=registry,
        )  # fmt: skip
        self.answered = Counter(
            "ccserver_queue_calls_answered", "calls answered by an agent", ["queue"],
            registry=registry,
        )  # fmt: skip
        self.abandoned = Counter(
            "ccserver_queue_calls_abandoned", "callers who hung up waiting", ["queue"],
            registry=registry,
        )  # fmt: skip
        self.wait = Histogram(
            "ccserver_queue_wait_seconds", "time in the queue until answered or abandoned",
            ["queue", "outcome"], buckets=WAIT_BUCKETS, registry=registry,
        )  # fmt: skip
        self.handle = Histogram(
            "ccserver_queue_handle_seconds", "talk, hold and wrap-up of answered calls",
            ["queue"], buckets=HANDLE_BUCKETS, registry=registry,
        )  # fmt: skip
        self.ivr = Counter(
            "ccserver_ivr_calls", "calls leaving the IVR, by outcome", ["outcome"],
            registry=registry,
        )  # fmt: skip
        for q in sorted(self.queues):  # every series exists from the start, at zero
            for metric in (self.offered, self.answered, self.abandoned, self.handle):
                metric.labels(q)
            for outcome in ("answered", "abandoned"):
                self.wait.labels(q, outcome)
        for outcome in IVR_OUTCOMES:
            self.ivr.labels(outcome)
        self._queue_of: dict[str, str] = {}  # call id -> current queue
        self._connected: dict[str, tuple[str, float]] = {}  # agent -> (queue, connected at)
        # per queue: (at, wait, answered?) of recent answered / abandoned calls
        self._recent: dict[str, deque[tuple[float, float, bool]]] = {
            q: deque() for q in self.queues
        }
        registry.register(self)

    # --- the sink ---------------------------------------------------------------
    def emit(self, event: CallEvent) -> None:
        kind, d = event.kind, event.data
        if kind == "acd.queued":
            queue = str(d.get("queue"))
            if queue in self.queues and event.call_id not in self._queue_of:
                self.offered.labels(queue).inc()
            self._queue_of[event.call_id] = queue
        elif kind == "acd.overflowed":
            self._queue_of[event.call_id] = str(d.get("to"))
        elif kind == "acd.connected":
            queue = self._queue_of.pop(event.call_id, "")
            if queue in self.queues:
                wait = float(d.get("waited_s") or 0.0)
                self.answered.labels(queue).inc()
                self.wait.labels(queue, "answered").observe(wait)
                self._recent[queue].append((event.at, wait, True))
                self._connected[str(d.get("agent"))] = (queue, event.at)
        elif kind in ("acd.abandoned", "acd.callback_failed"):
            queue = self._queue_of.pop(event.call_id, "")
            if queue in self.queues and kind == "acd.abandoned":
                wait = float(d.get("waited_s") or 0.0)
                self.abandoned.labels(queue).inc()
                self.wait.labels(queue, "abandoned").observe(wait)
                self._recent[queue].append((event.at, wait, False))
        elif kind == "acd.agent_state":
            self._agent_state(event)
        elif kind == "ivr.ended":
            outcome = str(d.get("outcome"))
            if outcome in IVR_OUTCOMES:
                self.ivr.labels(outcome).inc()

    def _agent_state(self, event: CallEvent) -> None:
        agent, state = str(event.data.get("agent")), event.data.get("state")
        if state not in ("on_call", "wrap_up") and agent in self._connected:
            # the call and its wrap-up are over: that is the handle time
            queue, since = self._connected.pop(agent)
            self.handle.labels(queue).observe(max(0.0, event.at - since))

    # --- the collector -------------------------------------------------------------
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        gauge = GaugeMetricFamily(
            "ccserver_queue_service_level",
            f"share answered within the queue's threshold over the last {self.window_s:g} s "
            f"({self.variant})",
            labels=["queue"],
        )
        for queue, recent in sorted(self._recent.items()):
            while recent and recent[0][0] < now - self.window_s:
                recent.popleft()
            value = self._service_level(queue, recent)
            if value is not None:
                gauge.add_metric([queue], value)
        yield gauge

    def _service_level(self, queue: str, recent: deque[tuple[float, float, bool]]) -> float | None:
        t = self.threshold_s(queue)
        answered = [w for _, w, ok in recent if ok]
        abandoned = [w for _, w, ok in recent if not ok]
        return service_level(
            self.variant,
            answered_within=sum(1 for w in answered if w <= t),
            answered=len(answered),
            abandoned_within=sum(1 for w in abandoned if w <= t),
            abandoned=len(abandoned),
            short_abandons=sum(1 for w in abandoned if w < self.short_abandon_s),
        )
