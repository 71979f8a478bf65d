"""/api/config: the ACD's live configuration, read and changed by admins without a restart.

Queues, agents and the reason and disposition codes are edited one at a time;
each change is validated by the ACD's own models (422 with the field and the
problem), taken by the running engine or refused with its reason (409), then
stored with a new version (``ccserver.configuration``). The audit middleware
records every change (who, what, target, when, from where).
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from acd.config import AgentModel, QueueModel

from ...configuration import (
    ChangeRefused,
    InvalidConfiguration,
    LiveConfig,
    LiveConfiguration,
    StaleConfiguration,
    code_kinds,
)
from ...configuration.store import Labels, errors_of
from ..access import principal_of
from ..deps import Deps
from ..errors import ApiError, Conflict, NotFound
from ..routes import Route, add_route, respond

LIVE_KEY = web.AppKey("live_configuration", LiveConfiguration)


class Unprocessable(ApiError):
    """Well-formed, but not a configuration the ACD accepts (the message names the field)."""

    status = 422


class QueuePath(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="the queue's name")


class AgentPath(BaseModel):
    agent_id: str = Field(min_length=1, max_length=64, description="the agent's id")


class CodesPath(BaseModel):
    kind: Literal["reason", "disposition"] = Field(description="reason or disposition codes")


class CodeQuery(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="the code to remove")


class Settings(RootModel[dict[str, Any]]):
    """The fields of a queue (see acd.config.QueueModel) or an agent (name, endpoint,
    skills): checked by the ACD's own models, 422 when they refuse them."""


class EngineSettingsBody(BaseModel):
    """Engine-wide settings to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    aging_s: float | None = Field(default=None, description="seconds of wait worth one priority")
    vip_boost: float | None = Field(default=None, description="priority added for a VIP")
    vip_numbers: list[str] | None = Field(default=None, max_length=10_000)
    resume_window_s: float | None = Field(
        default=None, description="a caller ringing back this soon keeps their place"
    )
    no_answer_not_ready: bool | None = Field(
        default=None, description="an agent who lets an offer ring out goes not ready"
    )
    callback_answer_s: float | None = None
    callback_attempts: int | None = None
    callback_retry_s: float | None = None
    default_queue: str | None = Field(default=None, max_length=64)


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
    label_zh: str | None = Field(default=None, max_length=100)
    label_en: str | None = Field(default=None, max_length=100)


class CodeList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[Code] = Field(max_length=100, description="the whole list, in order")


class ConfigView(BaseModel):
    version: int = Field(description="bumped by every stored change")
    updated_at: float | None
    updated_by: str | None
    settings: dict[str, Any] = Field(description="engine-wide settings (aging_s, vip_boost...)")
    queues: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    codes: dict[str, list[Code]] = Field(description="reason and disposition codes by kind")


class Decision(BaseModel):
    kind: str
    call: str | None
    agent: str | None
    reason: str


class ChangeResult(BaseModel):
    config: ConfigView
    decisions: list[Decision] = Field(description="what the routing engine did at once")


def _view(live: LiveConfig) -> ConfigView:
    data = live.model.model_dump(mode="json")
    kinds = code_kinds()
    return ConfigView(
        version=live.version,
        updated_at=live.updated_at,
        updated_by=live.updated_by,
        settings={k: v for k, v in data.items() if k not in {"queues", "agents", *kinds.values()}},
        queues=data["queues"],
        agents=data["agents"],
        codes={kind: [Code.model_validate(c) for c in live.codes(kind)] for kind in kinds},
    )


def _valid(model: type[QueueModel] | type[AgentModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked by the ACD's model of it, as plain data (422 naming the field)."""
    try:
        return model.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        raise Unprocessable(errors_of(exc)) from None


async def get_config(request: web.Request) -> web.Response:
    """The whole configuration as the running ACD has it, with its version."""
    return respond(_view(request.app[LIVE_KEY].view()))


