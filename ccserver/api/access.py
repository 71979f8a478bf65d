"""Who may call what: the roles' rights per route, and the principal of a request.

Every non-public ``/api`` route is listed here with the roles allowed on it;
a route missing from the table is for admins only, so a new route is closed
until someone decides who may use it. What a role may do *within* a route
(an agent only on their own state, a supervisor only on their teams) is the
route's handler's to check, with :meth:`Principal.supervises`.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from ..people.model import Principal, Role
from .errors import ApiError

PRINCIPAL_KEY: web.RequestKey[Principal | None] = web.RequestKey("principal")
SESSION_COOKIE: Final = "ccsession"

ALL: Final[frozenset[Role]] = frozenset({"agent", "supervisor", "quality", "admin"})
STAFF: Final[frozenset[Role]] = frozenset({"supervisor", "admin"})
READERS: Final[frozenset[Role]] = frozenset({"supervisor", "quality", "admin"})
ADMIN: Final[frozenset[Role]] = frozenset({"admin"})
DESK: Final[frozenset[Role]] = frozenset({"agent", "supervisor", "admin"})

# (method, path) -> roles; HEAD is GET's
RIGHTS: Final[dict[tuple[str, str], frozenset[Role]]] = {
    ("POST", "/api/logout"): ALL,
    ("GET", "/api/me"): ALL,
    ("PATCH", "/api/me"): ALL,
    ("GET", "/api/stream"): ALL,
    # routing: agents see and change only themselves, supervisors their teams
    ("GET", "/api/agents"): ALL,
    ("POST", "/api/agents/{agent_id}"): frozenset({"agent", "supervisor", "admin"}),
    ("PUT", "/api/agents/{agent_id}/skills"): STAFF,
    # the agent desktop: an agent on their own call, a supervisor on their teams' agents
    ("GET", "/api/agents/{agent_id}/call"): DESK,
    ("POST", "/api/agents/{agent_id}/call/hold"): DESK,
    ("POST", "/api/agents/{agent_id}/call/resume"): DESK,
    ("POST", "/api/agents/{agent_id}/call/transfer"): DESK,
    ("POST", "/api/agents/{agent_id}/call/complete_transfer"): DESK,
    ("POST", "/api/agents/{agent_id}/call/cancel_transfer"): DESK,
    ("POST", "/api/agents/{agent_id}/call/notes"): DESK,
    ("POST", "/api/agents/{agent_id}/wrap_up"): DESK,
    ("GET", "/api/agents/{agent_id}/callbacks"): DESK,
    ("POST", "/api/tickets"): DESK,
    ("PATCH", "/api/tickets/{ticket_id}"): DESK,
    ("GET", "/api/queues"): ALL,
    # the live calls: supervisors (an agent sees their own call on /api/me and the stream)
    ("GET", "/api/calls"): STAFF,
    ("GET", "/api/calls/{call_id}"): STAFF,
    # listen / whisper / barge: the handler checks the agent is in the supervisor's teams
    ("POST", "/api/calls/{call_id}/spy"): STAFF,
    # self-service records
    ("GET", "/api/tickets"): ALL,
    ("GET", "/api/tickets/{ticket_id}"): ALL,
    ("POST", "/api/tickets/{ticket_id}/close"): STAFF,
    ("GET", "/api/outages"): ALL,
    ("POST", "/api/outages"): STAFF,
    ("POST", "/api/outages/{outage_id}/resolve"): STAFF,
    ("GET", "/api/surveys"): READERS,
    ("GET", "/api/accounts/locked"): STAFF,
    ("POST", "/api/accounts/{account}/unlock"): STAFF,
    # figures
    ("GET", "/api/reports/{kind}"): READERS,
    ("GET", "/api/staffing"): STAFF,
    ("GET", "/api/staffing/plan"): STAFF,
    ("GET", "/api/audit"): STAFF,
    # quality: recordings heard by readers (supervisors: their teams), scored by quality
    ("GET", "/api/recordings"): READERS,
    ("GET", "/api/recordings/{call_id}/audio"): READERS,
    ("GET", "/api/scorecard"): READERS,
    ("POST", "/api/recordings/{call_id}/score"): frozenset({"quality", "admin"}),
    ("GET", "/api/scores"): READERS,
    # the ACD's live configuration (ccserver/configuration): admins only
    ("GET", "/api/config"): ADMIN,
    ("PUT", "/api/config/settings"): ADMIN,
    **{
        (method, f"/api/config/{part}"): ADMIN
        for method in ("PUT", "POST", "DELETE")
        for part in ("queues/{name}", "agents/{agent_id}", "codes/{kind}")
    },
    # users and system tokens: ADMIN (not listed: the default)
}


def allowed(method: str, path: str) -> frozenset[Role]:
    """The roles that may call this route."""
    return RIGHTS.get(("GET" if method == "HEAD" else method, path), ADMIN)


class Forbidden(ApiError):
    status = 403


def principal_of(request: web.Request) -> Principal | None:
    """Who the request acts for (None: no credentials, on a public route)."""
    who = request.get(PRINCIPAL_KEY)
    return who if isinstance(who, Principal) else None


def require(request: web.Request) -> Principal:
    """The request's principal; the middleware has made sure there is one on /api."""
    who = principal_of(request)
    if who is None:
        raise Forbidden("no credentials")
    return who
