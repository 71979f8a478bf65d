"""/api/agents and /api/queues: agents log in, go ready or not, end wrap-up;
supervisors force a state or change an agent's skills live."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ...orchestrator import SUPERVISOR_REASON, ActionRefused, Orchestrator
from ...people import Principal
from ..access import Forbidden, principal_of
from ..deps import Deps
from ..errors import BadRequest, Conflict, NotFound
from ..routes import Route, add_route, respond

ORCHESTRATOR_KEY = web.AppKey("orchestrator", Orchestrator)


class AgentPath(BaseModel):
    agent_id: str = Field(min_length=1, max_length=64, description="the agent's id (acd config)")


class AgentActionBody(BaseModel):
    """What an agent's desktop sends."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["login", "logout", "ready", "not_ready", "end_wrap_up"]
    reason: str | None = Field(
        default=None,
        max_length=64,
        description="not_ready: one of the reason codes; a supervisor forcing not_ready or"
        f" logout may leave it out (recorded as {SUPERVISOR_REASON!r})",
    )


SkillName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class SkillsBody(BaseModel):
    """An agent's skills, all of them: a skill left out is taken away."""

    model_config = ConfigDict(extra="forbid")

    skills: dict[SkillName, Annotated[int, Field(ge=1, le=10)]] = Field(
        max_length=50, description="skill: level 1-10; names in use by a queue or an agent"
    )


class Agent(BaseModel):
    """An agent as the routing engine sees it now."""

    model_config = ConfigDict(extra="allow")  # the engine may tell more than listed here

    id: str
    name: str
    endpoint: str
    state: str = Field(description="logged_out, not_ready, available, on_call, wrap_up...")
    reason: str | None
    device: str = Field(description="the softphone's device state")
    node: str | None = Field(
        default=None,
        description="several Asterisk nodes: where the softphone is registered (else null)",
    )
    routable: bool
    not_routable_because: str | None
    skills: dict[str, int] = Field(description="skill: level")
    calls_handled: int
    talk_time_s: float
    call_id: str | None
    queues: list[str] = Field(description="the queues this agent serves")


class Queue(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    waiting: int = Field(ge=0)
    longest_wait_s: float = Field(ge=0)
    sl_target: float = Field(description="the share to answer within sl_threshold_s")
    sl_threshold_s: float
    max_wait_s: float | None = Field(description="a caller waiting longer: max-wait action")


class AgentList(BaseModel):
    agents: list[Agent]


class QueueList(BaseModel):
    queues: list[Queue]


class Decision(BaseModel):
    kind: str = Field(description="offer, cancel_offer, agent_state...")
    call: str | None
    reason: str


class AgentActionResult(BaseModel):
    agent: str
    state: str
    reason: str | None
    decisions: list[Decision] = Field(description="what the routing engine did at once")


class SkillsResult(BaseModel):
    agent: str
    skills: dict[str, int]
    queues: list[str] = Field(description="the queues this agent serves now")
    decisions: list[Decision] = Field(description="what the routing engine did at once")


def _agents(orchestrator: Orchestrator) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in orchestrator.snapshot()["agents"]}


