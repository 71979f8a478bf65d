"""The admin page in a real browser: headless Chromium (Debian's), Playwright.

An admin logs in on /admin, changes an agent's skill level and a queue's ring
timeout, adds a reason code with its labels; the API (and the running engine)
show each change at once. A refused change shows the engine's reason. A
supervisor is told the page is not theirs. The page renders in Chinese and English.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from browser import ADMIN, REPO, Floor, open_page
from playwright.async_api import expect


@pytest.mark.timeout(60)
async def test_an_admin_edits_the_configuration_on_the_page(floor: Floor) -> None:
    _, server = await floor([{"extension": "1001"}, {"extension": "1002"}])
    assert server.people is not None and server.orchestrator is not None
    await server.people.add_user("root", "root-password", "admin")
    await server.people.add_user("sue", "sue-password", "supervisor")
    base = f"http://127.0.0.1:{server.http_port}"
    engine = server.orchestrator.engine

    async def config() -> Any:
        async with (
            aiohttp.ClientSession(headers=ADMIN) as http,
            http.get(f"{base}/api/config") as resp,
        ):
            assert resp.status == 200
            return await resp.json()

    async with open_page(base + "/admin") as (page, errors):
        await expect(page.locator("h1")).to_have_text("配置管理")
        await page.fill("#name", "root")
        await page.fill("#password", "root-password")
        await page.click("#login-btn")
        await expect(page.locator("#admin-view")).to_be_visible()
        await expect(page.locator("#cfg-version")).to_have_text("1")

        def agent(agent_id: str) -> Any:
            return page.locator(f'#cfg-agents tr[data-agent="{agent_id}"]')

        # ben's tech level 6 -> 8: the API and the engine have it at once
        await expect(agent("ben").locator("td.skills")).to_have_text("general=5, lang_en=5, tech=6")
        await agent("ben").locator("button.edit-agent").click()
        await expect(page.locator("#agent-skills")).to_have_value("general=5, lang_en=5, tech=6")
        await page.fill("#agent-skills", "general=5, lang_en=5, tech=8")
        await page.click("#agent-save")
        await expect(agent("ben").locator("td.skills")).to_have_text("general=5, lang_en=5, tech=8")
        await expect(page.locator("#cfg-version")).to_have_text("2")
        stored = await config()
        assert next(a for a in stored["agents"] if a["id"] == "ben")["skills"]["tech"] == 8
        assert engine.agents["ben"].skills["tech"] == 8

        # faults rings 20 s from now on
        queue = page.locator('#cfg-queues tr[data-queue="faults"]')
        await queue.locator("button.edit-queue").click()
        await expect(page.locator("#queue-ring")).to_have_value("15")
        await page.fill("#queue-ring", "20")
        await page.click("#queue-save")
        await expect(queue.locator("td.ring")).to_have_text("20")
        assert engine.queues["faults"].ring_timeout_s == 20
        faults = next(q for q in (await config())["queues"] if q["name"] == "faults")
        assert faults["ring_timeout_s"] == 20 and faults["overflow_to"] == "general"

        # the routing settings: a VIP number and a bigger VIP boost, live
        await expect(page.locator("#set-vip-boost")).to_have_value("10")
        await page.fill("#set-vip-boost", "30")
        await page.fill("#set-vip-numbers", "13900000001, 13900000002")
        await page.click("#settings-save")
        await expect(page.locator("#cfg-version")).to_have_text("4")  # stored
        assert engine.settings.vip_boost == 30
        assert server.orchestrator.vip_numbers == {"13900000001", "13900000002"}
        assert (await config())["settings"]["vip_numbers"] == ["13900000001", "13900000002"]
        await page.fill("#set-default-queue", "nowhere")  # refused, with the reason
        await page.click("#settings-save")
        await expect(page.locator("#message")).to_contain_text("default_queue")
        assert engine.settings.vip_boost == 30

        # a reason code with its labels
        reasons = page.locator('#codes div.codes[data-kind="reason"]')
        await reasons.locator("input.new-code").fill("meeting")
        await reasons.locator("input.new-zh").fill("开会")
        await reasons.locator("input.new-en").fill("in a meeting")
        await reasons.locator("button.add-code").click()
        await expect(reasons.locator('tr[data-code="meeting"] td.zh')).to_have_text("开会")
        assert "meeting" in engine.settings.reason_codes
        codes = (await config())["codes"]["reason"]
        assert codes[-1] == {"code": "meeting", "label_zh": "开会", "label_en": "in a meeting"}

        # a refused change: ana is logged in, so she cannot be removed; the reason shows
        server.orchestrator.agent_action("ana", "login")
        await agent("ana").locator("button.remove-agent").click()
        await expect(page.locator("#message")).to_have_text(
            "agent ana is not_ready: log them out before removing them"
        )
        assert "ana" in engine.agents

        # English
        await page.select_option("#lang", "en")
        await expect(page.locator("h1")).to_have_text("Configuration")
        await expect(queue.locator("td.strategy")).to_have_text("best skill")
        await page.screenshot(path=str(REPO / "docs" / "admin.png"), full_page=True)

        # a supervisor is told the page is not theirs
        await page.click("#logout-btn")
        await page.fill("#name", "sue")
        await page.fill("#password", "sue-password")
        await page.click("#login-btn")
        await expect(page.locator("#message")).to_have_text(
            "此页面供管理员使用：您的角色不能修改配置。"  # her language
        )
        await expect(page.locator("#cfg-agents tbody tr")).to_have_count(0)
        assert errors == []
