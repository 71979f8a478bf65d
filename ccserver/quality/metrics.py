"""Prometheus counters of call recording: MixMonitors started and refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class Recorder(Protocol):
    recordings_started: int
    recordings_failed: int


class RecordingCollector(Collector):
    """Reads the routing plugin's recording counts at scrape time."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "ccserver_recordings_started",
            "calls whose recording Asterisk started (MixMonitor)",
            value=self._recorder.recordings_started,
        )
        yield CounterMetricFamily(
            "ccserver_recordings_failed",
            "MixMonitor actions refused or unanswered: calls left unrecorded",
            value=self._recorder.recordings_failed,
        )
