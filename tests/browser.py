"""The browser tests' floor: the simulator and ccserver over real TCP, and Debian's Chromium.

``start_floor(stack, folder, agents)`` starts the simulator with those
softphones (the scenario's ``agents`` entries, extensions 1001-1004 of
config/acd.example.yaml) and ccserver with the example ACD and IVR, a SQLite
store in ``folder`` and an admin system token (``TOKEN``); ``stack`` stops
them. The fixture is ``floor`` in tests/e2e/conftest.py. ``open_page`` opens a
page in Debian's Chromium, driven by Playwright.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from ccserver.app import Server
from ccserver.commands.common import free_port
from ccserver.config import load_config
from ccserver.sim import AsteriskSimulator, parse_scenario

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright's own browser download is not used
TOKEN = "e2e-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}

Floor = Callable[[list[dict[str, Any]]], Awaitable[tuple[AsteriskSimulator, Server]]]


async def start_floor(
    stack: contextlib.AsyncExitStack, folder: Path, agents: list[dict[str, Any]]
) -> tuple[AsteriskSimulator, Server]:
    agi_port = free_port()
    sim = AsteriskSimulator(
        parse_scenario({"agents": agents}),
        time_scale=0.1,
        agi_host="127.0.0.1",
        agi_port=agi_port,
    )
    await sim.start()
    stack.push_async_callback(sim.stop)
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret", "backoff_min_s": 0.02, "backoff_max_s": 0.1},
        http={"host": "127.0.0.1", "port": 0, "api_tokens": [TOKEN]},
        store={
            "url": f"sqlite+aiosqlite:///{folder}/floor.db",
            "flush_interval_s": 0.05,
            "spool_dir": str(folder / "spool"),
        },
        acd={"config": str(REPO / "config" / "acd.example.yaml"), "tick_s": 0.02},
        ivr={"config": str(REPO / "config" / "ivr.example.yaml"), "agi_port": agi_port},
    )
    server = Server(settings)
    await server.start()
    stack.push_async_callback(server.stop)
    await server.cti.client.wait_connected(5)
    return sim, server


@contextlib.asynccontextmanager
async def open_page(
    url: str, *, locale: str = "zh-CN", viewport: tuple[int, int] = (1280, 900)
) -> AsyncIterator[tuple[Page, list[Any]]]:
    """Debian's Chromium on ``url``: the page and the script errors it raises (the tests
    expect none); the browser is closed on the way out."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            width, height = viewport
            page = await browser.new_page(
                locale=locale, viewport={"width": width, "height": height}
            )
            errors: list[Any] = []

            def page_error(error: Any) -> None:  # Playwright wants a Python function here
                errors.append(error)

            page.on("pageerror", page_error)
            await page.goto(url)
            yield page, errors
        finally:
            await browser.close()
