"""Live queue statistics for Prometheus, kept as call events happen.

An event sink beside the event writer. It reads the calls through the
reports' own fold, fed event by event (:class:`~ccserver.reporting.calls.CallFold`),
so the wallboard counts what the reports count, with the same waits and
dispositions: a call is offered and answered when an agent takes it, offered
and abandoned when a caller who waited in the queue hangs up (short abandons
included); its handle time is observed when the agent is done with it, and
its IVR outcome when it ends. The last ``window_s`` of answered and abandoned
calls per queue give a rolling service level (the reports' tally and
variant). Labels are bounded: queue names come from the ACD configuration.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from acd.queue_kpis import QueueTally
from contracts.sink import CallEvent

from .reporting.calls import ABANDONED, ANSWERED, SHORT_ABANDON, CallFold, CallRecord, Settled

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
        self.threshold_s = threshold_s
        self.variant = variant
        self.short_abandon_s = short_abandon_s
        self.window_s = window_s
        self.clock = clock
        self.offered = Counter(
            "ccserver_queue_calls_offered", "calls answered or abandoned in the queue", ["queue"],
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
        for outcome in IVR_OUTCOMES:
            self.ivr.labels(outcome)
        self.fold = CallFold(short_abandon_s)
        # per queue: (at, wait, disposition) of recent answered / abandoned calls
        self._recent: dict[str, deque[tuple[float, float, str]]] = {}
        self.queues: set[str] = set()
        self.set_queues(queues)
        registry.register(self)

    def set_queues(self, queues: list[str]) -> None:
        """The queues counted (the live configuration added or removed some): every series
        of a queue exists from when it does, at zero; a removed queue's series go."""
        for q in self.queues - set(queues):
            for metric in (self.offered, self.answered, self.abandoned, self.handle):
                metric.remove(q)
            for outcome in ("answered", "abandoned"):
                self.wait.remove(q, outcome)
            del self._recent[q]
        for q in sorted(set(queues) - self.queues):
            for metric in (self.offered, self.answered, self.abandoned, self.handle):
                metric.labels(q)
            for outcome in ("answered", "abandoned"):
                self.wait.labels(q, outcome)
            self._recent[q] = deque()
        self.queues = set(queues)

    # --- the sink ---------------------------------------------------------------
    def emit(self, event: CallEvent) -> None:
        for settled in self.fold.feed(event):
            self._count(settled)

    def _count(self, settled: Settled) -> None:
        rec: CallRecord = settled.record
        queue = rec.queue or ""
        if settled.kind == "ended" and rec.ivr_outcome in IVR_OUTCOMES:
            self.ivr.labels(rec.ivr_outcome).inc()
        if queue not in self.queues:
            return
        if settled.kind == "handled":
            self.handle.labels(queue).observe(rec.handle_s)
            return
        answered = settled.kind == "answered"
        if not answered and rec.disposition not in (ABANDONED, SHORT_ABANDON):
            return
        wait = rec.wait_s or 0.0
        self.offered.labels(queue).inc()
        (self.answered if answered else self.abandoned).labels(queue).inc()
        self.wait.labels(queue, "answered" if answered else "abandoned").observe(wait)
        recent = self._recent[queue]
        recent.append((settled.at, wait, ANSWERED if answered else rec.disposition))
        while recent[0][0] < settled.at - self.window_s:  # bounded without a scrape too
            recent.popleft()

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

    def _service_level(self, queue: str, recent: deque[tuple[float, float, str]]) -> float | None:
        t = self.threshold_s(queue)
        tally = QueueTally()
        for _, wait, outcome in recent:
            if outcome == ANSWERED:
                tally.add_answered(wait, t)
            else:
                tally.add_abandoned(wait, t, short=outcome == SHORT_ABANDON)
        return tally.service_level(self.variant)
