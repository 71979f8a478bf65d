"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.config import load_acd
from ccserver.config import Settings
from ccserver.startup import StartupError, migrate_store
from ccserver.store.pgcluster import free_port

__all__ = [
    "StopSignals",
    "free_port",
    "host_port",
    "prepare_store",
    "shown_url",
    "sl_thresholds",
    "wait_for_stop",
]


T = TypeVar("T")


async def with_store(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on a short-lived engine for the store; statements are logged
    without their parameters (caller numbers)."""
    engine = create_async_engine(url, hide_parameters=True)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def shown_url(url: str) -> str:
    """A store URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def prepare_store(command: str, url: str) -> bool:
    """Migrate the store (its first use included), or say in one line why not.

    Every command that reads the store calls this first, so a fresh store
    gives empty results, never "no such table".
    """
    try:
        asyncio.run(migrate_store(url))
    except StartupError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return False
    return True


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


class StopSignals:
    """SIGINT and SIGTERM as a request to stop, from the first moment of start-up.

    Use as ``with StopSignals() as stop:`` in the command's main task. Until
    :meth:`started`, a signal cancels that task, so a start-up that is still
    working (migrating, listening) unwinds what it started and the command
    ends; :meth:`requested` then tells the cancellation apart from a bug.
    Afterwards a signal ends :meth:`wait`. Further signals are ignored: the
    stop under way finishes.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._task = asyncio.current_task()
        self._starting = True
        self._installed: list[signal.Signals] = []

    def __enter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal)
                self._installed.append(sig)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed = []

    def _on_signal(self) -> None:
        if self._event.is_set():
            return
        self._event.set()
        if self._starting and self._task is not None:
            self._task.cancel()

    @property
    def requested(self) -> bool:
        """A signal asked the process to stop."""
        return self._event.is_set()

    def started(self) -> None:
        """Start-up is over: from now on a signal ends :meth:`wait` instead of cancelling."""
        self._starting = False  # a cancellation already asked for still lands at the next await

    def stopped_by_signal(self) -> bool:
        """After a ``CancelledError``: True, and the task uncancelled, if a signal caused it."""
        if not self._event.is_set():
            return False
        task = self._task
        if task is not None:
            task.uncancel()
        return True

    async def wait(self, duration: float | None = None) -> None:
        """Return after ``duration`` seconds (``None``: no limit) or on a signal."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), duration)


async def wait_for_stop(duration: float | None) -> None:
    """Return after ``duration`` seconds, or on SIGINT/SIGTERM."""
    with StopSignals() as stop:
        stop.started()
        await stop.wait(duration)


def positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` above zero, else one clear usage line."""

    def parse(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
        if not number > 0 or number != number or number == float("inf"):
            raise argparse.ArgumentTypeError(f"must be above zero and finite, got {value!r}")
        return number

    return parse
