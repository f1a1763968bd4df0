"""Rendered pages kept as long as what they show, in the 360° view cache (view_cache.py).

Rendering a record page costs twenty times its JSON; most pages are read again unchanged. An
account's page is kept under its account, so it is dropped exactly when its 360° view is
(a write through this gateway, an event naming the account); a list page under
``EVERY_RECORD``, dropped by any event and any write. While the cache's event feed is down,
nothing is kept and every page is rendered.

A kept page is shared by the users of one role, so it is rendered with marks in place of what
belongs to one session (its CSRF token, the user's name), put back on each answer. A template
must show nothing else of its user but what their role decides: ``test_ui_page_cache`` checks
two users of one role see their own. Only plain GETs are kept: a query string that is not the
list's own (a message after saving) or an htmx fragment is rendered each time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from aiohttp import web
from markupsafe import escape

from ..view_cache import EVERY_RECORD
from ..web import VIEW_CACHE_KEY
from .render import CSP_KEY
from .session import WEB_SESSION_KEY, web_session

CSRF_MARK = "csrf-mark-5b0e7f3a9c2d"
NAME_MARK = "name-mark-8d1c4a6e2f0b"
_CSRF, _NAME = CSRF_MARK.encode(), NAME_MARK.encode()
Render = Callable[[], Awaitable[web.Response]]


def _answer(request: web.Request, kept: bytes) -> web.Response:
    session = web_session(request)
    body = kept.replace(_CSRF, session.csrf_token.encode()).replace(
        _NAME, str(escape(session.display_name)).encode()
    )
    response = web.Response(body=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = request.app[CSP_KEY]
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request"
    return response


async def kept(request: web.Request, key: str, variant: str, render: Render) -> web.Response:
    """The page under (``key``, ``variant`` and the user's role): kept, else rendered by
    ``render`` with the session's marks and kept if it succeeded."""
    cache = request.app[VIEW_CACHE_KEY]
    session = web_session(request)
    variant = f"page:{session.identity.role}:{variant}"
    body = cache.get(key, variant)
    if body is not None:
        return _answer(request, body)
    generation = cache.generation
    request[WEB_SESSION_KEY] = dataclasses.replace(
        session, csrf_token=CSRF_MARK, display_name=NAME_MARK
    )
    try:
        response = await render()
    finally:
        request[WEB_SESSION_KEY] = session
    if response.status == 200 and isinstance(response.body, bytes):
        cache.store(key, variant, response.body, generation)
    return _personal(request, response)


def _personal(request: web.Request, response: web.Response) -> web.Response:
    """The page as rendered (its own headers kept), with this session's token and name."""
    if isinstance(response.body, bytes) and response.content_type == "text/html":
        session = web_session(request)
        response.body = response.body.replace(_CSRF, session.csrf_token.encode()).replace(
            _NAME, str(escape(session.display_name)).encode()
        )
    return response


async def record_page(request: web.Request, account_id: str, render: Render) -> web.Response:
    """An account's page, kept with its 360° view (plain GETs only)."""
    if request.query_string or request.headers.get("HX-Request"):
        return await render()
    return await kept(request, account_id, "record", render)


async def list_page(request: web.Request, render: Render) -> web.Response:
    """A list page, kept under its address until any record changes (whole pages only: an
    htmx fragment carries headers of its own, such as the address to show)."""
    if request.headers.get("HX-Request"):
        return await render()
    return await kept(request, EVERY_RECORD, request.path_qs, render)