async def _change(request: web.Request, edit: Any, status: int = 200) -> web.Response:
    live = request.app[LIVE_KEY]
    who = principal_of(request)
    try:
        _, effects = await live.change(edit, who.name if who is not None else "?")
    except InvalidConfiguration as exc:
        raise Unprocessable(str(exc)) from exc
    except (ChangeRefused, StaleConfiguration) as exc:
        raise Conflict(str(exc)) from exc
    decisions = [
        Decision(kind=e.kind, call=e.call_id, agent=e.agent_id, reason=e.reason) for e in effects
    ]
    return respond(ChangeResult(config=_view(live.view()), decisions=decisions), status)


def _find(items: list[dict[str, Any]], key: str, value: str) -> int | None:
    return next((i for i, item in enumerate(items) if item[key] == value), None)


def _put(items: list[dict[str, Any]], key: str, item: dict[str, Any], *, new: bool) -> None:
    at = _find(items, key, item[key])
    if at is None:
        items.append(item)
    elif new:
        raise Conflict(f"{item[key]!r} exists already: PUT replaces it")
    else:
        items[at] = item


def _drop(items: list[dict[str, Any]], key: str, value: str, what: str) -> None:
    at = _find(items, key, value)
    if at is None:
        raise NotFound(f"no {what} {value!r}")
    del items[at]


def _item_edit(
    model: type[QueueModel] | type[AgentModel],
    items: str,
    key: str,
    value: str,
    body: Settings,
    *,
    new: bool,
) -> Any:
    """An edit adding or replacing one of ``items`` (queues, agents): ``key`` is the path's."""
    if body.root.get(key, value) != value:
        raise Unprocessable(f"{key}: the body's {key} is not the path's")
    item = _valid(model, body.root | {key: value})

    def edit(data: dict[str, Any], labels: Labels) -> None:
        _put(data[items], key, item, new=new)

    return edit


def _queue_edit(path: QueuePath, body: Settings, *, new: bool) -> Any:
    return _item_edit(QueueModel, "queues", "name", path.name, body, new=new)


async def put_queue(request: web.Request, path: QueuePath, body: Settings) -> web.Response:
    """Add or replace a queue's routing settings; they apply to the next decision."""
    return await _change(request, _queue_edit(path, body, new=False))


async def post_queue(request: web.Request, path: QueuePath, body: Settings) -> web.Response:
    """Add a queue (409 when it exists)."""
    return await _change(request, _queue_edit(path, body, new=True), 201)


async def delete_queue(request: web.Request, path: QueuePath) -> web.Response:
    """Remove a queue: refused (409) while calls are in it or the IVR sends callers to it."""

    def edit(data: dict[str, Any], labels: Labels) -> None:
        _drop(data["queues"], "name", path.name, "queue")

    return await _change(request, edit)


def _agent_edit(path: AgentPath, body: Settings, *, new: bool) -> Any:
    return _item_edit(AgentModel, "agents", "id", path.agent_id, body, new=new)


async def put_agent(request: web.Request, path: AgentPath, body: Settings) -> web.Response:
    """Add or replace an agent (name, endpoint, skills); a new agent starts logged out."""
    return await _change(request, _agent_edit(path, body, new=False))


async def post_agent(request: web.Request, path: AgentPath, body: Settings) -> web.Response:
    """Add an agent (409 when the id exists); they start logged out."""
    return await _change(request, _agent_edit(path, body, new=True), 201)


async def delete_agent(request: web.Request, path: AgentPath) -> web.Response:
    """Remove an agent: refused (409) unless they are logged out."""

    def edit(data: dict[str, Any], labels: Labels) -> None:
        _drop(data["agents"], "id", path.agent_id, "agent")

    return await _change(request, edit)


def _codes_field(kind: str) -> str:
    name = code_kinds().get(kind)
    if name is None:
        raise NotFound(f"no {kind} codes in this version's configuration")
    return name


async def put_codes(request: web.Request, path: CodesPath, body: CodeList) -> web.Response:
    """Replace the reason or disposition codes (with their Chinese and English labels)."""
    name = _codes_field(path.kind)
    codes = [c.code for c in body.codes]
    if len(codes) != len(set(codes)):
        raise Unprocessable("codes: a code is listed twice")

    def edit(data: dict[str, Any], labels: Labels) -> None:
        data[name] = codes
        labels[path.kind] = {c.code: (c.label_zh, c.label_en) for c in body.codes}

    return await _change(request, edit)


