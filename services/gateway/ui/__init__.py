"""The French web interface, served by the gateway: server-rendered pages (Jinja2) enhanced with
htmx, built from the entity declarations the gateway learns from the services.

Each page module keeps its routes in its own ``routes`` table; ``setup_ui`` adds them all, the
assets (ours, htmx, Leaflet from xstatic-leaflet), the session middleware and the HTTP client
the pages reach the API with (see client.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import xstatic.pkg.leaflet as leaflet  # type: ignore[import-untyped]
from aiohttp import web
from prometheus_client import Gauge

from services.common.errors import ProblemError
from services.common.runtime import POOL_KEY, SUPERVISOR_KEY
from services.common.web import REGISTRY_KEY as METRICS_KEY

from ..registry import REGISTRY_KEY
from ..sessions import SessionCheck
from ..web import SETTINGS_KEY
from . import pages
from .client import CLIENT_KEY, TOKEN_SECRET_KEY, ApiError
from .live import LIVE_FEED_KEY, LiveFeed
from .render import CSP_KEY, ENV_KEY, environment, page, page_csp
from .session import (
    WEB_SESSIONS_KEY,
    WebSessions,
    clear_cookie,
    is_public,
    sign_in_url,
    wants_stream,
    web_auth,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBLEM_TITLES = {
    400: "Requête invalide",
    500: "Erreur inattendue",
    403: "Accès refusé",
    404: "Page ou fiche introuvable",
    405: "Action impossible ici",
    409: "Conflit",
    412: "Fiche modifiée entre-temps",
    413: "Envoi trop volumineux",
    422: "Données invalides",
    429: "Trop de demandes",
    503: "Service momentanément indisponible",
}

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


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
    app.middlewares.append(page_errors)  # outside web_auth: its refusals are pages too
    app.middlewares.append(web_auth(web_sessions))
    app[ENV_KEY] = environment()
    app[CSP_KEY] = page_csp(tiles_origin)
    app[TOKEN_SECRET_KEY] = token_secret
    app.cleanup_ctx.append(_http_client)
    app[LIVE_FEED_KEY] = LiveFeed(lambda: app[REGISTRY_KEY].entities())
    app.cleanup_ctx.append(_live_feed)
    app.on_shutdown.append(_end_live_streams)
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


async def _live_feed(app: web.Application) -> AsyncIterator[None]:
    """The records' live notices follow the event stream with the gateway's own broker user
    (supervised, reconnecting: see live.py)."""
    settings = app[SETTINGS_KEY]
    feed = app[LIVE_FEED_KEY]
    feed.max_streams = settings.web_max_streams
    Gauge(
        "crm_web_live_streams", "Live streams of record pages open on this gateway copy",
        registry=app[METRICS_KEY],
    ).set_function(lambda: feed.streams)  # fmt: skip
    task = feed.supervise(
        app[SUPERVISOR_KEY], settings.amqp_url.get_secret_value(), settings.exchange
    )
    task.start()
    yield
    await task.stop()


async def _end_live_streams(app: web.Application) -> None:
    """Streams never end by themselves: the gateway ends them as it stops (before it waits
    for the requests under way)."""
    app[LIVE_FEED_KEY].close()


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page that cannot be shown says why, in French, as a page (the API keeps its
    problem+json): an API answer it could not go on with, a refusal at the edge (a NUL byte, a
    body too large), an unknown address, or a failure here (logged, never shown). A session
    that ended meanwhile goes back to the sign-in page."""
    if is_public(request.path) and not request.path.startswith("/connexion"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        status, detail = exc.answer.status, exc.answer.detail
        if status == 401:  # the session ended meanwhile: as web_auth answers without one
            return _signed_out(request)
        headers = {}
        if "Retry-After" in exc.answer.headers:
            headers["Retry-After"] = exc.answer.headers["Retry-After"]
        return _problem_page(request, status if status >= 400 else 502, detail, headers)
    except ProblemError as exc:
        return _problem_page(request, exc.status, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.status == 401:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        if exc.status == 413:  # aiohttp's own text is English
            detail = _too_large(request, exc.text or "")
        return _problem_page(
            request, exc.status, detail or "Cette adresse ne correspond à aucune page."
        )
    except (asyncio.CancelledError, ConnectionError):
        raise
    except (aiohttp.ClientError, TimeoutError):  # this gateway's own API did not answer
        log.warning("page %s %s: the API did not answer", request.method, request.path)
        return _problem_page(
            request, 503, "Le service ne répond pas pour l'instant : réessayez dans un instant.",
            {"Retry-After": "5"},
        )  # fmt: skip
    except Exception:
        log.exception("page %s %s failed", request.method, request.path)
        return _problem_page(
            request,
            500,
            "Une erreur inattendue est survenue ; elle est consignée. Réessayez, ou revenez "
            "à la page précédente.",
        )


def _signed_out(request: web.Request) -> web.Response:
    target = sign_in_url(request).replace("/connexion", "/connexion?fin=expiree", 1)
    target = target.replace("?fin=expiree?", "?fin=expiree&", 1)
    if request.headers.get("HX-Request") == "true" or wants_stream(request):
        response = web.Response(status=401, headers={"HX-Redirect": target})
    else:
        response = web.Response(status=303, headers={"Location": target})
    clear_cookie(request, response)
    return response


def _too_large(request: web.Request, text: str) -> str:
    if "form fields" in text:
        return (
            "Le formulaire envoie trop de champs à la fois (au plus 1 000) : rien n'a été "
            "enregistré. Un devis se saisit en plusieurs fois au-delà de 190 lignes environ."
        )
    return (
        "L'envoi dépasse la taille maximale acceptée "
        f"({request.client_max_size // (1024 * 1024)} Mo) : rien n'a été enregistré."
    )


def _problem_page(
    request: web.Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    return page(
        request,
        "error.html",
        status=status,
        headers=headers,
        title=PROBLEM_TITLES.get(status, "Erreur"),
        detail=detail or "La demande n'a pas abouti.",
        back=None,
    )
