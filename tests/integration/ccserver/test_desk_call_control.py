"""The agent desktop's call control over real TCP: the simulator's phones, AMI, HTTP.

Hold and resume go to the agent's phone (PJSIPNotify) and are confirmed by Asterisk's
Hold / Unhold; blind transfers (to a colleague, to a queue) and attended ones (cancelled,
then completed) leave the ACD right and nobody stuck; notes, the disposition and a ticket
reach the event log and the call report; an agent acting on someone else's call is
refused; the callbacks due to an agent are theirs.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from support import until

from ccserver.reporting.source import ReportRequest, build_report
from contracts import eventlog as el
from ivr.visit import QueueCallback

TOKEN = "ivr-test-token"  # the hotline fixture's admin system token
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CALLER = "5550177001"


@pytest.fixture
def scenario_agents() -> list[dict[str, Any]]:
    # every softphone answers at once and never ends a call itself: the test does
    return [
        {"extension": e, "answer_delay_s": 1, "talk_mean_s": 1_000_000}
        for e in ("1001", "1002", "1003", "1004")
    ]


async def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base + path, json=body, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json()


async def login(base: str, name: str, role: str, **extra: Any) -> dict[str, str]:
    user = {"name": name, "password": f"{name}-password", "role": role, **extra}
    status, out = await call(base, "POST", "/api/users", user, ADMIN)
    assert status == 201, out
    body = {"name": name, "password": f"{name}-password", "bearer": True}
    status, out = await call(base, "POST", "/api/login", body)
    assert status == 200, out
    return {"Authorization": f"Bearer {out['token']}"}


def ready(hotline: Any, *agents: str) -> None:
    orch = hotline.server.orchestrator
    for agent in agents:
        if orch.engine.agents[agent].state.value == "logged_out":
            orch.agent_action(agent, "login")
        orch.agent_action(agent, "ready")


async def wrapped_up(hotline: Any, agent: str, headers: dict[str, str]) -> None:
    """The agent's wrap-up (ccserver's clock: real seconds here) ended from the desk."""
    engine = hotline.server.orchestrator.engine
    await until(lambda: engine.agents[agent].state.value == "wrap_up", 10)
    assert engine.agents[agent].call_id is None
    status, body = await call(hotline.base, "POST", f"/api/agents/{agent}/wrap_up", {}, headers)
    assert status == 200 and body["state"] == "available", body


async def answered_by(hotline: Any, agent: str) -> str:
    """The call the agent talks on, once their phone answered it."""
    engine = hotline.server.orchestrator.engine
    await until(lambda: engine.agents[agent].state.value == "on_call", 10)
    call_id = engine.agents[agent].call_id
    assert call_id is not None
    return str(call_id)


async def test_hold_notes_disposition_and_a_ticket_from_the_desk(hotline: Any) -> None:
    base, sim, server = hotline.base, hotline.sim, hotline.server
    ana = await login(base, "ana", "agent", agent_id="ana")
    ben = await login(base, "ben", "agent", agent_id="ben")
    sue = await login(base, "sue", "supervisor", teams=["faults"])
    caller = await sim.place_call(CALLER, dtmf="10")  # English, an agent
    call_id = await answered_by(hotline, "ana")

    # someone else's call: another agent, a supervisor of other teams
    for who in (ben, sue):
        status, body = await call(base, "POST", "/api/agents/ana/call/hold", None, who)
        assert status == 403, body
        status, body = await call(base, "POST", "/api/agents/ana/call/notes", {"text": "x"}, who)
        assert status == 403, body
    status, body = await call(base, "POST", "/api/agents/ben/call/hold", None, ana)
    assert status == 403, body
    status, body = await call(base, "POST", "/api/agents/nobody/call/hold", None, ADMIN)
    assert status == 404, body

    # hold: the phone holds (its Hold event), the desk's answer says so, then resume
    status, body = await call(base, "POST", "/api/agents/ana/call/hold", None, ana)
    assert status == 200 and body == {"call_id": call_id, "held": True, "confirmed": True}, body
    phone_leg = sim.phones["1001"].channel
    assert phone_leg is not None and phone_leg.held_at is not None
    status, body = await call(base, "GET", "/api/agents/ana/call", None, ana)
    assert status == 200 and body["held"] and body["channel"] == phone_leg.name
    await sim.sleep(5)
    status, body = await call(base, "POST", "/api/agents/ana/call/resume", None, ana)
    assert status == 200 and body["held"] is False and body["confirmed"], body
    assert phone_leg.held_at is None

    status, body = await call(base, "POST", "/api/agents/ana/call/notes", {"text": "bill"}, ana)
    assert status == 200 and body["call_id"] == call_id
    status, ticket = await call(
        base, "POST", "/api/tickets", {"category": "billing", "note": "refund"}, ana
    )
    assert status == 201 and ticket["call_id"] == call_id and ticket["caller"] == CALLER, ticket
    status, body = await call(base, "PATCH", f"/api/tickets/{ticket['number']}", {"note": "x"}, ben)
    assert status == 403, body  # ben serves no caller of this ticket
    status, body = await call(
        base, "PATCH", f"/api/tickets/{ticket['number']}", {"close": True}, ana
    )
    assert status == 400, body  # closing needs a resolution
    status, body = await call(
        base,
        "PATCH",
        f"/api/tickets/{ticket['number']}",
        {"close": True, "resolution": "refunded"},
        ana,
    )
    assert status == 200 and body["status"] == "closed", body

    # the caller hangs up: wrap-up; a code not configured is refused, a good one filed
    await sim.hangup_channel(caller.channel)
    engine = server.orchestrator.engine
    await until(lambda: engine.agents["ana"].state.value == "wrap_up", 10)
    status, body = await call(base, "POST", "/api/agents/ana/wrap_up", {"code": "bogus"}, ana)
    assert status == 400 and "resolved" in body["error"], body
    # a queue that wants a code: wrap-up does not end without one
    (general,) = [q for q in server.orchestrator.model.queues if q.name == "general"]
    general.disposition_required = True
    status, body = await call(base, "GET", "/api/agents/ana/call", None, ana)
    assert body["disposition_required"] and body["last_call_id"] == call_id, body
    status, body = await call(base, "POST", "/api/agents/ana/wrap_up", {}, ana)
    assert status == 400 and "needs a disposition code" in body["error"], body
    # nor by the plain state actions (an older client, the phone's own ready key)
    for action in ("end_wrap_up", "ready"):
        status, body = await call(base, "POST", "/api/agents/ana", {"action": action}, ana)
        assert status == 409 and "needs a disposition code" in body["error"], body
    assert engine.agents["ana"].state.value == "wrap_up"
    # the code filed first, then wrap-up ended on its own
    status, body = await call(
        base,
        "POST",
        "/api/agents/ana/wrap_up",
        {"code": "resolved", "text": "paid", "end": False},
        ana,
    )
    assert status == 200 and body["call_id"] == call_id and body["state"] == "wrap_up", body
    status, body = await call(base, "POST", "/api/agents/ana/wrap_up", {}, ana)
    assert status == 200 and body["state"] == "available", body
    status, body = await call(base, "POST", "/api/agents/ana/call/hold", None, ana)
    assert status == 409, body  # no call to hold now

    await server.writer.flush()
    store = create_async_engine(server.settings.store.url)
    times = [e.at for e in hotline.events(call_id)]
    request = ReportRequest("calls", min(times) - 60, max(times) + 3600)
    rows = await build_report(store, request, lambda _q: 20.0)
    await store.dispose()
    (row,) = [r for r in rows if r["call_id"] == call_id]
    # this hotline's events carry ccserver's clock: simulated seconds times the time scale
    held = caller.record.hold_s * sim.time_scale
    assert row["hold_s"] == pytest.approx(held, abs=0.03) and row["hold_s"] > 0
    assert row["disposition_code"] == "resolved" and row["notes"] == ["bill"]
    assert row["ticket"] == ticket["number"] and row["agent"] == "ana"
    kinds = [e.kind for e in hotline.events(call_id)]
    assert kinds.count(el.CALL_CONTROL) == 2 and el.TICKET_NOTE in kinds


async def test_blind_transfers_to_a_colleague_and_to_a_queue(hotline: Any) -> None:
    base, sim, server = hotline.base, hotline.sim, hotline.server
    engine = server.orchestrator.engine
    ana = await login(base, "ana", "agent", agent_id="ana")
    ben = await login(base, "ben", "agent", agent_id="ben")
    first = await sim.place_call(CALLER, dtmf="10")
    call_id = await answered_by(hotline, "ana")

    # to ben, who is not ready yet: refused; ready: his phone rings, he has the call
    body = {"kind": "blind", "agent": "ben"}
    status, out = await call(base, "POST", "/api/agents/ana/call/transfer", body, ana)
    assert status == 409 and "ben" in out["error"], out
    ready(hotline, "ben")
    status, out = await call(base, "POST", "/api/agents/ana/call/transfer", body, ana)
    assert status == 200 and out["exten"] == "1002" and out["call_id"] == call_id, out
    await until(lambda: engine.agents["ben"].call_id == call_id, 10)
    assert engine.agents["ben"].state.value == "on_call"
    assert [t["kind"] for t in first.record.transfers] == ["blind"]
    await wrapped_up(hotline, "ana", ana)

    # ben sends the caller to billing (ana's queue, not his): the ACD queues and offers it
    body = {"kind": "blind", "queue": "billing"}
    status, out = await call(base, "POST", "/api/agents/ben/call/transfer", body, ben)
    assert status == 200 and out["exten"] == "queue-billing", out
    await until(lambda: engine.agents["ana"].call_id == call_id, 10)
    await until(lambda: engine.agents["ana"].state.value == "on_call", 10)
    await wrapped_up(hotline, "ben", ben)
    transferred = [e.data for e in hotline.events(call_id, el.ACD_QUEUED)]
    assert [d["queue"] for d in transferred][-1] == "billing"

    # an unknown queue, a body naming both or neither target: refused before Asterisk
    for bad in ({"kind": "blind", "queue": "nowhere"}, {"kind": "blind"},
                {"kind": "blind", "agent": "ben", "queue": "billing"}):  # fmt: skip
        status, out = await call(base, "POST", "/api/agents/ana/call/transfer", bad, ana)
        assert status in (400, 404), (bad, out)

    await sim.hangup_channel(first.channel)
    await until(first.done.is_set, 10)
    await until(lambda: call_id not in engine.calls, 10)
    await wrapped_up(hotline, "ana", ana)
    assert engine.agents["ben"].state.value == "available"
    assert first.record.agent == "1001" and len(first.record.transfers) == 2


async def test_attended_transfer_cancelled_then_completed(hotline: Any) -> None:
    base, sim, server = hotline.base, hotline.sim, hotline.server
    engine = server.orchestrator.engine
    ana = await login(base, "ana", "agent", agent_id="ana")
    caller = await sim.place_call(CALLER, dtmf="10")
    call_id = await answered_by(hotline, "ana")
    ready(hotline, "chen")
    path = "/api/agents/ana/call/"

    status, out = await call(base, "POST", path + "complete_transfer", None, ana)
    assert status == 409, out  # no consult yet
    status, out = await call(
        base, "POST", path + "transfer", {"kind": "attended", "queue": "billing"}, ana
    )
    assert status == 400, out  # a consult goes to a colleague

    async def consult_answered() -> None:
        async def answered() -> bool:
            _, body = await call(base, "GET", "/api/agents/ana/call", None, ana)
            return bool(body["consult"] and body["consult"]["answered"] and body["held"])

        for _ in range(200):
            if await answered():
                return
            await sim.sleep(0.5)
        raise AssertionError("the consult call was not answered")

    # consult chen, then cancel: ana is back with the caller, chen free again
    body = {"kind": "attended", "agent": "chen"}
    status, out = await call(base, "POST", path + "transfer", body, ana)
    assert status == 200 and out["kind"] == "attended" and out["exten"] == "1003", out
    await consult_answered()
    assert engine.agents["ana"].call_id == call_id  # the caller is still ana's
    status, out = await call(base, "POST", path + "cancel_transfer", None, ana)
    assert status == 200, out
    await until(lambda: sim.phones["1003"].channel is None, 10)
    status, out = await call(base, "GET", "/api/agents/ana/call", None, ana)
    assert out["consult"] is None and out["call_id"] == call_id
    await until(
        lambda: (
            sim.phones["1001"].channel is not None and sim.phones["1001"].channel.held_at is None
        ),
        10,
    )  # type: ignore[union-attr]
    assert (
        engine.agents["chen"].state.value == "available" and engine.agents["chen"].call_id is None
    )

    # consult again and complete: chen has the caller, ana wraps up
    await until(lambda: engine.agents["chen"].routable, 10)
    status, out = await call(base, "POST", path + "transfer", body, ana)
    assert status == 200, out
    await consult_answered()
    status, out = await call(base, "POST", path + "complete_transfer", None, ana)
    assert status == 200 and out["target"] == "chen", out
    await until(lambda: engine.agents["chen"].call_id == call_id, 10)
    assert engine.agents["chen"].state.value == "on_call"
    await wrapped_up(hotline, "ana", ana)
    assert not caller.done.is_set() and caller.record.agent == "1003"
    moved = [e.data for e in hotline.events(call_id, el.CALL_TRANSFERRED)]
    assert [m["kind"] for m in moved] == ["attended"]

    await sim.hangup_channel(caller.channel)
    await until(caller.done.is_set, 10)
    await until(lambda: call_id not in engine.calls, 10)
    server.orchestrator.agent_action("chen", "end_wrap_up")
    assert engine.agents["chen"].state.value == "available"
    assert engine.agents["chen"].calls_handled == 1 and engine.agents["ana"].calls_handled == 1


async def test_the_callbacks_due_to_an_agent(hotline: Any) -> None:
    base, server = hotline.base, hotline.server
    ana = await login(base, "ana", "agent", agent_id="ana")
    ben = await login(base, "ben", "agent", agent_id="ben")
    # faults is ben's (tech), not ana's; nobody who serves it is signed in
    asked = QueueCallback("cb-1", "5550144002", "faults", {}, 0.0, False)
    assert server.orchestrator.request_callback(asked)
    status, body = await call(base, "GET", "/api/agents/ben/callbacks", None, ben)
    assert status == 200, body
    (item,) = body["callbacks"]
    assert item["number"] == "5550144002" and item["queue"] == "faults"
    assert item["state"] == "waiting" and item["call_id"] == "cb-1"
    status, body = await call(base, "GET", "/api/agents/ana/callbacks", None, ana)
    assert status == 200 and body["callbacks"] == []
    status, body = await call(base, "GET", "/api/agents/ben/callbacks", None, ana)
    assert status == 403, body


async def test_a_phone_that_ignores_the_hold_request_is_reported(hotline: Any) -> None:
    base, sim = hotline.base, hotline.sim
    ana = await login(base, "ana", "agent", agent_id="ana")
    sim.phones["1001"].script.remote_control = False  # a phone without Broadsoft remote control
    caller = await sim.place_call(CALLER, dtmf="10")
    call_id = await answered_by(hotline, "ana")
    status, body = await call(base, "POST", "/api/agents/ana/call/hold", None, ana)
    # no Hold event came: not held, and the desk tells the agent to use the phone's key
    assert status == 200 and body == {"call_id": call_id, "held": False, "confirmed": False}
    assert sim.phones["1001"].channel is not None
    assert sim.phones["1001"].channel.held_at is None and caller.record.hold_s == 0
