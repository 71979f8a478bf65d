"""Live Prometheus metrics of a hotline: counters, histograms, rolling service level."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import until


@pytest.fixture
def scenario_agents() -> list[dict[str, object]]:
    return [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 3}]


async def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_queue_and_ivr_metrics_follow_the_calls(hotline) -> None:
    served = await hotline.sim.place_call("5550100001", dtmf="11" + "1234")
    answered = await hotline.sim.place_call("5559990001", dtmf="10w")
    await hotline.finish(served)
    await hotline.finish(answered, timeout=20)
    # the tracker has seen both calls end (the IVR outcomes count then); the agent's
    # wrap-up (10 s simulated) is still running
    await until(lambda: all(hotline.events(c.uniqueid, "call.ended") for c in (served, answered)))
    m = await scrape(hotline.base)
    q = (("queue", "general"),)
    assert m[("ccserver_queue_calls_offered_total", q)] == 1
    assert m[("ccserver_queue_calls_answered_total", q)] == 1
    assert m[("ccserver_queue_calls_abandoned_total", q)] == 0
    assert m[("ccserver_queue_calls_offered_total", (("queue", "billing"),))] == 0
    waits = (("outcome", "answered"), ("queue", "general"))
    assert m[("ccserver_queue_wait_seconds_count", waits)] == 1
    assert m[("ccserver_queue_service_level", q)] == 1.0  # answered well within 20 s
    assert m[("ccserver_ivr_calls_total", (("outcome", "self_served"),))] == 1
    assert m[("ccserver_ivr_calls_total", (("outcome", "handoff"),))] == 1
    on = (("queue", "general"), ("state", "wrap_up"))
    off = (("queue", "general"), ("state", "logged_out"))
    assert (
        m[("ccserver_queue_agents", on)]
        + m[("ccserver_queue_agents", (("queue", "general"), ("state", "available")))]
        == 1
    )
    assert m[("ccserver_queue_agents", off)] == 3  # ben, chen, dana not logged in
    assert m[("ccserver_tickets_overdue", ())] == 0
    assert m[("ccserver_ivr_sessions_active", ())] == 0
