"""The supervisors' wallboard in a real browser: headless Chromium (Debian's), Playwright.

The simulator and ccserver run over real TCP. A supervisor logs in on
/board; agents sign in and go ready through the API and a simulated caller
is answered: the board shows each change live. She forces an agent not ready
from the grid (recorded with the ``supervisor`` reason code and her name),
gives another agent the skill a waiting caller needs, and that caller is
routed to him at once. She sets her own phone and listens in on a call: the
simulator (Asterisk) rings her phone into ChanSpy on the agent's channel. She
declares an outage notice and ends it. The page renders in Chinese and in English.
"""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pytest
from browser import ADMIN, REPO, Floor, open_page
from playwright.async_api import expect
from support import until

CALLER = "5550123456"
OTHER_CALLER = "5550123457"
PHONE = {"answer_delay_s": 12, "talk_mean_s": 1_000_000}  # rings 1.2 s, talks on


@pytest.mark.timeout(60)
async def test_a_supervisor_runs_the_floor_from_the_board(floor: Floor) -> None:
    sim, server = await floor([
        {"extension": "1001", **PHONE},
        {"extension": "1002", **PHONE},
        {"extension": "1003", "registered": False},
        {"extension": "1004", **PHONE},
        {"extension": "1009", "answer_delay_s": 5},  # sue's own phone, no agent on it
    ])  # fmt: skip
    assert server.people is not None and server.orchestrator is not None
    await server.people.add_user("sue", "sue-password", "supervisor", teams=["general"])
    base = f"http://127.0.0.1:{server.http_port}"
    engine = server.orchestrator.engine

    async def act(agent: str, *actions: str) -> None:
        async with aiohttp.ClientSession(headers=ADMIN) as http:
            for action in actions:
                async with http.post(f"{base}/api/agents/{agent}", json={"action": action}) as r:
                    assert r.status == 200, await r.text()

    began = time.monotonic()
    async with open_page(base + "/board") as (page, errors):
        await expect(page.locator("h1")).to_have_text("班长监控大屏")
        await page.fill("#name", "sue")
        await page.fill("#password", "sue-password")
        await page.click("#login-btn")
        await expect(page.locator("#board-view")).to_be_visible()
        await expect(page.locator("#link")).to_have_text("已连接")
        await expect(page.locator("#alerts")).to_have_text("无告警")

        def row(agent: str) -> Any:
            return page.locator(f'#agents tr[data-agent="{agent}"]')

        def queue(name: str, cell: str) -> Any:
            return page.locator(f'#board-queues tr[data-queue="{name}"] td.{cell}')

        await expect(row("ana").locator("td.state")).to_have_text("已签出")

        # ana goes ready through the API: the board shows it live, then her call
        await act("ana", "login", "ready")
        await expect(row("ana").locator("td.state")).to_have_attribute("data-state", "available")
        await expect(row("ana").locator("td.state")).to_have_text("就绪")
        await sim.place_call(CALLER, dtmf="10")  # English, then an agent: general
        await expect(row("ana").locator("td.state")).to_have_attribute(
            "data-state", "on_call", timeout=10_000
        )
        # the day's figures, folded from the event log, count her answered call
        await expect(queue("general", "answered")).to_have_text("1", timeout=10_000)

        # sue listens in on ana's call from her own phone, set on the board
        await row("ana").locator("button.spy-listen").click()
        await expect(page.locator("#message")).to_have_text("请先设置您的话机（分机号）")
        await page.fill("#my-phone", "1009")
        await page.click("#phone-save")
        await expect(page.locator("#message")).to_have_text("")  # saved
        sue = await server.people.user("sue")
        assert sue is not None and sue.phone == "1009"
        await row("ana").locator("button.spy-listen").click()
        await expect(page.locator("#notice")).to_contain_text("1009")
        await until(lambda: bool(sim.spies) and sim.spies[0]["started_at"] is not None, 10)
        agent_leg = sim.phones["1001"].channel
        assert agent_leg is not None
        (run,) = sim.spies
        assert run["spyer"].startswith("PJSIP/1009-") and run["spyee"] == agent_leg.name
        assert run["data"] == f"{agent_leg.name},qES"
        # the agent is not told: her row and state are as before
        await expect(row("ana").locator("td.state")).to_have_attribute("data-state", "on_call")

        # an outage notice, declared from the board, listed live, then ended
        await expect(page.locator("#outages tbody")).to_have_text("无进行中的故障")
        await page.fill("#outage-regions", "north")
        await page.fill("#outage-message", "北区光缆中断")
        await page.fill("#outage-until", "2030-01-02T03:04")
        await page.click("#outage-declare")
        listed = page.locator("#outages tbody tr[data-outage]")
        await expect(listed).to_have_count(1)
        await expect(listed.locator("td.area")).to_have_text("north")
        await expect(listed.locator("td.message")).to_have_text("北区光缆中断")
        assert server.records is not None
        (outage,) = await server.records.outages(active_only=True)
        assert outage.regions == ["north"] and outage.expected_fix_at is not None
        await listed.locator("button.end-outage").click()
        await expect(listed).to_have_count(0)
        await expect(page.locator("#outages tbody")).to_have_text("无进行中的故障")
        assert await server.records.outages(active_only=True) == []
        audit = [e["action"] for e in await server.people.audit_entries(10, "sue")]
        assert {"spy_on_call", "declare_outage", "resolve_outage", "update_me"} <= set(audit)

        # ben is forced not ready from the grid: the supervisor's reason code, her name
        await act("ben", "login", "ready")
        await expect(row("ben").locator("td.state")).to_have_attribute("data-state", "available")
        await row("ben").locator("button.force-not-ready").click()
        await expect(row("ben").locator("td.state")).to_have_attribute("data-state", "not_ready")
        await expect(row("ben").locator("td.reason")).to_have_text("班长设置")
        assert engine.agents["ben"].reason == "supervisor"
        audit = await server.people.audit_entries(10, "sue")
        assert (audit[0]["action"], audit[0]["target"]) == ("agent_action", "ben")

        # a caller waits in general: ana is talking, ben not ready, dana lacks the skill
        await act("dana", "login", "ready")
        await expect(row("dana").locator("td.state")).to_have_attribute("data-state", "available")
        await sim.place_call(OTHER_CALLER, dtmf="10")
        await expect(queue("general", "waiting")).to_have_text("1", timeout=10_000)
        # the supervisor gives dana "general": the waiting caller is routed to her at once
        await row("dana").locator("button.edit-skills").click()
        await expect(page.locator("#skills-input")).to_have_value("lang_en=5, tech=9")
        await page.fill("#skills-input", "lang_en=5, tech=9, general=4")
        await page.click("#skills-save")
        await expect(page.locator("#skills-editor")).to_be_hidden()
        await expect(row("dana").locator("td.skills")).to_have_text("general=4, lang_en=5, tech=9")
        await expect(row("dana").locator("td.state")).to_have_attribute(
            "data-state", re.compile("offered|on_call"), timeout=5_000
        )
        await until(lambda: engine.agents["dana"].call_id is not None, 5)
        assert engine.calls[engine.agents["dana"].call_id or ""].caller == OTHER_CALLER
        await expect(row("dana").locator("td.state")).to_have_attribute(
            "data-state", "on_call", timeout=10_000
        )
        await expect(queue("general", "waiting")).to_have_text("0")

        # English: the labels and codes follow
        await page.select_option("#lang", "en")
        await expect(page.locator("h1")).to_have_text("Supervisor board")
        await expect(page.locator("#notice")).to_have_text("Listen Ana: Calling your phone: 1009")
        await expect(row("ben").locator("td.reason")).to_have_text("set by supervisor")
        await expect(row("ana").locator("td.state")).to_have_text("on call")
        await expect(page.locator("#alerts")).to_have_text("No alerts")
        await page.screenshot(path=str(REPO / "docs" / "board.png"), full_page=True)
        await page.select_option("#lang", "zh-CN")
        await expect(row("dana").locator("td.state")).to_have_text("通话中")
        assert errors == []
    assert time.monotonic() - began < 40
