"""The HTTP account backend: a billing system that answers, and one that does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from ivr.accounts import check_pin, hash_pin


class Billing:
    """A fake billing system on 127.0.0.1 with one account; may be made slow."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.requests: list[str] = []
        self.pin_hash = hash_pin("2580")
        self.port = 0

    async def account(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        await asyncio.sleep(self.delay_s)
        if request.query.get("phone") == "5553332222":
            return web.json_response(
                {"number": "77000001", "name": "Remote", "balance_cents": 1234,
                 "currency": "USD", "due_date": "2027-01-05", "region": "west", "tier": "gold"}
            )  # fmt: skip
        return web.json_response({"error": "not found"}, status=404)

    async def verify(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        body = await request.json()
        return web.json_response({"ok": check_pin(body["pin"], self.pin_hash)})


@pytest.fixture
async def billing() -> AsyncIterator[Billing]:
    fake = Billing()
    app = web.Application()
    app.router.add_get("/accounts", fake.account)
    app.router.add_post("/accounts/{number}/verify-pin", fake.verify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = int(runner.addresses[0][1])
    yield fake
    await runner.cleanup()


@pytest.fixture
def ivr_overrides(billing: Billing) -> dict[str, Any]:
    return {
        "accounts": "http",
        "accounts_url": f"http://127.0.0.1:{billing.port}",
        "accounts_timeout_s": 0.3,
        "accounts_retries": 1,
    }


async def test_balance_from_the_billing_system(hotline, billing: Billing) -> None:
    call = await hotline.sim.place_call("5553332222", dtmf="11" + "2580")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "self_served"
    said = hotline.agi(call)
    assert 'SAY NUMBER 12 ""' in said and 'SAY NUMBER 34 ""' in said
    assert "/accounts/77000001/verify-pin" in billing.requests


async def test_billing_system_timing_out_sends_the_caller_to_an_agent(
    hotline, billing: Billing
) -> None:
    billing.delay_s = 2.0
    call = await hotline.sim.place_call("5553332222", dtmf="11")
    await hotline.finish(call, timeout=20)
    assert hotline.events(call.uniqueid, "ivr.backend_down")
    said = hotline.agi(call)
    assert 'STREAM FILE cc-service-unavailable ""' in said
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "billing"
    assert len([r for r in billing.requests if r.startswith("/accounts?")]) >= 2  # retried
    assert call.record.outcome == "answered"
