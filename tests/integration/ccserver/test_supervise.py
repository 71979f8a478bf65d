"""Listen, whisper and barge over real TCP: ccserver's API, its AMI client, the simulator.

A supervisor of the agent's team asks to whisper, then to barge: Asterisk (the
simulator) is asked to ring her own phone into ChanSpy on the agent's channel with
the options of the mode, and ChanSpy ends when the spied-on call does. An agent, a
quality user and a supervisor of another team are refused; the start is audited.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from support import until

ADMIN = {"Authorization": "Bearer ivr-test-token"}  # the hotline fixture's admin token


async def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base + path, json=body, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json(), resp


async def bearer(base: str, name: str, password: str) -> dict[str, str]:
    body = {"name": name, "password": password, "bearer": True}
    status, out, _ = await call(base, "POST", "/api/login", body)
    assert status == 200, out
    return {"Authorization": f"Bearer {out['token']}"}


AGENTS = [
    {"extension": "1001", "answer_delay_s": 1, "talk_mean_s": 1_000_000},  # ana talks on
    {"extension": "1002", "registered": False},
    {"extension": "1003", "registered": False},
    {"extension": "1004", "registered": False},
    {"extension": "1009", "answer_delay_s": 1},  # sue's own phone (no agent on it)
]


@pytest.fixture
def scenario_agents() -> list[dict[str, Any]]:
    return AGENTS


async def test_whisper_and_barge_from_the_supervisors_phone(hotline) -> None:
    base, sim = hotline.base, hotline.sim
    engine = hotline.server.orchestrator.engine
    for user in (
        {"name": "ana", "password": "ana-password", "role": "agent", "agent_id": "ana"},
        {"name": "sue", "password": "sue-password", "role": "supervisor", "teams": ["general"]},
        {"name": "sam", "password": "sam-password", "role": "supervisor", "teams": ["faults"],
         "phone": "1008"},
        {"name": "quinn", "password": "quinn-password", "role": "quality"},
    ):  # fmt: skip
        status, body, _ = await call(base, "POST", "/api/users", user, ADMIN)
        assert status == 201, body
    ana = await bearer(base, "ana", "ana-password")
    sue = await bearer(base, "sue", "sue-password")
    sam = await bearer(base, "sam", "sam-password")
    quinn = await bearer(base, "quinn", "quinn-password")

    caller = await sim.place_call("5550100001", dtmf="10")  # English, an agent: ana
    await until(lambda: engine.agents["ana"].state.value == "on_call", 10)
    call_id = engine.agents["ana"].call_id
    assert call_id is not None
    spy = f"/api/calls/{call_id}/spy"

    # the rights: the agent herself, quality, another team's supervisor
    for who, why in ((ana, "agent"), (quinn, "quality")):
        status, body, _ = await call(base, "POST", spy, {"mode": "listen"}, who)
        assert status == 403 and why in body["error"], body
    status, body, _ = await call(base, "POST", spy, {"mode": "listen"}, sam)
    assert status == 403 and "teams" in body["error"], body
    # sue has no phone yet: nothing to ring
    status, body, _ = await call(base, "POST", spy, {"mode": "listen"}, sue)
    assert status == 409 and "phone" in body["error"], body
    status, me, _ = await call(base, "PATCH", "/api/me", {"phone": "1009"}, sue)
    assert status == 200 and me["phone"] == "1009" and me["language"] == "zh-CN"
    status, body, _ = await call(base, "POST", "/api/calls/nosuchcall/spy", {"mode": "listen"}, sue)
    assert status == 404
    status, body, _ = await call(base, "POST", spy, {"mode": "shout"}, sue)
    assert status == 400
    assert sim.spies == []  # nothing refused reached Asterisk

    # whisper: ChanSpy on ana's own channel, quiet, ends with the call, talks to her
    status, body, _ = await call(base, "POST", spy, {"mode": "whisper"}, sue)
    assert status == 202, body
    agent_leg = sim.phones["1001"].channel
    assert agent_leg is not None and body["channel"] == agent_leg.name
    assert body["data"] == f"{agent_leg.name},qESw" and body["phone"] == "1009"
    await until(lambda: bool(sim.spies) and sim.spies[0]["started_at"] is not None, 10)
    whisper = sim.spies[0]
    assert whisper["spyer"].startswith("PJSIP/1009-") and whisper["spyee"] == agent_leg.name
    assert whisper["options"] == "qESw"
    spyer = sim.phones["1009"].channel
    assert spyer is not None and spyer.name == whisper["spyer"]
    # ccserver's AMI side saw Asterisk's ChanSpyStart on ana's call (the event log)
    await until(lambda: bool(hotline.events(call_id, "call.spied")), 5)
    (seen,) = hotline.events(call_id, "call.spied")
    assert (seen.data["state"], seen.data["spyer"]) == ("start", spyer.name)
    # the supervisor hangs up: ChanSpy stops, the call goes on
    await sim.hangup_channel(spyer.name)
    await until(lambda: whisper["ended_at"] is not None, 5)
    await until(lambda: len(hotline.events(call_id, "call.spied")) == 2, 5)
    assert not agent_leg.hungup and engine.agents["ana"].state.value == "on_call"

    # barge: the same call, option B; the caller hangs up: ChanSpy exits (E), her phone too
    status, body, _ = await call(base, "POST", spy, {"mode": "barge"}, sue)
    assert status == 202 and body["data"] == f"{agent_leg.name},qESB", body
    await until(lambda: len(sim.spies) == 2 and sim.spies[1]["started_at"] is not None, 10)
    barge = sim.spies[1]
    assert barge["spyee"] == agent_leg.name and barge["options"] == "qESB"
    barger = sim.phones["1009"].channel
    assert barger is not None
    await sim.hangup_channel(caller.channel)
    await until(lambda: barge["ended_at"] is not None, 5)
    await until(lambda: barger.hungup and sim.phones["1009"].channel is None, 5)

    # each start audited: who, which call, the mode; the agent's own view says nothing
    status, body, _ = await call(base, "GET", "/api/audit", headers=ADMIN)
    spied = [e for e in body["entries"] if e["action"] == "spy_on_call"]
    assert [(e["actor"], e["target"], e["detail"]) for e in spied] == [
        ("sue", call_id, {"mode": "barge"}),
        ("sue", call_id, {"mode": "whisper"}),
    ]
    status, me, _ = await call(base, "GET", "/api/me", headers=ana)
    assert status == 200 and me["phone"] is None


async def test_an_admin_sets_a_users_phone(hotline) -> None:
    base = hotline.base
    user = {"name": "sue", "password": "sue-password", "role": "supervisor", "phone": "1009"}
    status, body, _ = await call(base, "POST", "/api/users", user, ADMIN)
    assert status == 201 and body["phone"] == "1009"
    status, body, _ = await call(base, "PATCH", "/api/users/sue", {"phone": "1010"}, ADMIN)
    assert status == 200 and body["phone"] == "1010"
    status, body, _ = await call(base, "PATCH", "/api/users/sue", {}, ADMIN)
    assert status == 200 and body["phone"] == "1010"  # left out: kept
    status, body, _ = await call(base, "PATCH", "/api/users/sue", {"phone": None}, ADMIN)
    assert status == 200 and body["phone"] is None
    # not a PJSIP endpoint name: it would go into the Originate's Channel header
    status, body, _ = await call(base, "PATCH", "/api/users/sue", {"phone": "1009\r\nX: y"}, ADMIN)
    assert status == 400
    status, _, _ = await call(base, "PATCH", "/api/users/nobody", {"phone": "1"}, ADMIN)
    assert status == 404
    sue = await bearer(base, "sue", "sue-password")
    status, body, _ = await call(base, "PATCH", "/api/users/sue", {"phone": "1"}, sue)
    assert status == 403  # only an admin changes others
    status, body, _ = await call(base, "PATCH", "/api/me", {"phone": "1011"}, sue)
    assert status == 200 and body["phone"] == "1011"
    status, body, _ = await call(base, "GET", "/api/users", headers=ADMIN)
    assert [u["phone"] for u in body["users"] if u["name"] == "sue"] == ["1011"]


async def test_chanspy_with_nothing_to_spy_on_stops_at_once(hotline) -> None:
    """Option S: the call ended before the supervisor answered; her phone hangs up."""
    sim = hotline.sim
    headers = [
        ("Channel", "PJSIP/1009"),
        ("Application", "ChanSpy"),
        ("Data", "PJSIP/1001-0000ffff,qES"),  # a channel that is gone
    ]
    reply = await hotline.server.cti.originate(headers, timeout=10)
    assert reply.get("Response") == "Success"
    await until(lambda: bool(sim.spies) and sim.spies[0]["ended_at"] is not None, 5)
    await until(lambda: sim.phones["1009"].channel is None, 5)
    assert sim.spies[0]["spyee"] is None and sim.spies[0]["started_at"] is None
