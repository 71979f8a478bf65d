"""Agents drive their state through the HTTP API; bad requests get clear errors."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from ccserver.app import Server
from ccserver.config import load_config
from ccserver.sim import AsteriskSimulator

ROOT = Path(__file__).resolve().parents[3]
AUTH = {"Authorization": "Bearer t0ken-t0ken-t0ken"}


async def test_agent_states_through_the_api(sim: AsteriskSimulator, tmp_path: Path) -> None:
    settings = load_config(
        None,
        ami={"port": sim.port, "secret": "ccsecret"},
        http={"host": "127.0.0.1", "port": 0, "api_tokens": ["t0ken-t0ken-t0ken"]},
        store={"url": f"sqlite+aiosqlite:///{tmp_path}/a.db"},
        acd={"config": str(ROOT / "config" / "acd.example.yaml")},
    )
    server = Server(settings)
    await server.start()
    base = f"http://127.0.0.1:{server.http_port}/api"
    try:
        async with aiohttp.ClientSession(headers=AUTH) as http:

            async def act(agent: str, body: object) -> tuple[int, dict]:  # type: ignore[type-arg]
                async with http.post(f"{base}/agents/{agent}", json=body) as resp:
                    return resp.status, await resp.json()

            assert (await act("ana", {"action": "login"}))[1]["state"] == "not_ready"
            assert (await act("ana", {"action": "ready"}))[1]["state"] == "available"
            status, body = await act("ana", {"action": "not_ready", "reason": "lunch"})
            assert status == 200 and (body["state"], body["reason"]) == ("not_ready", "lunch")
            status, body = await act("ana", {"action": "not_ready", "reason": "nap"})
            assert status == 400 and "unknown reason code" in body["error"]
            status, body = await act("ana", {"action": "dance"})
            assert status == 400 and "action" in body["error"]
            status, body = await act("nobody", {"action": "login"})
            assert status == 404
            # what the agent's state does not allow is refused, with the reason, and changes nothing
            status, body = await act("ben", {"action": "ready"})
            assert status == 409 and "log in first" in body["error"]
            status, body = await act("ana", {"action": "end_wrap_up"})
            assert status == 409 and "not in wrap-up" in body["error"]
            async with http.post(f"{base}/agents/ana", data=b"{not json") as resp:
                assert resp.status == 400
            async with http.get(f"{base}/agents") as resp:
                agents = {a["id"]: a for a in (await resp.json())["agents"]}
            assert agents["ana"]["reason"] == "lunch" and agents["ben"]["state"] == "logged_out"
            async with http.get(f"{base}/queues") as resp:
                queues = (await resp.json())["queues"]
            assert {q["name"] for q in queues} == {"general", "billing", "faults"}
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.post(f"{base}/agents/ana", json={"action": "ready"}) as resp,
        ):
            assert resp.status == 401
    finally:
        await server.stop()
