"""Sessions of the web interface: a server-side session behind a cookie, with CSRF protection.

A web session is a row of ``sessions`` like an API token's (kind 'web'), so it ends the same
way and at the same moment: sign-out, the user deactivated, a change of role or password, an
administrator ending it (the same ``SessionCheck`` is asked on every request). Sign-in goes
through the API's own check, throttled alike.

The cookie holds 32 random bytes; PostgreSQL keeps only their SHA-256. It is HttpOnly,
SameSite=Lax, Path=/, and Secure when the page was served over TLS. Every state-changing
request carries the session's CSRF token (a form field ``csrf`` or the ``X-CSRF-Token`` header
htmx sends) and, where the browser says where it comes from (Origin, Sec-Fetch-Site), comes from
this site. A session unused for ``CRM_WEB_IDLE_MINUTES`` ends (reason "idle").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Middleware

from services.common.identity import Identity

from .. import service
from ..sessions import SessionCheck

log = logging.getLogger(__name__)

COOKIE = "crm_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
TOUCH_EVERY_SECONDS = 60.0  # last_seen_at is written at most once a minute per session
# A cookie's row is read again after this long: as fresh as the SessionCheck's answer, so a
# session another gateway copy saw idle, or a name changed on the profile page, shows within
# a second (a busy page costs one small indexed query a second, as an API token does).
KNOWN_FOR_SECONDS = 1.0
ENDED_IDLE = "idle"
# Paths served without a web session: the API (its own tokens), assets, probes, sign-in.
PUBLIC_PREFIXES = ("/api/", "/static/", "/healthz", "/readyz", "/metrics", "/connexion")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STREAM_SUFFIX = "/evenements"  # a record's event stream (pages/live.py): never a page to show

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SELECT_WEB_SESSION = """
SELECT s.id, s.csrf_token, s.last_seen_at, u.id AS user_id, u.username, u.role,
       u.display_name
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.cookie_hash = $1 AND s.kind = 'web' AND s.ended_at IS NULL AND u.active
  AND s.expires_at > now()
"""
MAKE_WEB_SESSION = """
UPDATE sessions SET kind = 'web', cookie_hash = $2, csrf_token = $3, last_seen_at = now()
WHERE id = $1
"""
TOUCH = "UPDATE sessions SET last_seen_at = now() WHERE id = $1 AND ended_at IS NULL"
END_IDLE = """
UPDATE sessions SET ended_at = now(), ended_reason = $2
WHERE id = $1 AND ended_at IS NULL
  AND last_seen_at < now() - make_interval(secs => $3)
RETURNING id
"""


@dataclass
class WebSession:
    """The signed-in user of a page request."""

    id: uuid.UUID
    identity: Identity
    display_name: str
    csrf_token: str
    last_seen: float  # epoch seconds of the last request known to PostgreSQL
    read_at: float = field(default_factory=time.monotonic)
    api_token: tuple[float, str] | None = None  # (valid until, bearer token) for the API

    @property
    def is_admin(self) -> bool:
        return self.identity.role == "admin"

    @property
    def can_write(self) -> bool:
        return self.identity.can_write


WEB_SESSION_KEY = web.RequestKey("web_session", WebSession)


def cookie_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class WebSessions:
    """Finds the session of a cookie (kept ``KNOWN_FOR_SECONDS``; whether it is still open is
    asked of the shared ``SessionCheck`` on every request), ends idle ones, opens new ones."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        check: SessionCheck,
        idle_seconds: float,
        lifetime_seconds: int,
    ) -> None:
        self._pool, self._check = pool, check
        self.idle_seconds, self.lifetime_seconds = idle_seconds, lifetime_seconds
        self._known: dict[bytes, WebSession] = {}

    async def open(self, attempt: service.LoginAttempt) -> tuple[WebSession, str]:
        """Sign in (throttled like the API: 401, 429) and open a web session: it and its cookie."""
        pool = self._pool()
        identity, session_id = await service.login(pool, attempt, self.lifetime_seconds)
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        await pool.execute(MAKE_WEB_SESSION, session_id, cookie_hash(cookie), csrf)
        row = await pool.fetchrow(SELECT_WEB_SESSION, cookie_hash(cookie))
        display = (row["display_name"] if row is not None else None) or identity.username
        session = WebSession(session_id, identity, display, csrf, time.time())
        self._known[cookie_hash(cookie)] = session
        return session, cookie

    async def find(self, cookie: str) -> WebSession | None:
        """The open session of this cookie, or None (unknown, ended, expired, idle)."""
        key = cookie_hash(cookie)
        session = known = self._known.get(key)
        if session is None or time.monotonic() - session.read_at > KNOWN_FOR_SECONDS:
            session = await self._read(key)
            if session is None:
                self._known.pop(key, None)
                return None
            if known is not None and known.id == session.id:
                session.api_token = known.api_token  # still the same session's token
        if not await self._check.is_open(session.id):
            self._known.pop(key, None)
            return None
        now = time.time()
        if now - session.last_seen > self.idle_seconds:
            ended = await self._pool().fetchval(END_IDLE, session.id, ENDED_IDLE, self.idle_seconds)
            if ended is not None:
                self._check.ended(session.id)
                self._known.pop(key, None)
                log.info("web session %s ended: idle", session.id)
                return None
            session = await self._read(key)  # another copy saw it used meanwhile
            if session is None:
                return None
        if now - session.last_seen > TOUCH_EVERY_SECONDS:
            await self._pool().execute(TOUCH, session.id)
            session.last_seen = now
        return session

    async def _read(self, key: bytes) -> WebSession | None:
        row = await self._pool().fetchrow(SELECT_WEB_SESSION, key)
        if row is None:
            return None
        identity = Identity(str(row["user_id"]), row["username"], row["role"])
        session = WebSession(
            row["id"],
            identity,
            row["display_name"] or row["username"],
            row["csrf_token"],
            row["last_seen_at"].timestamp(),
        )
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[key] = session
        return session

    def forget(self, cookie: str) -> None:
        self._known.pop(cookie_hash(cookie), None)


