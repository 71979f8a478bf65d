"""The agent desktop's call control in a real browser (Debian's Chromium, Playwright).

An agent logs in on /desk, goes ready and gets a simulated call with its screen pop;
she presses Hold: the page shows the call held only once the simulated phone held it
(Asterisk's Hold event, asked for with PJSIPNotify), then Resume; she writes a note and
ends wrap-up with a disposition code. The calls report (API) then shows the hold time the
simulator measured and the disposition.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from browser import ADMIN, Floor, open_page
from playwright.async_api import expect

CALLER = "5550123777"


async def calls_report(base: str, began: float) -> list[dict[str, Any]]:
    query = f"from={began - 60}&to={time.time() + 60}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/reports/calls?{query}", headers=ADMIN) as resp,
    ):
        assert resp.status == 200
        body = await resp.json()
    return list(body["rows"])


@pytest.mark.timeout(60)
async def test_hold_resume_note_and_disposition_on_the_desk(floor: Floor) -> None:
    # ana's softphone answers after 1 simulated second and talks until the caller hangs up
    sim, server = await floor([
        {"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 1_000_000},
        {"extension": "1002", "registered": False},
        {"extension": "1003", "registered": False},
        {"extension": "1004", "registered": False},
    ])  # fmt: skip
    await server.people.add_user("ana", "ana-password", "agent", agent_id="ana")
    base = f"http://127.0.0.1:{server.http_port}"
    began = time.time()
    async with open_page(base + "/desk", locale="en-US", viewport=(1000, 1100)) as (page, errors):
        await page.fill("#name", "ana")
        await page.fill("#password", "ana-password")
        await page.click("#login-btn")
        await expect(page.locator("#desk-view")).to_be_visible()
        await page.select_option("#lang", "en")
        await page.click("#acd-login-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "not_ready")
        await page.click("#ready-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "available")

        call = await sim.place_call(CALLER, dtmf="10")  # English, an agent
        await expect(page.locator("#pop-caller")).to_have_text(CALLER, timeout=10_000)
        await expect(page.locator("#state")).to_have_attribute(
            "data-state", "on_call", timeout=10_000
        )
        await expect(page.locator("#call-panel")).to_be_visible()
        await expect(page.locator("#held")).to_have_attribute("data-held", "0")

        # Hold: the phone is asked (PJSIPNotify) and the page shows what Asterisk said
        await page.click("#hold-btn")
        await expect(page.locator("#held")).to_have_attribute("data-held", "1")
        await expect(page.locator("#held")).to_have_text("On hold")
        leg = sim.phones["1001"].channel
        assert leg is not None and leg.held_at is not None  # the phone held the call
        await expect(page.locator("#resume-btn")).to_be_enabled()
        await sim.sleep(20)  # the caller listens to the music a while
        await page.click("#resume-btn")
        await expect(page.locator("#held")).to_have_attribute("data-held", "0")
        assert leg.held_at is None and call.record.hold_s > 0

        await page.fill("#note-text", "asked about the last bill")
        await page.click("#note-btn")
        await expect(page.locator("#notes li")).to_have_text(["asked about the last bill"])

        # the caller hangs up: wrap-up, ended with a disposition code
        await sim.hangup_channel(call.channel)
        await expect(page.locator("#state")).to_have_attribute("data-state", "wrap_up")
        await expect(page.locator("#wrap-panel")).to_be_visible()
        await page.select_option("#disposition", "resolved")
        await page.fill("#disposition-text", "explained the bill")
        await page.click("#wrap-done-btn")
        await expect(page.locator("#state")).to_have_attribute("data-state", "available")
        await expect(page.locator("#wrap-panel")).to_be_hidden()
        assert errors == []

    # the report: the hold as the simulator measured it (ccserver's clock runs at the
    # simulator's time scale here), the disposition, the note
    found: list[dict[str, Any]] = []

    async def reported() -> bool:
        rows = await calls_report(base, began)
        found[:] = [r for r in rows if r["caller"] == CALLER and r["disposition_code"]]
        return bool(found)

    async with asyncio.timeout(10):  # the event log is flushed every 50 ms
        while not await reported():
            await sim.sleep(1)
    (row,) = found
    assert row["agent"] == "ana" and row["disposition"] == "answered"
    assert row["disposition_code"] == "resolved" and row["notes"] == ["asked about the last bill"]
    assert row["hold_s"] > 0
    assert row["hold_s"] == pytest.approx(call.record.hold_s * sim.time_scale, abs=0.1)
