"""The people's pages: static HTML, CSS and JS from ``ccserver/web`` (no build step).

``/desk`` is the agent desktop, ``/board`` the supervisors' wallboard,
``/quality`` the quality page (recordings, scorecard); their scripts and styles
are under ``/web/`` (``common.js`` and ``i18n.js`` shared). The pages talk to
the API with the session cookie that /api/login sets.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..deps import Deps
from ..routes import Route, add_route

WEB = Path(__file__).resolve().parents[2] / "web"
# the pages load only their own scripts and talk only to this server
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


async def desk(request: web.Request) -> web.StreamResponse:
    """The agent desktop page."""
    return web.FileResponse(WEB / "desk.html", headers=_HEADERS)


async def board(request: web.Request) -> web.StreamResponse:
    """The supervisors' wallboard page."""
    return web.FileResponse(WEB / "board.html", headers=_HEADERS)


async def quality(request: web.Request) -> web.StreamResponse:
    """The quality page: recordings, their audio and the scorecard."""
    return web.FileResponse(WEB / "quality.html", headers=_HEADERS)


async def admin(request: web.Request) -> web.StreamResponse:
    """The admin page: the ACD's live configuration (agents, queues, codes)."""
    return web.FileResponse(WEB / "admin.html", headers=_HEADERS)


def setup(app: web.Application, deps: Deps) -> None:
    if deps.people is None:
        return  # no logins: no pages
    add_route(
        app,
        Route(
            method="GET",
            path="/desk",
            handler=desk,
            summary="The agent desktop page",
            tag="pages",
            media="text/html",
            public=True,
        ),
    )
    add_route(
        app,
        Route(
            method="GET",
            path="/board",
            handler=board,
            summary="The supervisors' wallboard page",
            tag="pages",
            media="text/html",
            public=True,
        ),
    )
    add_route(
        app,
        Route(
            method="GET",
            path="/quality",
            handler=quality,
            summary="The quality page (recordings and scores)",
            tag="pages",
            media="text/html",
            public=True,
        ),
    )
    add_route(
        app,
        Route(
            method="GET",
            path="/admin",
            handler=admin,
            summary="The admin page (the live configuration)",
            tag="pages",
            media="text/html",
            public=True,
        ),
    )
    app.router.add_static("/web/", WEB, append_version=False)
