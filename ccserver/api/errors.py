"""The one place where errors become HTTP answers: every error leaves as ``{"error": ...}``.

Handlers raise; they never format an error response themselves. The domain's
own errors (ValueError and friends) are turned into :class:`ApiError` by the
handler that knows what they mean, with ``raise BadRequest(str(exc)) from exc``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from pydantic import ValidationError

from ccserver.store.reach import cause, unreachable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error the client caused, with the status that says so."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    """The resource exists but is not in a state that allows this (a closed ticket)."""

    status = 409


class InvalidInput(BadRequest):
    """A request part (path, query or body) that its model rejected."""

    def __init__(self, where: str, exc: ValidationError) -> None:
        self.where = where
        self.details = field_errors(where, exc)
        super().__init__("; ".join(f"{d['field']}: {d['problem']}" for d in self.details))


def field_errors(where: str | None, exc: ValidationError) -> list[dict[str, Any]]:
    """Each problem of a validation as ``{"field": "query.aht", "problem": "..."}``."""
    out = []
    for e in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in e["loc"])
        field = ".".join(p for p in (where, path) if p) or "(top level)"
        out.append({"field": field, "problem": e["msg"]})
    return out


def error_response(
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


# headers of an aiohttp HTTPException worth keeping on the JSON answer (Allow on a 405)
_KEPT_HEADERS = (hdrs.ALLOW, hdrs.WWW_AUTHENTICATE, hdrs.RETRY_AFTER)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate every error into a small JSON body, never an HTML page or a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        details = exc.details if isinstance(exc, InvalidInput) else None
        return error_response(exc.status, exc.message, details)
    except ValidationError as exc:
        details = field_errors(None, exc)
        return error_response(400, "; ".join(f"{d['field']}: {d['problem']}" for d in details))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are answers, not errors
        # aiohttp's own text says more than the reason when it has one (the 413 names the limit)
        text = exc.text or ""
        message = exc.reason if not text or text == f"{exc.status}: {exc.reason}" else text
        kept = {str(h): exc.headers[h] for h in _KEPT_HEADERS if h in exc.headers}
        return error_response(exc.status, message, headers=kept)
    except Exception as exc:
        if unreachable(exc):  # a database outage: the client may try again, no bug to trace
            log.warning("%s %s: the database is unavailable (%s)",
                        request.method, request.path, cause(exc))  # fmt: skip
            return error_response(
                503, "the database is unavailable; try again shortly", headers={"Retry-After": "5"}
            )
        # the traceback goes to the log once; the client learns nothing about the inside
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal error")