def visible_agents(who: Principal | None, agents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agents ``who`` may see: an agent themselves, a supervisor their teams."""
    if who is None or who.role in ("admin", "quality"):
        return agents
    if who.role == "agent":
        return [a for a in agents if a["id"] == who.agent_id]
    return [a for a in agents if who.supervises(a["queues"])]


def visible_queues(who: Principal | None, queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queues ``who`` may see: a supervisor's teams; the rest see every queue."""
    if who is None or who.role != "supervisor" or who.teams is None:
        return queues
    return [q for q in queues if q["name"] in who.teams]


async def list_agents(request: web.Request) -> web.Response:
    """The agents the caller may see (an agent: themselves; a supervisor: their teams)."""
    agents = request.app[ORCHESTRATOR_KEY].snapshot()["agents"]
    shown = visible_agents(principal_of(request), agents)
    return respond(AgentList.model_validate({"agents": shown}))


async def list_queues(request: web.Request) -> web.Response:
    """The queues (a supervisor's teams), with the callers waiting."""
    queues = request.app[ORCHESTRATOR_KEY].snapshot()["queues"]
    shown = visible_queues(principal_of(request), queues)
    return respond(QueueList.model_validate({"queues": shown}))


async def agent_action(
    request: web.Request, path: AgentPath, body: AgentActionBody
) -> web.Response:
    """Log in, log out, go ready or not ready (with a reason code), end wrap-up.

    An agent acts on their own state only; a supervisor on the agents of their teams.
    """
    orchestrator = request.app[ORCHESTRATOR_KEY]
    who = principal_of(request)
    if who is not None and who.role == "agent" and who.agent_id != path.agent_id:
        raise Forbidden("an agent may change only their own state")
    _check_team(who, _agents(orchestrator), path.agent_id)
    forced = (
        who is not None
        and who.role in ("supervisor", "admin")
        and who.agent_id != path.agent_id
        and body.action in ("not_ready", "logout")
    )
    try:
        if forced and who is not None:
            effects = orchestrator.force_state(path.agent_id, body.action, who.name, body.reason)
        else:
            effects = orchestrator.agent_action(path.agent_id, body.action, body.reason)
    except ValueError as exc:  # an unknown reason code
        raise BadRequest(str(exc)) from exc
    except ActionRefused as exc:  # e.g. ready while logged out, not ready during a call
        raise Conflict(str(exc)) from exc
    agent = _agents(orchestrator)[path.agent_id]
    return respond(
        AgentActionResult(
            agent=path.agent_id,
            state=agent["state"],
            reason=agent["reason"],
            decisions=[Decision(kind=d.kind, call=d.call_id, reason=d.reason) for d in effects],
        )
    )


def _check_team(who: Principal | None, agents: dict[str, dict[str, Any]], agent_id: str) -> None:
    """404 for an unknown agent; 403 for a supervisor's agent outside their teams."""
    if agent_id not in agents:
        raise NotFound(f"no agent {agent_id!r}")
    if (
        who is not None
        and who.role == "supervisor"
        and not who.supervises(agents[agent_id]["queues"])
    ):
        raise Forbidden(f"agent {agent_id!r} is not in your teams")


async def change_skills(request: web.Request, path: AgentPath, body: SkillsBody) -> web.Response:
    """Replace an agent's skills, live: the next routing decision uses them.

    A supervisor may change the agents of their teams (the queues the agent
    serves before the change); a waiting call the new skills allow is offered
    at once if the agent is free.
    """
    orchestrator = request.app[ORCHESTRATOR_KEY]
    who = principal_of(request)
    _check_team(who, _agents(orchestrator), path.agent_id)
    by = who.name if who is not None else "?"
    try:
        effects = orchestrator.change_skills(path.agent_id, dict(body.skills), by)
    except ValueError as exc:  # a skill name nobody uses
        raise BadRequest(str(exc)) from exc
    agent = _agents(orchestrator)[path.agent_id]
    return respond(
        SkillsResult(
            agent=path.agent_id,
            skills=agent["skills"],
            queues=agent["queues"],
            decisions=[Decision(kind=d.kind, call=d.call_id, reason=d.reason) for d in effects],
        )
    )


def setup(app: web.Application, deps: Deps) -> None:
    if deps.orchestrator is None:
        return  # no routing configured
    app[ORCHESTRATOR_KEY] = deps.orchestrator
    add_route(
        app,
        Route(
            method="GET",
            path="/api/agents",
            handler=list_agents,
            summary="List the agents",
            tag="routing",
            response=AgentList,
        ),
    )
    add_route(
        app,
        Route(
            method="POST",
            path="/api/agents/{agent_id}",
            handler=agent_action,
            summary="Change an agent's state",
            tag="routing",
            path_params=AgentPath,
            body=AgentActionBody,
            response=AgentActionResult,
            errors=(400, 403, 404, 409),
        ),
    )
    add_route(
        app,
        Route(
            method="PUT",
            path="/api/agents/{agent_id}/skills",
            handler=change_skills,
            summary="Change an agent's skills live",
            tag="routing",
            path_params=AgentPath,
            body=SkillsBody,
            response=SkillsResult,
            errors=(400, 403, 404),
        ),
    )
    add_route(
        app,
        Route(
            method="GET",
            path="/api/queues",
            handler=list_queues,
            summary="List the queues",
            tag="routing",
            response=QueueList,
        ),
    )
