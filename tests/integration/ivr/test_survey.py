"""Post-call survey: the caller opts in before the queue and rates the agent after."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import until


@pytest.fixture
def scenario_agents() -> list[dict[str, object]]:
    return [{"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 5}]


async def test_opted_in_caller_rates_the_agent_after_the_call(hotline) -> None:
    # English, agent (0), "1" opts in to the survey; after the call, score 5
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "1" + "5")
    await hotline.finish(call, timeout=20)
    assert call.record.outcome == "answered"
    for _ in range(300):
        _, body = await hotline.api("GET", f"/api/surveys?call_id={call.uniqueid}")
        if body["surveys"]:
            break
        await asyncio.sleep(0.02)
    assert [(s["kind"], s["score"], s["agent_id"], s["queue"]) for s in body["surveys"]] == [
        ("call", 5, "ana", "general")
    ]
    assert hotline.events(call.uniqueid, "ivr.survey_opt_in")
    assert hotline.events(call.uniqueid, "survey.score")[0].data["score"] == 5


async def test_caller_who_did_not_opt_in_is_not_asked(hotline) -> None:
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "w")
    await hotline.finish(call, timeout=20)
    assert call.record.outcome == "answered"
    # the caller's line is gone: a survey, had one been taken, is stored by now
    await until(lambda: bool(hotline.events(call.uniqueid, "call.ended")))
    _, body = await hotline.api("GET", f"/api/surveys?call_id={call.uniqueid}")
    assert body["surveys"] == []
    assert not any("survey" in cmd for cmd in hotline.agi(call)[-3:])


async def test_garbage_score_is_retried_and_then_skipped(hotline) -> None:
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "1" + "9" + "0" + "7")
    await hotline.finish(call, timeout=20)
    for _ in range(300):
        if hotline.events(call.uniqueid, "survey.skipped"):
            break
        await asyncio.sleep(0.02)
    assert hotline.events(call.uniqueid, "survey.skipped")
    _, body = await hotline.api("GET", f"/api/surveys?call_id={call.uniqueid}")
    assert body["surveys"] == []


async def test_a_database_outage_ends_the_survey_call_with_one_line(
    hotline, records_away, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "1" + "5")
    await hotline.finish(call, timeout=20)
    assert call.record.outcome == "answered"  # the call itself was served
    await until(lambda: any(r.name == "ivr.followup" for r in caplog.records), timeout=10)
    said = [r.getMessage() for r in caplog.records if r.name == "ivr.followup"]
    assert len(said) == 1 and "self-service records unavailable" in said[0]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback
