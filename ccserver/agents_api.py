"""/api/agents and /api/queues: agents log in, go ready or not, end wrap-up."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from acd.engine import UnknownEntity

from .config import format_errors
from .orchestrator import Orchestrator

ORCHESTRATOR_KEY = web.AppKey("orchestrator", Orchestrator)


class AgentActionBody(BaseModel):
    """What an agent's desktop sends."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["login", "logout", "ready", "not_ready", "end_wrap_up"]
    reason: str | None = None


async def list_agents(request: web.Request) -> web.Response:
    return web.json_response({"agents": request.app[ORCHESTRATOR_KEY].snapshot()["agents"]})


async def list_queues(request: web.Request) -> web.Response:
    return web.json_response({"queues": request.app[ORCHESTRATOR_KEY].snapshot()["queues"]})


async def agent_action(request: web.Request) -> web.Response:
    try:
        body = AgentActionBody.model_validate_json(await request.read())
    except ValidationError as exc:
        return web.json_response({"error": format_errors(exc, "; ")}, status=400)
    orchestrator = request.app[ORCHESTRATOR_KEY]
    agent_id = request.match_info["agent_id"]
    try:
        decisions = orchestrator.agent_action(agent_id, body.action, body.reason)
    except UnknownEntity:
        return web.json_response({"error": f"no agent {agent_id!r}"}, status=404)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    agent = orchestrator.engine.agents[agent_id]
    return web.json_response(
        {
            "agent": agent_id,
            "state": agent.state.value,
            "reason": agent.reason,
            "decisions": [
                {"kind": d.kind, "call": d.call_id, "reason": d.reason} for d in decisions
            ],
        }
    )


def add_agent_routes(app: web.Application, orchestrator: Orchestrator) -> None:
    """Register the agent and queue API."""
    app[ORCHESTRATOR_KEY] = orchestrator
    app.router.add_get("/api/agents", list_agents)
    app.router.add_post("/api/agents/{agent_id}", agent_action)
    app.router.add_get("/api/queues", list_queues)