WEB_SESSIONS_KEY = web.AppKey("web_sessions", WebSessions)


def set_cookie(request: web.Request, response: web.StreamResponse, cookie: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def clear_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", secure=request.secure, samesite="Lax")


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


def same_site(request: web.Request) -> bool:
    """False when the browser says the request comes from another site (Sec-Fetch-Site, or an
    Origin that is not this host); True when it says nothing (old browsers, tools)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    if fetch_site == "same-origin":  # Origin is "null" under Referrer-Policy: no-referrer
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    return urlsplit(origin).netloc == request.host


def wants_stream(request: web.Request) -> bool:
    """A request for server-sent events (a browser's EventSource asks for nothing else)."""
    return "text/event-stream" in request.headers.get("Accept", "").lower()


def sign_in_url(request: web.Request) -> str:
    """The sign-in page, coming back here afterwards: for htmx, to the page the browser shows
    (HX-Current-URL, when on this site), never to the fragment it asked for; otherwise to a
    GET's own address. Never to a record's event stream (``…/evenements``): to its record."""
    back = request.path_qs if request.method == "GET" else None
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        if current.netloc == request.host and current.path.startswith("/"):
            back = current.path + (f"?{current.query}" if current.query else "")
    if back:
        path = unquote(urlsplit(back).path).rstrip("/")
        if path.endswith(STREAM_SUFFIX):
            back = path.removesuffix(STREAM_SUFFIX)
    if back and back != "/":
        return f"/connexion?suite={quote(back, safe='')}"
    return "/connexion"


def web_auth(sessions: WebSessions) -> Middleware:
    """Every page needs a web session (else to the sign-in page, or 401 with HX-Redirect for
    htmx); every state-changing page request needs this site and the session's CSRF token."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.path):
            posted = request.path.startswith("/connexion") and request.method not in SAFE_METHODS
            if posted and not same_site(request):
                raise web.HTTPForbidden(text="Requête d'un autre site refusée.")
            return await handler(request)
        cookie = request.cookies.get(COOKIE)
        session = await sessions.find(cookie) if cookie else None
        if session is None:
            if wants_stream(request):  # an EventSource: nothing to redirect, it just stops
                response = web.Response(
                    status=401, text="Session terminée : reconnectez-vous.",
                    headers={"Cache-Control": "no-store"},
                )  # fmt: skip
                if cookie:
                    clear_cookie(request, response)
                return response
            target = sign_in_url(request)
            if request.headers.get("HX-Request") == "true":
                return web.Response(status=401, headers={"HX-Redirect": target})
            response = web.HTTPSeeOther(target)
            if cookie:
                clear_cookie(request, response)
            raise response
        if request.method not in SAFE_METHODS:
            await check_csrf(request, session)
        request[WEB_SESSION_KEY] = session
        return await handler(request)

    return middleware


async def check_csrf(request: web.Request, session: WebSession) -> None:
    if not same_site(request):
        raise web.HTTPForbidden(text="Requête d'un autre site refusée.")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()  # kept by aiohttp: the handler reads it again for free
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
        raise web.HTTPForbidden(
            text="Jeton de formulaire manquant ou périmé : rechargez la page et recommencez."
        )


def web_session(request: web.Request) -> WebSession:
    return request[WEB_SESSION_KEY]


READ_ONLY_REFUSAL = "Votre rôle ne permet que la consultation."


def require_writer(request: web.Request) -> None:
    """A read-only user's write is refused here (403), before the page asks anything of the
    API, which would refuse it too."""
    if not web_session(request).can_write:
        raise web.HTTPForbidden(text=READ_ONLY_REFUSAL)
