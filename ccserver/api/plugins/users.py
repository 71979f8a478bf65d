"""/api/users and /api/tokens: admins manage people and the tokens of other systems.

A system token is shown once, in the answer that creates it; only its hash
is kept. A user is disabled rather than deleted, so the audit keeps naming
who did what.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...people import People, UserExists
from ...people.store import User
from ..access import require
from ..deps import Deps
from ..errors import BadRequest, Conflict, NotFound
from ..routes import Route, add_route, respond
from .auth import PEOPLE_KEY

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
RoleName = Literal["agent", "supervisor", "quality", "admin"]
Language = Literal["zh-CN", "en"]
TokenRole = Literal["supervisor", "quality", "admin"]
# a PJSIP endpoint name: it goes into an AMI Originate's Channel header as PJSIP/<phone>
Phone = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
          description="the PJSIP endpoint of the user's own phone (listen, whisper, barge)"),
]  # fmt: skip


class UserPath(BaseModel):
    name: Name


class TokenPath(BaseModel):
    token_id: int = Field(ge=1, le=2**31 - 1)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    password: str = Field(min_length=8, max_length=256)
    role: RoleName
    agent_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="an agent's ACD id (agents only)"
    )
    teams: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=100, description="a supervisor's queues; null: all"
    )
    language: Language = "zh-CN"
    phone: Phone | None = None

    @model_validator(mode="after")
    def _agent_has_id(self) -> Self:
        if self.role == "agent" and not self.agent_id:
            raise ValueError("an agent needs agent_id")
        return self


class UserChange(BaseModel):
    """What an admin changes on a user (a field left out stays as it is)."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone | None = Field(default=None, description="null: no phone")


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=256)


class UserOut(BaseModel):
    name: str
    role: RoleName
    agent_id: str | None
    teams: list[str] | None
    language: str
    created_at: float
    disabled: bool
    phone: str | None = Field(default=None, description="the user's own PJSIP endpoint")


class UserList(BaseModel):
    users: list[UserOut]


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="what the token is for")
    role: TokenRole = "admin"


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_by: str
    created_at: float
    revoked_at: float | None


class CreatedToken(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class Done(BaseModel):
    done: bool


def _out(user: User) -> UserOut:
    return UserOut(
        name=user.name,
        role=user.role,
        agent_id=user.agent_id,
        teams=list(user.teams) if user.teams is not None else None,
        language=user.language,
        created_at=user.created_at,
        disabled=user.disabled,
        phone=user.phone,
    )


async def list_users(request: web.Request) -> web.Response:
    """Every user (no password hashes)."""
    found = await request.app[PEOPLE_KEY].users()
    return respond(UserList(users=[_out(u) for u in found]))


async def create_user(request: web.Request, body: NewUser) -> web.Response:
    """Add a user with a role (an agent linked to their ACD agent id)."""
    known = request.app.get(AGENT_IDS_KEY)
    if body.agent_id is not None and known is not None and body.agent_id not in known:
        raise BadRequest(f"no ACD agent {body.agent_id!r}")
    try:
        user = await request.app[PEOPLE_KEY].add_user(
            body.name, body.password, body.role,
            agent_id=body.agent_id, teams=body.teams, language=body.language,
            phone=body.phone,
        )  # fmt: skip
    except UserExists as exc:
        raise Conflict(str(exc)) from exc
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    return respond(_out(user), status=201)


async def change_user(request: web.Request, path: UserPath, body: UserChange) -> web.Response:
    """Change a user's settings: their own phone (for a supervisor's listen-in)."""
    people: People = request.app[PEOPLE_KEY]
    if "phone" in body.model_fields_set and not await people.set_phone(path.name, body.phone):
        raise NotFound(f"no user {path.name!r}")
    user = await people.user(path.name)
    if user is None:
        raise NotFound(f"no user {path.name!r}")
    return respond(_out(user))


async def set_password(request: web.Request, path: UserPath, body: NewPassword) -> web.Response:
    """Set a user's password; their sessions end."""
    if not await request.app[PEOPLE_KEY].set_password(path.name, body.password):
        raise NotFound(f"no user {path.name!r}")
    return respond(Done(done=True))


async def disable_user(request: web.Request, path: UserPath) -> web.Response:
    """Disable a user: no more logins, their sessions end (the audit keeps the name)."""
    people: People = request.app[PEOPLE_KEY]
    if await people.user(path.name) is None:
        raise NotFound(f"no user {path.name!r}")
    if not await people.disable(path.name):
        raise Conflict("the user is disabled already")
    return respond(Done(done=True))


async def list_tokens(request: web.Request) -> web.Response:
    """The system tokens (never the tokens themselves)."""
    rows = await request.app[PEOPLE_KEY].tokens()
    return respond(TokenList(tokens=[TokenOut.model_validate(r) for r in rows]))


async def create_token(request: web.Request, body: NewToken) -> web.Response:
    """Make a token for another system; the answer is the only time it is shown."""
    who = require(request)
    people: People = request.app[PEOPLE_KEY]
    token_id, token = await people.create_token(body.name, body.role, who.name)
    row = next(r for r in await people.tokens() if r["id"] == token_id)
    return respond(CreatedToken.model_validate(row | {"token": token}), status=201)


async def revoke_token(request: web.Request, path: TokenPath) -> web.Response:
    """Revoke a system token: it stops working at once."""
    people: People = request.app[PEOPLE_KEY]
    if not any(r["id"] == path.token_id for r in await people.tokens()):
        raise NotFound("no such token")
    if not await people.revoke_token(path.token_id):
        raise Conflict("the token is revoked already")
    return respond(Done(done=True))


AGENT_IDS_KEY: web.AppKey[frozenset[str]] = web.AppKey("user_agent_ids")


def setup(app: web.Application, deps: Deps) -> None:
    if deps.people is None:
        return
    if deps.orchestrator is not None:
        app[AGENT_IDS_KEY] = frozenset(deps.orchestrator.engine.agents)
    for route in (
        Route(method="GET", path="/api/users", handler=list_users, summary="List the users",
              tag="people", response=UserList),
        Route(method="POST", path="/api/users", handler=create_user, summary="Add a user",
              tag="people", body=NewUser, response=UserOut, status=201, errors=(409,)),
        Route(method="PATCH", path="/api/users/{name}", handler=change_user,
              summary="Change a user's phone", tag="people", path_params=UserPath,
              body=UserChange, response=UserOut, errors=(404,)),
        Route(method="POST", path="/api/users/{name}/password", handler=set_password,
              summary="Set a user's password", tag="people", path_params=UserPath,
              body=NewPassword, response=Done, errors=(404,)),
        Route(method="DELETE", path="/api/users/{name}", handler=disable_user,
              summary="Disable a user", tag="people", path_params=UserPath, response=Done,
              errors=(404, 409)),
        Route(method="GET", path="/api/tokens", handler=list_tokens,
              summary="List the system tokens", tag="people", response=TokenList),
        Route(method="POST", path="/api/tokens", handler=create_token,
              summary="Make a system token (shown once)", tag="people", body=NewToken,
              response=CreatedToken, status=201),
        Route(method="DELETE", path="/api/tokens/{token_id}", handler=revoke_token,
              summary="Revoke a system token", tag="people", path_params=TokenPath,
              response=Done, errors=(404, 409)),
    ):  # fmt: skip
        add_route(app, route)
