"""Known outages: the notice before the menu, callbacks instead of waiting, counted."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest


async def declare(hotline, **body) -> dict:
    status, outage = await hotline.api("POST", "/api/outages", body)
    assert status == 201, outage
    return outage


async def test_caller_in_the_area_hears_the_notice_and_takes_a_callback(hotline) -> None:
    fix = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
    outage = await declare(
        hotline,
        regions=["north"],
        message="Fibre cut in the north",
        expected_fix_at=fix.isoformat(),
    )
    # 5550100001's account is in the north: English, "1" for a callback, "1" confirms the number
    call = await hotline.sim.place_call("5550100001", dtmf="1" + "1" + "1")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "deflected"
    assert call.record.outcome == "deflected"
    said = hotline.agi(call)
    assert 'STREAM FILE cc-outage-known "0123456789*#"' in said or (
        'STREAM FILE cc-outage-known ""' in said
    )
    assert any(c.startswith(f"SAY DATETIME {int(fix.timestamp())} ") for c in said)
    _, listed = await hotline.api("GET", "/api/outages?active=1")
    assert [(o["id"], o["deflected"]) for o in listed["outages"]] == [(outage["id"], 1)]

    # fixed: everyone who asked is called back and told
    status, resolved = await hotline.api("POST", f"/api/outages/{outage['id']}/resolve")
    assert status == 200 and resolved["resolved_at"] is not None
    status, again = await hotline.api("POST", f"/api/outages/{outage['id']}/resolve")
    assert status == 409 and again["error"] == "the outage is already resolved"
    for _ in range(500):
        if any(o.get("answered") for o in hotline.sim.outbound):
            break
        await asyncio.sleep(0.02)
    assert [(o["number"], o["exten"], o["answered"]) for o in hotline.sim.outbound] == [
        ("5550100001", "outage", True)
    ]
    counts = await hotline.server.records.callback_counts()
    for _ in range(200):
        if counts.get(("outage", "done")) == 1:
            break
        await asyncio.sleep(0.02)
        counts = await hotline.server.records.callback_counts()
    assert counts == {("outage", "done"): 1}
    _, after = await hotline.api("GET", "/api/outages?active=1")
    assert after["outages"] == []


async def test_caller_may_carry_on_to_the_menu(hotline) -> None:
    await declare(hotline, number_prefixes=["555011"], message="Power cut")
    call = await hotline.sim.place_call("5550111111", dtmf="1" + "w" + "0")
    await hotline.finish(call)
    assert hotline.events(call.uniqueid, "ivr.outage_notice")
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "general"


async def test_callers_outside_the_area_hear_nothing(hotline) -> None:
    await declare(hotline, regions=["south"], number_prefixes=["999"], message="South only")
    call = await hotline.sim.place_call("5550100001", dtmf="10")
    await hotline.finish(call)
    assert not hotline.events(call.uniqueid, "ivr.outage_notice")


async def test_outage_api_validates_input(hotline) -> None:
    status, body = await hotline.api("POST", "/api/outages", {"message": "x"})
    assert status == 400 and "regions or number_prefixes" in body["error"]
    status, body = await hotline.api(
        "POST", "/api/outages", {"regions": ["n"], "message": "x", "bogus": 1}
    )
    assert status == 400 and "bogus" in body["error"]
    status, body = await hotline.api("POST", "/api/outages/99/resolve")
    assert status == 404 and body["error"] == "no such outage"
    status, body = await hotline.api("GET", "/api/outages?active=maybe")
    assert status == 400 and "query.active" in body["error"]


async def test_a_database_outage_skips_the_notice_not_the_caller(
    hotline, records_away, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    call = await hotline.sim.place_call("5550100001", dtmf="10")  # in the north
    await hotline.finish(call)
    assert not hotline.events(call.uniqueid, "ivr.outage_notice")
    assert not hotline.events(call.uniqueid, "ivr.error")
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "general"
    said = [r for r in caplog.records if r.name.startswith("ivr")]
    assert [r.getMessage().split(" (")[0] for r in said] == [
        f"IVR call {call.uniqueid}: no outage notice, the records are unavailable"
    ]
    assert all(r.exc_info is None for r in caplog.records)  # one line, no traceback


async def test_the_api_answers_503_while_the_database_is_away(
    hotline, records_away, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    status, body = await hotline.api("GET", "/api/outages")
    assert status == 503
    assert body == {"error": "the database is unavailable; try again shortly"}
    assert [
        r.getMessage().split(" (")[0] for r in caplog.records if r.name == "ccserver.api.errors"
    ] == ["GET /api/outages: the database is unavailable"]
    assert all(r.exc_info is None for r in caplog.records)
