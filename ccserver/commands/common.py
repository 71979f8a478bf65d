"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable

from acd.config import load_acd
from ccserver.config import Settings
from ccserver.store.pgcluster import free_port

__all__ = ["free_port", "host_port", "sl_thresholds", "wait_for_stop"]


def sl_thresholds(settings: Settings) -> Callable[[str], float]:
    """Each queue's service-level threshold from the ACD config (raises AcdConfigError)."""
    within = (
        {q.name: q.within_s for q in load_acd(settings.acd.config).queues}
        if settings.acd.config
        else {}
    )
    default = settings.reports.default_threshold_s
    return lambda queue: within.get(queue, default)


def host_port(value: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` for argparse."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


async def wait_for_stop(duration: float | None) -> None:
    """Return after ``duration`` seconds, or on SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
