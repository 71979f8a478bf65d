"""/api/audit: who changed what, when and from where (newest first)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..deps import Deps
from ..routes import Route, add_route, respond
from .auth import PEOPLE_KEY


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    actor: str | None = Field(default=None, min_length=1, max_length=64, description="one actor")


class AuditEntry(BaseModel):
    id: int
    at: float = Field(description="epoch seconds")
    actor: str = Field(description="the user's or the system token's name")
    actor_kind: str = Field(description="user or token")
    role: str
    action: str = Field(description="the operation: agent_action, declare_outage, login...")
    target: str | None = Field(description="what it acted on: an agent id, a ticket...")
    detail: dict[str, Any] = Field(description="what was asked (secrets left out)")
    source: str | None = Field(description="the address it came from")


class AuditList(BaseModel):
    entries: list[AuditEntry]


async def list_audit(request: web.Request, query: AuditQuery) -> web.Response:
    """The audit trail, newest first."""
    rows = await request.app[PEOPLE_KEY].audit_entries(query.limit, query.actor)
    return respond(AuditList(entries=[AuditEntry.model_validate(r) for r in rows]))


def setup(app: web.Application, deps: Deps) -> None:
    if deps.people is None:
        return
    add_route(
        app,
        Route(
            method="GET",
            path="/api/audit",
            handler=list_audit,
            summary="The audit trail",
            tag="people",
            query=AuditQuery,
            response=AuditList,
            errors=(400,),
        ),
    )
