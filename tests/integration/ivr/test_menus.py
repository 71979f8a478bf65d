"""Menu behaviour: retries, garbage keys, silence, hang-ups, missing prompts, language."""

from __future__ import annotations

import pytest


async def test_silence_everywhere_ends_at_an_agent_never_in_silence(hotline) -> None:
    call = await hotline.sim.place_call("5551110001", dtmf="")
    await hotline.finish(call, timeout=15)
    inputs = [
        (e.data["node"], e.data["status"]) for e in hotline.events(call.uniqueid, "ivr.input")
    ]
    # language: 3 tries, then on to the main menu in English; main: 3 tries, then the queue
    assert inputs == [("language", "timeout")] * 3 + [("main", "timeout")] * 3
    assert hotline.events(call.uniqueid, "ivr.retries_exhausted")
    said = hotline.agi(call)
    assert said.count('STREAM FILE cc-invalid "0123456789*#"') == 4  # the retry prompt
    handoff = hotline.events(call.uniqueid, "ivr.handoff")[0].data
    assert handoff["queue"] == "general"
    assert call.record.outcome == "answered"


async def test_garbage_keys_are_retried_then_understood(hotline) -> None:
    # language "7" (not on the menu), then "*", then "1"; main menu "#" then "0"
    call = await hotline.sim.place_call("5551110002", dtmf="7*1#0")
    await hotline.finish(call)
    inputs = [
        (e.data["node"], e.data["status"], e.data["key"])
        for e in hotline.events(call.uniqueid, "ivr.input")
    ]
    assert inputs == [
        ("language", "invalid", "7"),
        ("language", "invalid", "*"),
        ("language", "ok", "1"),
        ("main", "invalid", ""),  # "#" alone ends the input empty
        ("main", "ok", "0"),
    ]
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "general"


@pytest.mark.parametrize("script", ["h", "1h", "11h", "111h", "112h"])
async def test_caller_hanging_up_mid_menu_leaves_nothing_open(hotline, script: str) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf=script)
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "hangup"
    assert call.record.outcome == "hung_up_in_ivr"
    assert hotline.server.agi is not None and hotline.server.agi.active == 0
    assert not hotline.sim.channels
    # nothing is sent on the dead channel but the NOOP that found it dead
    said = hotline.agi(call)
    assert said[-1] in ("NOOP",) or said[-1].startswith(("GET DATA", "STREAM FILE"))


async def test_spanish_caller_is_routed_with_the_language_skill(hotline) -> None:
    call = await hotline.sim.place_call("5551110003", dtmf="20")
    await hotline.finish(call)
    said = hotline.agi(call)
    assert 'SET VARIABLE CHANNEL(language) "es"' in said
    handoff = hotline.events(call.uniqueid, "ivr.handoff")[0].data
    assert handoff["skills"] == {"general": 1, "lang_es": 1}
    assert 'SET VARIABLE CC_SKILLS "general:1,lang_es:1"' in said
    offer = hotline.events(call.uniqueid, "acd.offer")[0]
    assert offer.data["agent"] == "ana"  # the one ready agent who speaks Spanish


async def test_missing_prompt_is_reported_and_the_caller_still_served(hotline) -> None:
    hotline.sim.scenario.missing_prompts.append("cc-main-menu")
    call = await hotline.sim.place_call("5551110004", dtmf="10")
    await hotline.finish(call)
    missing = hotline.events(call.uniqueid, "ivr.prompt_missing")
    assert [e.data["prompt"] for e in missing] == ["cc-main-menu"]
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "general"