async def post_code(request: web.Request, path: CodesPath, body: Code) -> web.Response:
    """Add one code at the end of its list (409 when it is there)."""
    name = _codes_field(path.kind)

    def edit(data: dict[str, Any], labels: Labels) -> None:
        if body.code in data[name]:
            raise Conflict(f"{path.kind} code {body.code!r} exists already")
        data[name].append(body.code)
        labels.setdefault(path.kind, {})[body.code] = (body.label_zh, body.label_en)

    return await _change(request, edit, 201)


async def delete_code(request: web.Request, path: CodesPath, query: CodeQuery) -> web.Response:
    """Remove one code (agents not ready with it keep it until they change state)."""
    name = _codes_field(path.kind)

    def edit(data: dict[str, Any], labels: Labels) -> None:
        if query.code not in data[name]:
            raise NotFound(f"no {path.kind} code {query.code!r}")
        data[name].remove(query.code)
        labels.get(path.kind, {}).pop(query.code, None)

    return await _change(request, edit)


async def put_settings(request: web.Request, body: EngineSettingsBody) -> web.Response:
    """Change engine-wide settings (aging, VIP boost, callbacks...); the next decision uses
    them. Checked by the ACD's own model of the whole configuration (422 naming the field)."""
    given = body.model_dump(exclude_unset=True)
    if any(v is None for v in given.values()):
        raise Unprocessable("a setting given must have a value (leave it out to keep it)")

    def edit(data: dict[str, Any], labels: Labels) -> None:
        data.update(given)

    return await _change(request, edit)


def setup(app: web.Application, deps: Deps) -> None:
    if deps.configuration is None:
        return  # no routing, or a standby (it reads the configuration at takeover)
    app[LIVE_KEY] = deps.configuration
    add_route(
        app,
        Route(
            method="GET", path="/api/config", handler=get_config, tag="configuration",
            summary="The ACD's live configuration", response=ConfigView,
        ),
    )  # fmt: skip
    add_route(
        app,
        Route(
            method="PUT", path="/api/config/settings", handler=put_settings,
            tag="configuration", summary="Change engine-wide settings", body=EngineSettingsBody,
            response=ChangeResult, errors=(409, 422),
        ),
    )  # fmt: skip
    routes = (
        ("queues/{name}", QueuePath, Settings, put_queue, post_queue, delete_queue, "a queue"),
        ("agents/{agent_id}", AgentPath, Settings, put_agent, post_agent, delete_agent, "an agent"),
    )
    for part, path, body, put, post, delete, what in routes:
        for method, handler, status in (("PUT", put, 200), ("POST", post, 201)):
            add_route(
                app,
                Route(
                    method=method, path=f"/api/config/{part}", handler=handler,
                    tag="configuration", summary=f"{'Add' if method == 'POST' else 'Set'} {what}",
                    path_params=path, body=body, response=ChangeResult, status=status,
                    errors=(404, 409, 422),
                ),
            )  # fmt: skip
        add_route(
            app,
            Route(
                method="DELETE", path=f"/api/config/{part}", handler=delete,
                tag="configuration", summary=f"Remove {what}", path_params=path,
                response=ChangeResult, errors=(404, 409, 422),
            ),
        )  # fmt: skip
    for method, on_codes, body_model, query, status, summary in (
        ("PUT", put_codes, CodeList, None, 200, "Replace the reason or disposition codes"),
        ("POST", post_code, Code, None, 201, "Add a reason or disposition code"),
        ("DELETE", delete_code, None, CodeQuery, 200, "Remove a reason or disposition code"),
    ):
        add_route(
            app,
            Route(
                method=method, path="/api/config/codes/{kind}", handler=on_codes,
                tag="configuration", summary=summary, path_params=CodesPath, body=body_model,
                query=query, response=ChangeResult, status=status, errors=(404, 409, 422),
            ),
        )  # fmt: skip
