"""The board's API on a whole hotline, over real HTTP: skills changed live, states forced.

Who may change an agent's skills (a supervisor of the agent's teams, an
admin), what is refused (levels outside 1-10, skill names nobody uses), the
audit and the event log of each change; a supervisor's forced not ready and
log out keep the reason code given (or ``supervisor``) and her name; the
queues carry their targets, and the live stream the day's figures.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from support import until

from contracts import eventlog as el

TOKEN = "ivr-test-token"  # the hotline fixture's admin system token
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


async def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base + path, json=body, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json()


async def login(base: str, name: str, password: str, role: str, **extra: Any) -> dict[str, str]:
    user = {"name": name, "password": password, "role": role, **extra}
    status, out = await call(base, "POST", "/api/users", user, ADMIN)
    assert status == 201, out
    body = {"name": name, "password": password, "bearer": True}
    status, out = await call(base, "POST", "/api/login", body)
    assert status == 200, out
    return {"Authorization": f"Bearer {out['token']}"}


async def test_skills_change_live_for_the_right_people(hotline) -> None:
    base = hotline.base
    ana = await login(base, "ana", "ana-password", "agent", agent_id="ana")
    sue = await login(base, "sue", "sue-password", "supervisor", teams=["faults"])
    quinn = await login(base, "quinn", "quinn-password", "quality")
    new = {"skills": {"general": 5, "billing": 9, "lang_en": 5}}

    # ana serves general and billing, not faults: not sue's; agents and quality may not
    for who in (ana, quinn):
        status, body = await call(base, "PUT", "/api/agents/ana/skills", new, who)
        assert status == 403, body
    status, body = await call(base, "PUT", "/api/agents/ana/skills", new, sue)
    assert status == 403 and "teams" in body["error"]

    # refused: a level out of range, a skill nobody uses, an unknown agent, extra fields
    for bad in ({"skills": {"tech": 11}}, {"skills": {"tech": 0}}, {"skills": {"plumbing": 3}},
                {"skills": {}, "extra": 1}):  # fmt: skip
        status, body = await call(base, "PUT", "/api/agents/dana/skills", bad, sue)
        assert status == 400, (bad, body)
    status, _ = await call(base, "PUT", "/api/agents/nobody/skills", new, ADMIN)
    assert status == 404
    assert hotline.server.orchestrator.engine.agents["dana"].skills == {"tech": 9, "lang_en": 5}

    # sue gives dana billing: she serves billing now, the engine routes by it at once
    status, body = await call(
        base, "PUT", "/api/agents/dana/skills", {"skills": {"tech": 9, "billing": 6}}, sue
    )
    assert status == 200, body
    assert body["skills"] == {"billing": 6, "tech": 9} and "billing" in body["queues"]
    assert [d["kind"] for d in body["decisions"]] == ["skills"]
    assert hotline.server.orchestrator.engine.agents["dana"].skills == {"tech": 9, "billing": 6}
    status, body = await call(base, "PUT", "/api/agents/ana/skills", new, ADMIN)
    assert status == 200 and body["skills"] == new["skills"]

    # the event log and the audit say who changed what
    await until(lambda: any(e.kind == el.ACD_SKILLS for e in hotline.seen.events))
    logged = [e.data for e in hotline.seen.events if e.kind == el.ACD_SKILLS]
    assert logged[0]["agent"] == "dana" and logged[0]["skills"] == {"billing": 6, "tech": 9}
    assert "by sue" in logged[0]["reason"]
    status, audit = await call(base, "GET", "/api/audit?actor=sue", headers=ADMIN)
    assert status == 200
    entry = audit["entries"][0]
    assert (entry["action"], entry["target"]) == ("change_skills", "dana")
    assert entry["detail"] == {"skills": {"tech": 9, "billing": 6}}

    # the route is in the API's description
    status, spec = await call(base, "GET", "/openapi.json")
    assert "put" in spec["paths"]["/api/agents/{agent_id}/skills"]


async def test_a_supervisor_forces_a_state_with_her_reason(hotline) -> None:
    base = hotline.base
    sue = await login(base, "sue", "sue-password", "supervisor", teams=["faults"])
    ana = await login(base, "ana", "ana-password", "agent", agent_id="ana")
    engine = hotline.server.orchestrator.engine

    status, _ = await call(base, "POST", "/api/agents/ben", {"action": "login"}, ADMIN)
    assert status == 200
    # no reason given: recorded as "supervisor", with her name in the decision
    status, body = await call(base, "POST", "/api/agents/ben", {"action": "not_ready"}, sue)
    assert status == 200 and (body["state"], body["reason"]) == ("not_ready", "supervisor")
    # a configured code is kept as given; an unknown one refused
    status, body = await call(base, "POST", "/api/agents/ben",
                              {"action": "not_ready", "reason": "training"}, sue)  # fmt: skip
    assert status == 200 and body["reason"] == "training"
    status, body = await call(base, "POST", "/api/agents/ben",
                              {"action": "not_ready", "reason": "nap"}, sue)  # fmt: skip
    assert status == 400
    status, body = await call(base, "POST", "/api/agents/ben", {"action": "logout"}, sue)
    assert status == 200 and (body["state"], body["reason"]) == ("logged_out", "supervisor")
    assert engine.agents["ben"].reason == "supervisor"
    await until(lambda: sum(e.kind == el.ACD_AGENT_STATE and e.data["agent"] == "ben"
                            for e in hotline.seen.events) >= 4)  # fmt: skip
    states = [
        e.data for e in hotline.seen.events
        if e.kind == el.ACD_AGENT_STATE and e.data["agent"] == "ben"
    ]  # fmt: skip
    assert [(s["state"], s["code"]) for s in states[1:]] == [
        ("not_ready", "supervisor"), ("not_ready", "training"), ("logged_out", "supervisor")
    ]  # fmt: skip
    assert all("(by sue)" in s["reason"] for s in states[1:])
    # an agent cannot give themselves the supervisor's code
    status, body = await call(base, "POST", "/api/agents/ana",
                              {"action": "not_ready", "reason": "supervisor"}, ana)  # fmt: skip
    assert status == 400
    # ana is not in sue's teams
    status, body = await call(base, "POST", "/api/agents/ana", {"action": "logout"}, sue)
    assert status == 403


async def test_the_queues_carry_targets_and_the_stream_the_days_figures(hotline) -> None:
    base = hotline.base
    status, body = await call(base, "GET", "/api/queues", headers=ADMIN)
    assert status == 200
    general = next(q for q in body["queues"] if q["name"] == "general")
    assert (general["sl_target"], general["sl_threshold_s"], general["max_wait_s"]) == (
        0.8, 20.0, 300.0
    )  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(base + "/api/stream", headers=ADMIN) as ws,
    ):
        hello = await ws.receive_json(timeout=5)
        queues = {q["name"]: q for q in hello["queues"]}
        assert queues["general"]["answered_today"] == 0
        await hotline.sim.place_call("5550100001", dtmf="10")  # answered by ana
        figures: dict[str, Any] = {}
        while figures.get("answered_today") != 1:
            msg = await ws.receive_json(timeout=15)
            if msg["type"] == "queues":
                figures = next(q for q in msg["queues"] if q["name"] == "general")
        assert figures["abandoned_today"] == 0
        assert figures["sl_30m"] == 1.0 and figures["sl_today"] == 1.0
