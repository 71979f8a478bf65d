"""/api/login, /api/logout and /api/me: a person's session and their own settings.

Login answers with a session cookie (HttpOnly, SameSite=Strict) for the
pages; an API client that asks (``"bearer": true``) also gets the session's
token in the body, to send as ``Authorization: Bearer``. Failed logins are
limited per user name and per source address (429 with Retry-After).
"""

from __future__ import annotations

import logging
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ...config import PeopleSection
from ...people import LANGUAGES, LoginThrottle, People, Principal
from ...people.store import User
from ..access import SESSION_COOKIE, require
from ..deps import Deps
from ..errors import BadRequest, Unauthorized
from ..fields import Text
from ..routes import Route, add_route, respond

log = logging.getLogger(__name__)

PEOPLE_KEY = web.AppKey("people", People)
THROTTLE_KEY = web.AppKey("login_throttle", LoginThrottle)
PEOPLE_SETTINGS_KEY = web.AppKey("people_settings", PeopleSection)
REASONS_KEY: web.AppKey[tuple[str, ...]] = web.AppKey("reason_codes")

Language = Literal["zh-CN", "en"]
assert set(LANGUAGES) == {"zh-CN", "en"}


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    bearer: bool = Field(default=False, description="also answer with the token, for API clients")


class Me(BaseModel):
    """The one logged in, and what their pages need."""

    name: str
    kind: Literal["user", "token"]
    role: Literal["agent", "supervisor", "quality", "admin"]
    agent_id: str | None = Field(description="an agent's ACD id")
    teams: list[str] | None = Field(description="a supervisor's queues; null: all")
    language: Language
    reason_codes: list[str] = Field(description="the not-ready reasons an agent may give")
    phone: str | None = Field(
        default=None, description="one's own PJSIP endpoint, for a supervisor's listen-in"
    )


class LoginResult(Me):
    token: str | None = Field(
        default=None, description="the session's bearer token, when asked for"
    )
    expires_in_s: float


class MeBody(BaseModel):
    """One's own settings; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    language: Language | None = None
    phone: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the PJSIP endpoint of one's own phone; null: none",
    )


class LoggedOut(BaseModel):
    logged_out: bool


def _me(request: web.Request, who: Principal) -> Me:
    language: Language = "en" if who.language == "en" else "zh-CN"
    reasons: tuple[str, ...] = request.app[REASONS_KEY]
    return Me(
        name=who.name,
        kind=who.kind,
        role=who.role,
        agent_id=who.agent_id,
        teams=list(who.teams) if who.teams is not None else None,
        language=language,
        reason_codes=list(reasons),
        phone=who.phone,
    )


def _is_secure(request: web.Request) -> bool:
    return request.app[PEOPLE_SETTINGS_KEY].cookie_secure


async def login(request: web.Request, body: LoginBody) -> web.Response:
    """Log in with a name and password: a session cookie (and token, if asked for)."""
    people, throttle = request.app[PEOPLE_KEY], request.app[THROTTLE_KEY]
    source = request.remote or "?"
    wait = throttle.retry_after(body.name, source)
    if wait:
        raise web.HTTPTooManyRequests(
            text=f"too many failed logins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    user: User | None = await people.check_password(body.name, body.password)
    if user is None:
        throttle.failed(body.name, source)
        log.warning("failed login for a user from %s", source)  # the name may be a password
        raise Unauthorized("wrong name or password")
    throttle.succeeded(body.name)
    token = await people.open_session(user, source)
    who = user.principal()
    await people.audit(who, "login", None, {}, source)
    ttl = request.app[PEOPLE_SETTINGS_KEY].session_ttl_s
    me = _me(request, who)
    result = LoginResult(**me.model_dump(), token=token if body.bearer else None, expires_in_s=ttl)
    response = respond(result)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_is_secure(request),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """End this session (a system token is not ended this way: revoke it)."""
    who = require(request)
    people = request.app[PEOPLE_KEY]
    if who.session is not None:
        await people.close_session(who.session)
        await people.audit(who, "logout", None, {}, request.remote)
    response = respond(LoggedOut(logged_out=who.session is not None))
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def get_me(request: web.Request) -> web.Response:
    """Who is logged in: role, agent id, teams, language, reason codes."""
    return respond(_me(request, require(request)))


async def update_me(request: web.Request, body: MeBody) -> web.Response:
    """Change one's own settings: the language of the pages, one's own phone."""
    who = require(request)
    if who.user_id is None:
        raise BadRequest("a system token has no settings")
    people: People = request.app[PEOPLE_KEY]
    changed = dict(who.__dict__)
    if body.language is not None:
        await people.set_language(who.user_id, body.language)
        changed["language"] = body.language
    if "phone" in body.model_fields_set:
        await people.set_phone(who.name, body.phone)
        changed["phone"] = body.phone
    return respond(_me(request, Principal(**changed)))


def setup(app: web.Application, deps: Deps) -> None:
    if deps.people is None:
        return  # a bare API: the configured tokens only
    settings = deps.people_settings or PeopleSection()
    app[PEOPLE_KEY] = deps.people
    app[PEOPLE_SETTINGS_KEY] = settings
    app[THROTTLE_KEY] = LoginThrottle(
        max_per_user=settings.login_max_failures_per_user,
        max_per_source=settings.login_max_failures_per_source,
        window_s=settings.login_window_s,
    )
    orchestrator = deps.orchestrator
    app[REASONS_KEY] = tuple(orchestrator.model.reason_codes) if orchestrator else ()
    for route in (
        Route(
            method="POST",
            path="/api/login",
            handler=login,
            summary="Log in",
            tag="people",
            body=LoginBody,
            response=LoginResult,
            errors=(401, 429),
            public=True,
        ),
        Route(
            method="POST",
            path="/api/logout",
            handler=logout,
            summary="Log out (end this session)",
            tag="people",
            response=LoggedOut,
        ),
        Route(
            method="GET",
            path="/api/me",
            handler=get_me,
            summary="Who is logged in",
            tag="people",
            response=Me,
        ),
        Route(
            method="PATCH",
            path="/api/me",
            handler=update_me,
            summary="Change one's own language or phone",
            tag="people",
            body=MeBody,
            response=Me,
            errors=(400,),
        ),
    ):
        add_route(app, route)
