"""Helpers shared by test modules (``pythonpath = ["tests"]`` in pyproject makes it importable)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccserver.store import EventWriter
from contracts.sink import CallEvent
from cti.connection import AmiSettings


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until ``predicate()`` holds; TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def ami_settings(port: int, **overrides: Any) -> AmiSettings:
    """AMI client settings for tests: fast backoff, the simulator's secret."""
    base: dict[str, Any] = {
        "backoff_min_s": 0.02,
        "backoff_max_s": 0.1,
        "ping_interval_s": 30,
        "ping_timeout_s": 1,
        "action_timeout_s": 2,
    }
    base.update(overrides)
    return AmiSettings(port=port, secret="ccsecret", **base)


REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 10
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``ccserver ARGS`` from ``cwd`` with only our own ``CCSERVER_*`` variables;
    the result and how long it took.

    The command runs in a process group of its own, killed whole on the way out: a
    timeout (ours or pytest's) must not leave its children (a bench's servers) running.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CCSERVER_")}
    started = time.monotonic()
    argv = [sys.executable, "-m", "ccserver", *args]
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=clean | (env or {}) | {"PYTHONPATH": str(REPO)},
        start_new_session=True,
    ) as popen:
        try:
            out, err = popen.communicate(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
    proc = subprocess.CompletedProcess(argv, popen.returncode, out, err)
    return proc, time.monotonic() - started


def can_bind(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` (a stopped server left none)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def write_events(
    url: str, events: list[CallEvent], batch_size: int = 1000, **kwargs: Any
) -> EventWriter:
    """Store ``events`` through the event writer, as the server does; the stopped writer."""
    writer = EventWriter(url, batch_size=batch_size, **kwargs)
    await writer.start()
    try:
        for event in events:
            writer.emit(event)
        await writer.flush()
    finally:
        await writer.stop()
    return writer
