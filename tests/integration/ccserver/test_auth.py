"""Users, roles, sessions, tokens and the audit on a whole hotline, over real HTTP.

An agent acts only on their own state, a supervisor on their teams, quality
reads; logins are throttled; revoked tokens stop working; /healthz tells its
detail only to a supervisor; every change is audited; the live stream shows
each person what their role may see.
"""

from __future__ import annotations

from typing import Any

import aiohttp

TOKEN = "ivr-test-token"  # the hotline fixture's http.api_tokens: an admin system token
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


async def call(
    base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, base + path, json=body, headers=headers or {}) as resp,
    ):
        return resp.status, await resp.json(), resp


async def add_users(base: str) -> None:
    for user in (
        {"name": "ana", "password": "ana-password", "role": "agent", "agent_id": "ana"},
        {"name": "sam", "password": "sam-password", "role": "supervisor", "teams": ["faults"]},
        {"name": "quinn", "password": "quinn-password", "role": "quality", "language": "en"},
    ):
        status, body, _ = await call(base, "POST", "/api/users", user, ADMIN)
        assert status == 201, body
        assert "password" not in body


async def bearer(base: str, name: str, password: str) -> dict[str, str]:
    body = {"name": name, "password": password, "bearer": True}
    status, out, _ = await call(base, "POST", "/api/login", body)
    assert status == 200, out
    return {"Authorization": f"Bearer {out['token']}"}


async def test_roles_decide_who_may_do_what(hotline) -> None:
    base = hotline.base
    await add_users(base)
    ana = await bearer(base, "ana", "ana-password")
    sam = await bearer(base, "sam", "sam-password")
    quinn = await bearer(base, "quinn", "quinn-password")

    # an agent: their own state only, and only themselves in the list
    status, body, _ = await call(base, "POST", "/api/agents/ana", {"action": "not_ready",
                                 "reason": "lunch"}, ana)  # fmt: skip
    assert status == 200 and body["state"] == "not_ready"
    status, body, _ = await call(base, "POST", "/api/agents/ben", {"action": "login"}, ana)
    assert status == 403 and "own" in body["error"]
    status, body, _ = await call(base, "GET", "/api/agents", headers=ana)
    assert [a["id"] for a in body["agents"]] == ["ana"]
    for method, path in (("GET", "/api/calls"), ("GET", "/api/surveys"), ("GET", "/api/users"),
                         ("GET", "/api/audit"), ("POST", "/api/tokens")):  # fmt: skip
        status, body, _ = await call(base, method, path, {"name": "x"}, ana)
        assert status == 403, (path, body)
    # refused by the engine is still 409 for an agent on themselves
    status, body, _ = await call(base, "POST", "/api/agents/ana", {"action": "end_wrap_up"}, ana)
    assert status == 409

    # a supervisor of the faults queue: its agents (ben, dana), not ana
    status, body, _ = await call(base, "GET", "/api/agents", headers=sam)
    assert {a["id"] for a in body["agents"]} == {"ben", "dana"}
    status, body, _ = await call(base, "GET", "/api/queues", headers=sam)
    assert [q["name"] for q in body["queues"]] == ["faults"]
    status, body, _ = await call(base, "POST", "/api/agents/ana", {"action": "ready"}, sam)
    assert status == 403 and "teams" in body["error"]
    status, body, _ = await call(base, "POST", "/api/agents/dana", {"action": "login"}, sam)
    assert status == 200 and body["state"] == "not_ready"
    status, _, _ = await call(base, "GET", "/api/calls", headers=sam)
    assert status == 200

    # quality: reads scores and reports, changes nothing
    status, _, _ = await call(base, "GET", "/api/surveys", headers=quinn)
    assert status == 200
    status, _, _ = await call(base, "POST", "/api/agents/ben", {"action": "login"}, quinn)
    assert status == 403
    status, _, _ = await call(base, "POST", "/api/outages",
                              {"regions": ["north"], "message": "x"}, quinn)  # fmt: skip
    assert status == 403

    # /healthz: the status for everyone, the detail for supervisors and admins
    status, body, _ = await call(base, "GET", "/healthz")
    assert body == {"status": "ok"}
    status, body, _ = await call(base, "GET", "/healthz", headers=ana)
    assert body == {"status": "ok"}
    status, body, _ = await call(base, "GET", "/healthz", headers=sam)
    assert body["status"] == "ok" and "cti" in body and "store" in body

    # every change audited: who, what, from where; no password in it
    status, body, _ = await call(base, "GET", "/api/audit", headers=sam)
    assert status == 200
    entries = body["entries"]
    mine = [e for e in entries if e["actor"] == "ana" and e["action"] == "agent_action"]
    assert mine[-1]["detail"] == {"action": "not_ready", "reason": "lunch"}
    assert mine[-1]["target"] == "ana" and mine[-1]["source"] == "127.0.0.1"
    assert mine[-1]["role"] == "agent" and mine[-1]["actor_kind"] == "user"
    forced = [e for e in entries if e["actor"] == "sam" and e["target"] == "dana"]
    assert forced and forced[0]["detail"] == {"action": "login"}
    created = [e for e in entries if e["action"] == "create_user"]
    assert len(created) == 3 and all("password" not in e["detail"] for e in created)
    assert created[0]["actor"] == "config-token" and created[0]["actor_kind"] == "token"
    assert {e["action"] for e in entries} >= {"login", "agent_action", "create_user"}
    # refused attempts changed nothing and are not "changes"
    assert not [e for e in entries if e["actor"] == "quinn" and e["action"] != "login"]


