"""The people's pages: HTML, CSS and JS from ``ccserver/web`` (no build step).

``/desk`` is the agent desktop, ``/board`` the supervisors' wallboard,
``/quality`` the quality role's recordings and scores, ``/admin`` the live
configuration. Each is one frame (``web/frame.html``: head, header, login
form) around its own body (``web/<page>.html``), put together once at start;
scripts and styles are under ``/web/`` (``common.js`` and ``i18n.js`` shared).
The pages talk to the API with the session cookie that /api/login sets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

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


@dataclass(frozen=True)
class Page:
    """A page: its path, its body (``web/<name>.html``) and its title's i18n key."""

    name: str
    title_key: str
    title: str  # the English title, before i18n.js applies the user's language
    summary: str


PAGES = (
    Page("desk", "title", "Agent desktop", "The agent desktop page"),
    Page("board", "board_title", "Supervisor board", "The supervisors' wallboard page"),
    Page("quality", "quality_title", "Quality", "The quality page (recordings and scores)"),
    Page("admin", "admin_title", "Configuration", "The admin page (the live configuration)"),
)


def render(page: Page) -> str:
    """The page's HTML: the shared frame (head, header, login form) around its body."""
    frame = Template((WEB / "frame.html").read_text(encoding="utf-8"))
    own_css = WEB / f"{page.name}.css"
    return frame.substitute(
        page=page.name,
        title_key=page.title_key,
        title=page.title,
        stylesheet=f'<link rel="stylesheet" href="/web/{page.name}.css">'
        if page.name != "desk" and own_css.exists()
        else "",
        body=(WEB / f"{page.name}.html").read_text(encoding="utf-8"),
    )


def handler(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    html = render(page)

    async def serve(request: web.Request) -> web.StreamResponse:
        return web.Response(text=html, content_type="text/html", headers=_HEADERS)

    serve.__name__ = page.name  # the OpenAPI operation id
    serve.__doc__ = page.summary
    return serve


def setup(app: web.Application, deps: Deps) -> None:
    if deps.people is None:
        return  # no logins: no pages
    for page in PAGES:
        add_route(
            app,
            Route(
                method="GET",
                path=f"/{page.name}",
                handler=handler(page),
                summary=page.summary,
                tag="pages",
                media="text/html",
                public=True,
            ),
        )
    app.router.add_static("/web/", WEB, append_version=False)
