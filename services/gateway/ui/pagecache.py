"""Rendered pages kept as long as what they show, in the 360° view cache (view_cache.py).

Rendering a record page costs twenty times its JSON; most pages are read again unchanged. An
account's page is kept under its account, so it is dropped exactly when its 360° view is
(a write through this gateway, an event naming the account); a list page under
``EVERY_RECORD``, dropped by any event and any write. While the cache's event feed is down,
nothing is kept and every page is rendered.

A kept page is one user's (the variant names the user): it is rendered with marks in place of
what belongs to one session (its CSRF token, the user's name), put back on each answer. The
marks are random for each rendering and kept beside the page, never in it, so nobody can
write them into a record to have another session's token or name put in their place (they
would have to guess 124 random bits). Only plain GETs without a query string are kept: a search, a
filter, a message after saving or an htmx fragment is rendered each time.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from markupsafe import escape

from ..view_cache import EVERY_RECORD
from ..web import VIEW_CACHE_KEY
from .render import CSP_KEY
from .session import WEB_SESSION_KEY, web_session

MARK_BYTES = 32  # each mark: "m" and 31 random hexadecimal digits (124 random bits)
Render = Callable[[], Awaitable[web.Response]]
INCOMPLETE_KEY = web.RequestKey("page_incomplete", bool)


def incomplete(request: web.Request) -> None:
    """This page shows less than it should (a service away): answer it, do not keep it."""
    request[INCOMPLETE_KEY] = True


def _marks() -> tuple[str, str]:
    return "m" + secrets.token_hex(16)[:31], "m" + secrets.token_hex(16)[:31]


def _personal(request: web.Request, body: bytes, csrf_mark: bytes, name_mark: bytes) -> bytes:
    """``body`` with this session's token and name in place of the marks."""
    session = web_session(request)
    return body.replace(csrf_mark, session.csrf_token.encode()).replace(
        name_mark, str(escape(session.display_name)).encode()
    )


def _answer(request: web.Request, kept: bytes) -> web.Response:
    csrf_mark, name_mark = kept[:MARK_BYTES], kept[MARK_BYTES : 2 * MARK_BYTES]
    body = _personal(request, kept[2 * MARK_BYTES :], csrf_mark, name_mark)
    response = web.Response(body=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = request.app[CSP_KEY]
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request"
    return response


async def kept(request: web.Request, key: str, variant: str, render: Render) -> web.Response:
    """The page under (``key``, ``variant``, the user): kept, else rendered by ``render`` with
    random marks for the session's token and name, and kept (with its marks) if it succeeded."""
    cache = request.app[VIEW_CACHE_KEY]
    session = web_session(request)
    variant = f"page:{session.identity.user_id}:{session.identity.role}:{variant}"
    body = cache.get(key, variant)
    if body is not None:
        return _answer(request, body)
    generation = cache.generation
    csrf_mark, name_mark = _marks()
    request[WEB_SESSION_KEY] = dataclasses.replace(
        session, csrf_token=csrf_mark, display_name=name_mark
    )
    try:
        response = await render()
    finally:
        request[WEB_SESSION_KEY] = session
    if isinstance(response.body, bytes) and response.content_type == "text/html":
        marks = csrf_mark.encode() + name_mark.encode()
        if response.status == 200 and not request.get(INCOMPLETE_KEY):
            cache.store(key, variant, marks + response.body, generation)
        response.body = _personal(request, response.body, *marks_of(marks))
    return response


def marks_of(marks: bytes) -> tuple[bytes, bytes]:
    return marks[:MARK_BYTES], marks[MARK_BYTES:]


async def record_page(request: web.Request, account_id: str, render: Render) -> web.Response:
    """An account's page, kept with its 360° view (plain GETs only)."""
    if request.query_string or request.headers.get("HX-Request"):
        return await render()
    return await kept(request, account_id, "record", render)


async def list_page(request: web.Request, render: Render) -> web.Response:
    """A list's default view, kept until any record changes. A search, a filter or another
    page is rendered each time: kept, any query string would be a new entry, and a reader
    could push everyone's 360° views out of the cache. An htmx fragment carries headers of
    its own (the address to show): rendered too."""
    if request.query_string or request.headers.get("HX-Request"):
        return await render()
    return await kept(request, EVERY_RECORD, request.path, render)
