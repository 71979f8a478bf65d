"""Fault reports become tickets; closing one calls the customer back to confirm and rate."""

from __future__ import annotations

import asyncio


async def test_fault_report_creates_a_ticket_read_back_digit_by_digit(hotline) -> None:
    # English, report a fault, "slow broadband" (2), confirm the callback number (1)
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "2" + "1")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "self_served"
    assert call.record.outcome == "self_served"
    created = hotline.events(call.uniqueid, "ticket.created")[0].data
    status, ticket = await hotline.api("GET", f"/api/tickets/{created['ticket_id']}")
    assert status == 200
    assert ticket["call_id"] == call.uniqueid
    assert ticket["category"] == "slow_broadband" and ticket["status"] == "open"
    assert ticket["callback_number"] == "5550100001"
    assert ticket["due_at"] - ticket["created_at"] == 48 * 3600
    said = hotline.agi(call)
    assert 'SAY DIGITS 5550100001 ""' in said  # the callback number, to confirm
    assert f'SAY DIGITS {ticket["number"]} ""' in said
    assert said[said.index(f'SAY DIGITS {ticket["number"]} ""') + 2] == 'SAY NUMBER 48 ""'


async def test_another_callback_number_can_be_entered(hotline) -> None:
    # category 1, "2" to change the number, then the new number ended by #
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "1" + "2" + "5559876543#" + "1")
    await hotline.finish(call)
    created = hotline.events(call.uniqueid, "ticket.created")[0].data
    _, ticket = await hotline.api("GET", f"/api/tickets/{created['ticket_id']}")
    assert ticket["callback_number"] == "5559876543" and ticket["category"] == "no_signal"


async def test_no_category_chosen_goes_to_the_faults_queue(hotline) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "9" + "w" + "8")
    await hotline.left_ivr(call, timeout=15)
    assert not hotline.events(call.uniqueid, "ticket.created")
    assert hotline.events(call.uniqueid, "ivr.handoff")[0].data["queue"] == "faults"
    statuses = [e.data["status"] for e in hotline.events(call.uniqueid, "ivr.input")]
    assert statuses[-3:] == ["invalid", "timeout", "invalid"]


async def test_closing_a_ticket_calls_back_to_confirm_and_rate(hotline) -> None:
    call = await hotline.sim.place_call("5550100002", dtmf="12" + "3" + "1")
    await hotline.finish(call)
    ticket_id = hotline.events(call.uniqueid, "ticket.created")[0].data["ticket_id"]
    # the customer will answer, say it is fixed (1) and rate the repair 4
    hotline.sim.customer_dtmf["5550100002"] = "14"
    status, closed = await hotline.api(
        "POST", f"/api/tickets/{ticket_id}/close", {"resolution": "replaced the fuse"}
    )
    assert status == 200 and closed["status"] == "closed"
    assert closed["callback_status"] in ("pending", "calling")

    async def ticket() -> dict:
        return (await hotline.api("GET", f"/api/tickets/{ticket_id}"))[1]

    for _ in range(500):
        if (await ticket())["callback_status"] == "confirmed":
            break
        await asyncio.sleep(0.02)
    final = await ticket()
    assert final["callback_status"] == "confirmed" and final["rating"] == 4
    assert final["status"] == "closed"
    _, surveys = await hotline.api("GET", f"/api/surveys?call_id={call.uniqueid}")
    assert [(s["kind"], s["score"], s["ticket_id"]) for s in surveys["surveys"]] == [
        ("repair", 4, ticket_id)
    ]
    assert [o["number"] for o in hotline.sim.outbound] == ["5550100002"]
    # closing it again is refused: it is not open (a conflict; an unknown ticket is a 404)
    status, body = await hotline.api("POST", f"/api/tickets/{ticket_id}/close", {"resolution": "x"})
    assert status == 409 and body["error"] == "the ticket is not open"
    status, body = await hotline.api("POST", "/api/tickets/999999/close", {"resolution": "x"})
    assert status == 404 and body["error"] == "no such ticket"


async def test_repair_not_holding_reopens_the_ticket(hotline) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "1" + "1")
    await hotline.finish(call)
    ticket_id = hotline.events(call.uniqueid, "ticket.created")[0].data["ticket_id"]
    hotline.sim.customer_dtmf["5550100001"] = "2"
    await hotline.api("POST", f"/api/tickets/{ticket_id}/close", {"resolution": "reset"})
    await until_ticket(hotline, ticket_id, "not_fixed")
    _, final = await hotline.api("GET", f"/api/tickets/{ticket_id}")
    assert final["status"] == "open" and final["rating"] is None


async def test_unreachable_customer_is_retried_then_marked_unreached(hotline) -> None:
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "1" + "1")
    await hotline.finish(call)
    ticket_id = hotline.events(call.uniqueid, "ticket.created")[0].data["ticket_id"]
    hotline.sim.unanswered_numbers.add("5550100001")
    await hotline.api("POST", f"/api/tickets/{ticket_id}/close", {"resolution": "reset"})
    await until_ticket(hotline, ticket_id, "unreached")
    attempts = [o for o in hotline.sim.outbound if o["number"] == "5550100001"]
    assert len(attempts) == 2 and not any(o["answered"] for o in attempts)  # 2 attempts set


async def test_ticket_api_validates_input(hotline) -> None:
    status, body = await hotline.api("POST", "/api/tickets/1/close", {"resolution": ""})
    assert status == 400 and "body.resolution" in body["error"]
    assert body["details"] == [
        {"field": "body.resolution", "problem": "String should have at least 1 character"}
    ]
    status, _ = await hotline.api("GET", "/api/tickets/abc")
    assert status == 404
    status, _ = await hotline.api("GET", f"/api/tickets/{2**31}")  # beyond a row id: not a 500
    assert status == 404
    status, body = await hotline.api("GET", "/api/tickets?status=weird")
    assert status == 400 and "query.status" in body["error"]


async def until_ticket(hotline, ticket_id: int, callback_status: str) -> None:
    latest: dict = {}

    async def poll() -> None:
        nonlocal latest
        latest = (await hotline.api("GET", f"/api/tickets/{ticket_id}"))[1]

    for _ in range(500):
        await poll()
        if latest["callback_status"] == callback_status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"ticket callback stayed {latest['callback_status']}")


async def test_hanging_up_after_the_ticket_is_read_back_is_self_service(hotline) -> None:
    # the ticket is filed; the caller hangs up while its number is read back
    call = await hotline.sim.place_call("5550100001", dtmf="12" + "2" + "1" + "h")
    await hotline.finish(call)
    assert hotline.ended(call)["outcome"] == "self_served"
    assert call.record.outcome == "self_served"
    assert "HANGUP" not in hotline.agi(call)  # the caller hung up, not the IVR
