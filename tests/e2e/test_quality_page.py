"""The quality page in a real browser: headless Chromium (Debian's), Playwright.

The simulator and ccserver run over real TCP, with the ``general`` queue
recorded and the simulator writing its recordings where ccserver reads them. A
call is answered and recorded; a quality user logs in on /quality, sees the
recording, plays it (the <audio> element loads the WAV from the API) and scores
it on the scorecard; the score shows in the list and in the agents report. The
page renders in Chinese and in English.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import aiohttp
import pytest
import yaml
from browser import ADMIN, REPO, TOKEN, open_page
from playwright.async_api import expect
from support import until

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.sim import AsteriskSimulator, parse_scenario
from contracts import eventlog as el
from contracts.sink import ListSink


async def recorded_floor(
    stack: contextlib.AsyncExitStack, folder: Path
) -> tuple[AsteriskSimulator, Server, ListSink]:
    acd = yaml.safe_load((REPO / "config" / "acd.example.yaml").read_text())
    for q in acd["queues"]:
        q["record"] = q["name"] == "general"
    (folder / "acd.yaml").write_text(yaml.safe_dump(acd))
    sim = AsteriskSimulator(
        parse_scenario({"agents": [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 40}]}),
        time_scale=0.02,
    )
    sim.monitor_dir = folder / "monitor"
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
        acd={"config": str(folder / "acd.yaml"), "tick_s": 0.02},
        recordings={"dir": str(folder / "monitor")},
    )
    seen = ListSink()
    server = Server(settings, extra_sinks=(seen,))
    await server.start()
    stack.push_async_callback(server.stop)
    await server.cti.client.wait_connected(5)
    return sim, server, seen


@pytest.mark.timeout(60)
async def test_a_quality_user_plays_and_scores_a_recording(tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        sim, server, seen = await recorded_floor(stack, tmp_path)
        assert server.people is not None and server.orchestrator is not None
        await server.people.add_user("quinn", "quinn-password", "quality")
        server.orchestrator.agent_action("ana", "login")
        server.orchestrator.agent_action("ana", "ready")
        call = await sim.place_call("5550100001", patience=1000, variables={"CC_QUEUE": "general"})
        await until(
            lambda: any(e.kind == el.CALL_RECORDING and e.call_id == call.linkedid
                        for e in seen.events),
            10,
        )  # fmt: skip
        await call.done.wait()  # the WAV is complete once the call has ended
        base = f"http://127.0.0.1:{server.http_port}"

        async with open_page(base + "/quality") as (page, errors):
            await expect(page.locator("h1")).to_have_text("质检")
            await page.fill("#name", "quinn")
            await page.fill("#password", "quinn-password")
            await page.click("#login-btn")
            await expect(page.locator("#quality-view")).to_be_visible()
            row = page.locator(f'#recordings tr[data-call="{call.linkedid}"]')
            await expect(row.locator("td.agent")).to_have_text("ana")
            await expect(row.locator("td.queue")).to_have_text("general")
            await expect(row.locator("td.score")).to_have_text("未评分")

            # play it: the <audio> element loads the WAV from the API
            await row.locator("button.play").click()
            await expect(page.locator("#review")).to_be_visible()
            player = page.locator("#player")
            await expect(player).to_have_attribute("src", f"/api/recordings/{call.linkedid}/audio")
            # a function, not an expression: the page's CSP forbids the eval an expression needs
            await page.wait_for_function(
                "() => { const p = document.getElementById('player');"
                " return p.readyState >= 1 && p.duration > 0; }",
                timeout=10_000,
            )
            assert await player.evaluate("el => el.error") is None

            # score it: full points but for resolution (weight 3 of 8): 62.5%
            inputs = page.locator("#criteria input[data-criterion]")
            assert await inputs.count() == 5
            for i in range(await inputs.count()):
                box = inputs.nth(i)
                criterion = await box.get_attribute("data-criterion")
                await box.fill("0" if criterion == "resolution" else "5")
            await page.fill("#comment", "没有解决问题")
            await page.click("#score-btn")
            await expect(page.locator("#score-result")).to_contain_text("62.5%")
            await expect(row.locator("td.score")).to_have_text("62.5%")

            # English
            await page.select_option("#lang", "en")
            await expect(page.locator("h1")).to_have_text("Quality")
            await expect(page.locator("#score-btn")).to_have_text("Save score")
            await expect(page.locator("#criteria tbody tr").first).to_contain_text("Greeting")
            await expect(inputs.nth(0)).to_have_value("5")  # what was typed stays
            assert errors == []

        # the score is stored with who gave it, and shows in the agents report
        async with aiohttp.ClientSession(headers=ADMIN) as http:
            async with http.get(f"{base}/api/scores", params={"call_id": call.linkedid}) as r:
                scores = (await r.json())["scores"]
            assert [(s["score"], s["scored_by"], s["comment"]) for s in scores] == [
                (62.5, "quinn", "没有解决问题")
            ]
            span = {"from": str(time.time() - 3600), "to": str(time.time() + 3600)}
            async with http.get(f"{base}/api/reports/agents", params=span) as r:
                rows = (await r.json())["rows"]
            ana = next(r for r in rows if r["agent"] == "ana")
            assert (ana["quality_pct"], ana["quality_scores"]) == (62.5, 1)
