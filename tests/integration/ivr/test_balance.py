"""Balance inquiry over FastAGI, driven by the simulator's scripted callers.

Keys: "1" English, "1" balance, then the PIN; at "anything else?" the caller
presses nothing and is thanked and hung up (a self-served call).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest


async def test_known_caller_with_right_pin_hears_balance_and_due_date(hotline) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf="11" + "1234")
    await hotline.finish(call)
    ended = hotline.ended(call)
    assert ended["outcome"] == "self_served"
    assert ended["path"] == ["language", "outage", "main", "balance", "after_balance", "goodbye"]
    said = hotline.agi(call)
    # 4250 cents: "your balance is" 42 dollars 50 cents, due on 2026-12-15
    i = said.index('STREAM FILE cc-your-balance-is ""')
    assert said[i + 1 : i + 5] == [
        'SAY NUMBER 42 ""',
        'STREAM FILE cc-dollars ""',
        'SAY NUMBER 50 ""',
        'STREAM FILE cc-cents ""',
    ]
    noon = int(datetime(2026, 12, 15, 12, tzinfo=UTC).timestamp())
    assert said[i + 6] == f'SAY DATE {noon} ""'
    assert said[-1] == "HANGUP"
    assert call.record.outcome == "self_served"
    assert not hotline.sim.channels


async def test_debt_is_read_as_owed(hotline) -> None:
    call = await hotline.sim.place_call("5550100002", dtmf="11" + "2468")
    await hotline.finish(call)
    said = hotline.agi(call)
    i = said.index('STREAM FILE cc-you-owe ""')
    assert said[i + 1] == 'SAY NUMBER 19 ""' and said[i + 3] == 'SAY NUMBER 99 ""'


async def test_unknown_number_enters_account_by_dtmf(hotline) -> None:
    # account 10000005 has no phone on file: the caller types its 8 digits
    call = await hotline.sim.place_call("5557777777", dtmf="11" + "10000005" + "4321")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "self_served"
    assert not hotline.events(call.uniqueid, "ivr.pin_failed")
    assert 'SAY NUMBER 7 ""' in hotline.agi(call)  # 780 cents
    read = hotline.events(call.uniqueid, "ivr.balance_read")
    assert read[0].data["account"] == "10000005"


async def test_wrong_pin_three_times_goes_to_billing_agent_without_logging_the_pin(
    hotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    call = await hotline.sim.place_call("5550100001", dtmf="11" + "9876" + "5432" + "8765")
    await hotline.finish(call, timeout=15)
    fails = hotline.events(call.uniqueid, "ivr.pin_failed")
    assert [e.data["attempt"] for e in fails] == [1, 2, 3]
    assert hotline.ended(call)["outcome"] == "handoff"
    handoff = hotline.events(call.uniqueid, "ivr.handoff")[0].data
    assert handoff["queue"] == "billing"
    assert call.record.outcome == "answered" and call.record.agent == "1001"
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("ccserver", "cti", "ivr")
    )
    assert "wrong PIN for account *****001 (attempt 3 of 3" in ours
    assert "10000001" not in ours  # account numbers are masked in logs too
    for pin in ("9876", "5432", "8765"):
        assert pin not in ours
        assert all(pin not in str(e.data) for e in hotline.seen.events)
    keys = [e.data for e in hotline.events(call.uniqueid, "dtmf")]
    assert sum(1 for k in keys if k.get("private")) == 12  # the PIN keys, counted, not kept
    assert "5550100001" not in ours  # caller numbers are masked in logs


async def test_short_account_number_ended_by_hash(hotline) -> None:
    call = await hotline.sim.place_call("5557777777", dtmf="11" + "123#" + "10000005" + "4321")
    await hotline.finish(call)
    inputs = [
        e.data["status"]
        for e in hotline.events(call.uniqueid, "ivr.input")
        if e.data["node"] == "balance.account"
    ]
    assert inputs == ["invalid", "ok"]  # 123 is no account; then the right one
    assert hotline.ended(call)["outcome"] == "self_served"


async def test_unknown_account_three_times_goes_to_agent(hotline) -> None:
    call = await hotline.sim.place_call(
        "5557777777", dtmf="11" + "99999999" + "12345678" + "55555555"
    )
    await hotline.finish(call, timeout=15)
    assert hotline.events(call.uniqueid, "ivr.account_not_found")
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "billing"


async def test_hanging_up_while_the_balance_is_read_is_not_self_service(hotline) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf="11" + "1234" + "h")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "hangup"
    assert call.record.outcome == "hung_up_in_ivr"
