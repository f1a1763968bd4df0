"""The French web interface, served by the gateway: server-rendered pages (Jinja2) enhanced with
htmx, built from the entity declarations the gateway learns from the services.

Each page module keeps its routes in its own ``routes`` table; ``setup_ui`` adds them all, the
assets (ours, htmx, Leaflet from xstatic-leaflet), the session middleware and the HTTP client
the pages reach the API with (see client.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import xstatic.pkg.leaflet as leaflet  # type: ignore[import-untyped]
from aiohttp import web

from services.common.runtime import POOL_KEY

from ..sessions import SessionCheck
from . import pages
from .client import CLIENT_KEY, TOKEN_SECRET_KEY
from .render import CSP_KEY, ENV_KEY, environment, page_csp
from .session import WEB_SESSIONS_KEY, WebSessions, web_auth

STATIC = Path(__file__).parent / "static"


def setup_ui(
    app: web.Application,
    *,
    sessions: SessionCheck,
    token_secret: str,
    idle_minutes: int,
    lifetime_hours: int,
    tiles_origin: str | None,
) -> None:
    """The pages' middleware, keys, routes and assets (before the API's forwarding route)."""
    web_sessions = app[WEB_SESSIONS_KEY] = WebSessions(
        lambda: app[POOL_KEY], sessions, idle_minutes * 60.0, lifetime_hours * 3600
    )
    app.middlewares.append(web_auth(web_sessions))
    app[ENV_KEY] = environment()
    app[CSP_KEY] = page_csp(tiles_origin)
    app[TOKEN_SECRET_KEY] = token_secret
    app.cleanup_ctx.append(_http_client)
    for module in pages.MODULES:
        app.router.add_routes(module.routes)
    app.router.add_static("/static/leaflet/", Path(leaflet.BASE_DIR))
    app.router.add_static("/static/", STATIC)


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=128, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=330)  # a bulk merge may take its 300 s
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        app[CLIENT_KEY] = session
        yield
