"""What the browser tests share (``tests/browser.py``): a floor of the simulator and ccserver."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from browser import Floor, start_floor

from ccserver.app import Server
from ccserver.sim import AsteriskSimulator


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    """``await floor(agents)``: the simulator and ccserver, stopped after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(agents: list[dict[str, Any]]) -> tuple[AsteriskSimulator, Server]:
            return await start_floor(stack, tmp_path, agents)

        yield start
