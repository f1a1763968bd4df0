"""Sign in, sign out, and the home page."""

from __future__ import annotations

from aiohttp import web

from services.common.errors import ProblemError
from services.common.runtime import POOL_KEY

from ... import service
from ...sessions import SessionCheck
from ...web import SESSION_CHECK_KEY
from ..render import page
from ..session import COOKIE, WEB_SESSIONS_KEY, clear_cookie, set_cookie, web_session

routes = web.RouteTableDef()
HOME = "/crm/accounts"
ENDED_MESSAGES = {
    "deconnecte": "Vous êtes déconnecté.",
    "expiree": "Votre session a pris fin : reconnectez-vous.",
}


def _safe_next(value: str | None) -> str:
    """Only a path of this site (never "//host", "/\\host" or a scheme): an open redirect
    otherwise. Browsers drop tabs and line breaks from a URL ("/\t/host" is "//host" to them)
    and read a backslash as a slash, so a target holding any of them, or any space or control
    character, is not followed either (the pages' own addresses are percent-encoded)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and value.isprintable()
        and not any(c.isspace() or c == "\\" for c in value)
        and len(value) <= 2000
    ):
        # A record's event stream is no page to land on: its record instead.
        return value.split("?")[0].removesuffix("/evenements") if "/evenements" in value else value
    return HOME


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    web_session(request)  # signed in (the middleware sent others to /connexion)
    raise web.HTTPSeeOther(HOME)


@routes.get("/connexion")
async def sign_in_form(request: web.Request) -> web.Response:
    cookie = request.cookies.get(COOKIE)
    if cookie and await request.app[WEB_SESSIONS_KEY].find(cookie) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("suite")))
    return page(
        request,
        "signin.html",
        next=_safe_next(request.query.get("suite")),
        username="",
        error=None,
        message=ENDED_MESSAGES.get(request.query.get("fin", "")),
    )


@routes.post("/connexion")
async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", ""))[:150]
    password = str(form.get("password", ""))[:1024]
    target = _safe_next(str(form.get("suite", "")))
    if not username.strip() or not password:
        return page(
            request,
            "signin.html",
            status=422,
            next=target,
            username=username,
            error="Saisissez votre identifiant et votre mot de passe.",
            message=None,
        )
    if "\x00" in username:  # no user has one (PostgreSQL text cannot hold it): not looked up
        return page(
            request,
            "signin.html",
            status=401,
            next=target,
            username=username.replace("\x00", ""),
            error="Identifiant ou mot de passe incorrect.",
            message=None,
        )
    attempt = service.LoginAttempt(
        username, password, request.remote or "inconnue", request.headers.get("User-Agent")
    )
    try:
        _session, cookie = await request.app[WEB_SESSIONS_KEY].open(attempt)
    except ProblemError as exc:  # 401 wrong password, 429 throttled
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return page(
            request,
            "signin.html",
            status=exc.status,
            headers=headers,
            next=target,
            username=username,
            error=exc.detail,
            message=None,
        )
    await _end_replaced(request)
    response = web.HTTPSeeOther(target)
    set_cookie(request, response, cookie)
    raise response


async def _end_replaced(request: web.Request) -> None:
    """Signing in again in a browser ends the session its old cookie held: a cookie replaced
    must not stay usable elsewhere."""
    old = request.cookies.get(COOKIE)
    if not old:
        return
    sessions = request.app[WEB_SESSIONS_KEY]
    replaced = await sessions.find(old)
    if replaced is not None:
        await service.logout(request.app[POOL_KEY], replaced.id)
        request.app[SESSION_CHECK_KEY].ended(replaced.id)
        sessions.forget(old)


@routes.post("/deconnexion")
async def sign_out(request: web.Request) -> web.Response:
    session = web_session(request)
    await service.logout(request.app[POOL_KEY], session.id)
    checker: SessionCheck = request.app[SESSION_CHECK_KEY]
    checker.ended(session.id)
    cookie = request.cookies.get(COOKIE)
    if cookie:
        request.app[WEB_SESSIONS_KEY].forget(cookie)
    response = web.HTTPSeeOther("/connexion?fin=deconnecte")
    clear_cookie(request, response)
    raise response