async def test_sessions_cookies_logout_and_the_throttle(hotline) -> None:
    base = hotline.base
    await add_users(base)
    # unsafe: the jar keeps cookies of an IP address (127.0.0.1) too
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(base + "/api/login",
                             json={"name": "ana", "password": "ana-password"}) as resp:  # fmt: skip
            assert resp.status == 200
            body = await resp.json()
            cookie = resp.headers["Set-Cookie"]
        assert body["token"] is None and body["agent_id"] == "ana"
        assert body["reason_codes"][:2] == ["break", "lunch"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with http.get(base + "/api/me") as resp:  # the cookie is the session
            assert resp.status == 200 and (await resp.json())["language"] == "zh-CN"
        async with http.patch(base + "/api/me", json={"language": "en"}) as resp:
            assert (await resp.json())["language"] == "en"
        async with http.get(base + "/api/me") as resp:
            assert (await resp.json())["language"] == "en"  # kept for the next login
        async with http.post(base + "/api/logout") as resp:
            assert resp.status == 200
        async with http.get(base + "/api/me") as resp:
            assert resp.status == 401

    # five wrong passwords for a name: the sixth attempt, even right, waits
    for _ in range(5):
        status, body, _ = await call(base, "POST", "/api/login",
                                     {"name": "sam", "password": "wrong-one"})  # fmt: skip
        assert status == 401 and body["error"] == "wrong name or password"
    status, body, resp = await call(base, "POST", "/api/login",
                                    {"name": "sam", "password": "sam-password"})  # fmt: skip
    assert status == 429 and int(resp.headers["Retry-After"]) > 0
    # an unknown name is refused the same way as a wrong password
    status, body, _ = await call(base, "POST", "/api/login",
                                 {"name": "nobody", "password": "whatever"})  # fmt: skip
    assert status == 401 and body["error"] == "wrong name or password"


async def test_system_tokens_shown_once_and_revoked(hotline) -> None:
    base = hotline.base
    status, made, _ = await call(base, "POST", "/api/tokens",
                                 {"name": "wallboard", "role": "supervisor"}, ADMIN)  # fmt: skip
    assert status == 201 and made["token"].startswith("cct_")
    theirs = {"Authorization": f"Bearer {made['token']}"}
    status, body, _ = await call(base, "GET", "/api/calls", headers=theirs)
    assert status == 200
    status, body, _ = await call(base, "GET", "/api/users", headers=theirs)
    assert status == 403  # a supervisor's token: not the admin's routes
    status, listed, _ = await call(base, "GET", "/api/tokens", headers=ADMIN)
    assert [t["name"] for t in listed["tokens"]] == ["wallboard"]
    assert "token" not in listed["tokens"][0]  # never shown again
    status, _, _ = await call(base, "DELETE", f"/api/tokens/{made['id']}", headers=ADMIN)
    assert status == 200
    status, _, _ = await call(base, "GET", "/api/calls", headers=theirs)
    assert status == 401
    status, _, _ = await call(base, "DELETE", f"/api/tokens/{made['id']}", headers=ADMIN)
    assert status == 409
    status, body, _ = await call(base, "GET", "/api/audit", headers=ADMIN)
    assert [e["action"] for e in body["entries"]][:2] == ["revoke_token", "create_token"]

    # a disabled user's sessions end
    await add_users(base)
    ana = await bearer(base, "ana", "ana-password")
    status, _, _ = await call(base, "DELETE", "/api/users/ana", headers=ADMIN)
    assert status == 200
    status, _, _ = await call(base, "GET", "/api/me", headers=ana)
    assert status == 401


async def test_the_stream_shows_each_role_its_part(hotline) -> None:
    base = hotline.base
    await add_users(base)
    ana = await bearer(base, "ana", "ana-password")
    sam = await bearer(base, "sam", "sam-password")
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/api/stream", headers=ana) as resp:  # not an upgrade
            assert resp.status == 400
        async with (
            http.ws_connect(base + "/api/stream", headers=ana) as agent_ws,
            http.ws_connect(base + "/api/stream", headers=sam) as sup_ws,
        ):
            hello = await agent_ws.receive_json(timeout=5)
            assert hello["type"] == "hello" and [a["id"] for a in hello["agents"]] == ["ana"]
            sup_hello = await sup_ws.receive_json(timeout=5)
            assert {a["id"] for a in sup_hello["agents"]} == {"ben", "dana"}
            status, _, _ = await call(base, "POST", "/api/agents/ana",
                                      {"action": "not_ready", "reason": "break"}, ana)  # fmt: skip
            assert status == 200
            seen: list[dict[str, Any]] = []

            async def got_state() -> bool:
                seen.append(await agent_ws.receive_json(timeout=5))
                return any(m["type"] == "agent" and m["agent"]["state"] == "not_ready"
                           for m in seen)  # fmt: skip

            while not await got_state():
                pass
            change = next(m for m in seen if m["type"] == "agent")
            assert change["agent"]["reason"] == "break" and change["agent"]["since"] > 0
            # the supervisor's stream carries queue figures, never ana's state
            sup_seen = [await sup_ws.receive_json(timeout=5) for _ in range(2)]
            assert all(m["type"] == "queues" for m in sup_seen), sup_seen
            assert all([q["name"] for q in m["queues"]] == ["faults"] for m in sup_seen)


async def test_what_each_role_may_not_do(hotline) -> None:
    base = hotline.base
    await add_users(base)
    ana = await bearer(base, "ana", "ana-password")
    quinn = await bearer(base, "quinn", "quinn-password")
    status, spec, _ = await call(base, "GET", "/openapi.json")
    assert status == 200

    # an agent acts on no other agent: state, skills, listening in on their call
    for method, path, body in (
        ("POST", "/api/agents/ben", {"action": "not_ready", "reason": "lunch"}),
        ("PUT", "/api/agents/ben/skills", {"skills": {"general": 9}}),
        ("PUT", "/api/agents/ana/skills", {"skills": {"general": 9}}),  # nor her own skills
        ("POST", "/api/calls/any-call/spy", {"mode": "listen"}),
    ):
        status, out, _ = await call(base, method, path, body, ana)
        assert status == 403, (path, out)
    # nor hears recordings (once the recordings plugin serves them)
    for path in ("/api/recordings", "/api/recordings/any-call/audio"):
        if path in spec["paths"]:
            status, out, _ = await call(base, "GET", path, headers=ana)
            assert status == 403, (path, out)
    # nor reaches an admin's route
    for method, path, body in (
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"name": "eve", "password": "eve-password", "role": "admin"}),
        ("PATCH", "/api/users/ana", {"phone": "1001"}),
        ("POST", "/api/users/ben/password", {"password": "taken-over"}),
        ("DELETE", "/api/users/sam", None),
        ("GET", "/api/tokens", None),
        ("POST", "/api/tokens", {"name": "mine", "role": "admin"}),
    ):
        status, out, _ = await call(base, method, path, body, ana)
        assert status == 403 and "agent role" in out["error"], (path, out)

    # quality reads but changes no one's state, skills or call
    for method, path, body in (
        ("POST", "/api/agents/ana", {"action": "not_ready", "reason": "lunch"}),
        ("POST", "/api/agents/ana", {"action": "logout"}),
        ("PUT", "/api/agents/ana/skills", {"skills": {"general": 9}}),
        ("POST", "/api/calls/any-call/spy", {"mode": "barge"}),
    ):
        status, out, _ = await call(base, method, path, body, quinn)
        assert status == 403 and "quality role" in out["error"], (path, out)
    assert hotline.server.orchestrator.engine.agents["ana"].state.value == "available"

    # a session ends with its password and with its logout; a revoked token at once
    status, _, _ = await call(base, "POST", "/api/users/quinn/password",
                              {"password": "new-quinn-password"}, ADMIN)  # fmt: skip
    assert status == 200
    status, _, _ = await call(base, "GET", "/api/me", headers=quinn)
    assert status == 401
    status, _, _ = await call(base, "POST", "/api/logout", headers=ana)
    assert status == 200
    status, _, _ = await call(base, "GET", "/api/agents", headers=ana)
    assert status == 401
    status, made, _ = await call(base, "POST", "/api/tokens",
                                 {"name": "ops", "role": "admin"}, ADMIN)  # fmt: skip
    ops = {"Authorization": f"Bearer {made['token']}"}
    status, _, _ = await call(base, "GET", "/api/users", headers=ops)
    assert status == 200
    status, _, _ = await call(base, "DELETE", f"/api/tokens/{made['id']}", headers=ADMIN)
    assert status == 200
    for method, path, body in (
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"name": "eve", "password": "eve-password", "role": "admin"}),
    ):
        status, _, _ = await call(base, method, path, body, ops)
        assert status == 401, path
