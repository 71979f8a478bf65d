"""Callback instead of waiting: the caller keeps their place, hangs up, is called back."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from support import until


async def test_long_wait_caller_is_called_back_and_connected_to_the_agent(hotline) -> None:
    orch = hotline.server.orchestrator
    orch.agent_action("ana", "not_ready", "break")  # nobody free: the wait is long
    assert orch.expected_wait("general") >= 120
    # English, agent; no survey (w); "1" takes the callback; "1" confirms the number
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "w" + "1" + "1")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "deflected"
    assert call.record.outcome == "deflected"
    offered = hotline.events(call.uniqueid, "ivr.callback_offered")[0].data
    assert offered["queue"] == "general" and offered["expected_wait_s"] >= 120
    assert call.uniqueid in orch.engine.calls  # the place is kept without a line
    counts = await hotline.server.records.callback_counts()
    assert counts == {("queue", "pending"): 1}

    orch.agent_action("ana", "ready")  # an agent is free: call the customer, then ring her
    await until(lambda: any(e.kind == "acd.connected" for e in hotline.events(call.uniqueid)))
    assert [(o["number"], o["exten"], o["answered"]) for o in hotline.sim.outbound] == [
        ("5550100003", "queue", True)
    ]
    connected = hotline.events(call.uniqueid, "acd.connected")[0].data
    assert connected["agent"] == "ana"
    await until(lambda: call.record.outcome == "answered" and call.record.agent == "1001")
    await until(lambda: not hotline.sim.channels, timeout=20)
    await until(lambda: call.uniqueid not in orch.engine.calls)


async def test_unanswered_callbacks_are_retried_then_given_up(hotline) -> None:
    orch = hotline.server.orchestrator
    orch.engine.settings = dataclasses.replace(
        orch.engine.settings, callback_retry_s=0.05, callback_attempts=2
    )
    orch.agent_action("ana", "not_ready", "break")
    hotline.sim.unanswered_numbers.add("5550100003")
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "w" + "1" + "1")
    await hotline.finish(call)
    orch.agent_action("ana", "ready")
    await until(lambda: bool(hotline.events(call.uniqueid, "acd.callback_failed")), timeout=20)
    assert len(hotline.events(call.uniqueid, "acd.callback_retry")) == 1
    assert [o["answered"] for o in hotline.sim.outbound] == [False, False]
    assert call.uniqueid not in orch.engine.calls
    assert orch.engine.agents["ana"].state.value == "available"


async def test_short_wait_offers_no_callback(hotline) -> None:
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "w")
    await hotline.finish(call)
    assert not hotline.events(call.uniqueid, "ivr.callback_offered")
    assert call.record.outcome == "answered"


def long_wait(hotline, action: str) -> Any:
    """Nobody free in ``general``, whose max wait (0.5 s) leads to ``action``."""
    orch = hotline.server.orchestrator
    general = orch.engine.queues["general"]
    orch.engine.queues["general"] = dataclasses.replace(
        general, max_wait_s=0.5, max_wait_action=action
    )
    orch.agent_action("ana", "not_ready", "break")
    return orch


async def test_max_wait_offers_a_callback_to_a_waiting_caller(hotline) -> None:
    orch = long_wait(hotline, "callback")
    # agent; no survey; no callback at the hand-off; then at max wait "1" and "1"
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "w" + "w" + "1" + "1")
    await until(lambda: bool(hotline.events(call.uniqueid, "ivr.callback_requested")), 20)
    await asyncio.wait_for(call.done.wait(), 10)
    assert call.record.outcome == "callback"
    assert hotline.events(call.uniqueid, "acd.max_wait")[0].data["action"] == "callback"
    assert call.uniqueid in orch.engine.calls  # still queued, without a line
    orch.agent_action("ana", "ready")
    await until(lambda: bool(hotline.events(call.uniqueid, "acd.connected")), 20)
    await until(lambda: call.record.outcome == "answered", 20)


async def test_max_wait_announcement_keeps_the_caller_in_the_queue(hotline) -> None:
    orch = long_wait(hotline, "announce")
    call = await hotline.sim.place_call("5550100003", dtmf="10" + "w" + "w")
    await until(lambda: bool(hotline.events(call.uniqueid, "ivr.announcement")), 20)
    assert 'STREAM FILE cc-still-waiting ""' in hotline.agi(call)
    orch.agent_action("ana", "ready")
    await asyncio.wait_for(call.done.wait(), 20)
    assert call.record.outcome == "answered"
