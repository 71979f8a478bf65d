"""The agent desktop in a real browser: headless Chromium (Debian's) driven by Playwright.

The simulator and ccserver run over real TCP; an agent logs in on the page,
signs in and goes ready; a simulated caller comes through the IVR and is
offered to her: the screen pop shows the caller's number while the phone
rings, then the state turns on_call, and after the caller hangs up, wrap-up,
which she ends early. The page renders in Chinese and in English.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from browser import REPO, Floor, open_page
from playwright.async_api import expect

from ccserver.app import Server
from ccserver.sim import AsteriskSimulator

CALLER = "5550123456"


@pytest.fixture
async def desk_line(floor: Floor) -> tuple[AsteriskSimulator, Server]:
    # ana's softphone rings 1.2 s (12 simulated seconds at 0.1, within the ring timeout of 15)
    # and talks until the test hangs up
    sim, server = await floor([
        {"extension": "1001", "answer_delay_s": 12, "talk_mean_s": 1_000_000},
        {"extension": "1002", "registered": False},
        {"extension": "1003", "registered": False},
        {"extension": "1004", "registered": False},
    ])  # fmt: skip
    await server.people.add_user("ana", "ana-password", "agent", agent_id="ana")
    return sim, server


@pytest.mark.timeout(60)
async def test_an_agent_takes_a_call_on_the_desk(
    desk_line: tuple[AsteriskSimulator, Server],
) -> None:
    sim, server = desk_line
    base = f"http://127.0.0.1:{server.http_port}"
    began = time.monotonic()
    async with open_page(base + "/desk", viewport=(1000, 820)) as (page, errors):
        # the login form, in Chinese first
        await expect(page.locator("#login-btn")).to_have_text("登录")
        await page.fill("#name", "ana")
        await page.fill("#password", "wrong-password")
        await page.click("#login-btn")
        await expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
        await page.fill("#password", "ana-password")
        await page.click("#login-btn")
        await expect(page.locator("#desk-view")).to_be_visible()
        await expect(page.locator("#link")).to_have_text("已连接")
        await expect(page.locator("#state")).to_have_text("已签出")

        # English, switched on the page (and kept for her next login)
        await page.select_option("#lang", "en")
        await expect(page.locator("#ready-btn")).to_have_text("Ready")
        await expect(page.locator("h1")).to_have_text("Agent desktop")
        # the page saves the choice in the background: the store has it a moment later
        async with asyncio.timeout(5):
            while (await server.people.user("ana")).language != "en":  # type: ignore[union-attr]
                await asyncio.sleep(0.02)

        await page.click("#acd-login-btn")
        await expect(page.locator("#state")).to_have_text("not ready")
        await page.click("#ready-btn")
        await expect(page.locator("#state")).to_have_text("ready")

        # a caller through the IVR (1: English, 0: an agent): offered to ana
        call = await sim.place_call(CALLER, dtmf="10")
        await expect(page.locator("#state")).to_have_attribute(
            "data-state", "offered", timeout=10_000
        )
        await expect(page.locator("#pop")).to_be_visible()
        await expect(page.locator("#pop-caller")).to_have_text(CALLER)
        await expect(page.locator("#pop-queue")).to_have_text("general")
        await expect(page.locator("#pop-ivr")).not_to_have_text("-")
        assert call.record.answered_at is None  # the pop came before the answer
        await expect(page.locator("#state")).to_have_attribute(
            "data-state", "on_call", timeout=10_000
        )
        await expect(page.locator("#pop-caller")).to_have_text(CALLER)  # kept during the call
        await page.screenshot(path=str(REPO / "docs" / "desk.png"))

        # the caller hangs up: wrap-up, ended early from the page
        await sim.hangup_channel(call.channel)
        await expect(page.locator("#state")).to_have_attribute("data-state", "wrap_up")
        await expect(page.locator("#wrap-left")).to_contain_text("wrap-up left")
        await expect(page.locator("#pop")).to_be_hidden()
        await page.click("#endwrap-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "available")

        # back in Chinese: the labels follow
        await page.select_option("#lang", "zh-CN")
        await expect(page.locator("#ready-btn")).to_have_text("就绪")
        await expect(page.locator("#state")).to_have_text("就绪")
        await page.click("#logout-btn")
        await expect(page.locator("#login-view")).to_be_visible()
        assert errors == []
    assert time.monotonic() - began < 30
