"""Helpers shared by test modules (``pythonpath = ["tests"]`` in pyproject makes it importable)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

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
