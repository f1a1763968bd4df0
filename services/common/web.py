"""HTTP helpers shared by the services: JSON and problem responses, the error, identity and
metrics middlewares, and the health and metrics routes."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel

from .dberrors import DOUBTFUL, is_transient
from .errors import (
    FieldError,
    Forbidden,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from .identity import HEADER, Identity, IdentityVerifier, InvalidIdentity
from .validation import NUL_MESSAGE, parse_json, validate

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROBLEM_TYPE_BASE = "https://webleads-tracker.org/problems/"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 1024 * 1024

IDENTITY_KEY = web.RequestKey("identity", Identity)
REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
READINESS_KEY = web.AppKey("readiness_checks", list[Callable[[], Awaitable[str | None]]])

_HTTP_TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Action non autorisée",
    404: "Introuvable",
    405: "Méthode non autorisée",
    406: "Format de réponse non disponible",
    413: "Requête trop volumineuse",
    414: "Adresse trop longue",
    415: "Type de contenu non pris en charge",
    431: "En-têtes trop volumineux",
}
# What aiohttp's parser accepts: the request target (path and query) and each header line. They
# differ so that a refusal tells which one was too long (LineTooLong carries the limit).
MAX_REQUEST_TARGET_BYTES = 8192
MAX_HEADER_BYTES = 8190
HANDLER_ARGS = {"max_line_size": MAX_REQUEST_TARGET_BYTES, "max_field_size": MAX_HEADER_BYTES}

# Security headers of every answer (OWASP ASVS V14.4). Pages may load their own scripts and styles
# (Swagger UI: its start script is a file, its icons data: URIs); nothing else loads anything.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _default(value: Any) -> Any:
    """What orjson does not know: asyncpg's UUID type and Decimal (money as a string)."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(data), status=status, content_type="application/json", headers=headers
    )


def problem_response(
    status: int,
    title: str,
    detail: str,
    type_suffix: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type_suffix,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    response = web.Response(body=dumps(body), status=status, headers=headers)
    response.content_type = "application/problem+json"
    return response


def problem_from(exc: ProblemError) -> web.Response:
    headers = None
    if isinstance(exc, ServiceUnavailable | TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": exc.challenge}
    errors = getattr(exc, "errors", None)
    return problem_response(exc.status, exc.title, exc.detail, exc.type_suffix, errors, headers)


@web.middleware
async def refuse_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    """PostgreSQL text cannot hold U+0000: a path or query parameter carrying one is refused,
    naming it, rather than failing later (after authentication: placed after it)."""
    if "\x00" in request.path:  # no record, code or name can hold one
        raise NotFound("Aucune ressource à cette adresse (caractère nul).")
    if "\x00" in request.query_string:
        names = sorted({k for k, v in request.query.items() if "\x00" in k + v})
        raise ValidationFailed([FieldError(name, NUL_MESSAGE) for name in names])
    return await handler(request)


def _byte_size(size: int) -> str:
    """A size as people read it, and exact: "6 Mio (6291456 octets)"."""
    for unit, factor in (("Mio", 1024 * 1024), ("Kio", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit} ({size} octets)"
    return f"{size} octets"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as problem+json; never a stack trace."""
    try:
        return await handler(request)
    except ProblemError as exc:
        return problem_from(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        title = _HTTP_TITLES.get(exc.status, exc.reason)
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else title
        if exc.status == 413:  # aiohttp's own text is English
            detail = (
                "Le corps de la requête dépasse la taille maximale acceptée : "
                f"{_byte_size(request.client_max_size)}."
            )
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(exc.status, title, detail, f"http-{exc.status}", headers=headers)
    except asyncpg.DataError as exc:
        # A value PostgreSQL cannot hold that no check caught: the client's, not a failure here.
        log.warning("%s %s: value refused by the database: %s", request.method, request.path, exc)
        return problem_response(
            422,
            "Données invalides",
            "Une valeur de la requête dépasse ce que la base de données peut enregistrer.",
            "validation",
        )
    except Exception as exc:
        if is_transient(exc):  # unreachable, restarting, connection cut: retrying later works
            log.warning(
                "%s %s: database unavailable: %s: %s",
                request.method,
                request.path,
                type(exc).__name__,
                exc,
                exc_info=isinstance(exc, DOUBTFUL),  # these may also be a bug: keep the trace
            )
            return problem_from(
                ServiceUnavailable("La base de données est momentanément injoignable.")
            )
        log.exception("%s %s failed", request.method, request.path)
        return problem_response(
            500, "Erreur interne", "Une erreur inattendue est survenue.", "internal"
        )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no sniffing, no framing, no referrer; no caching of the API's data
    unless the handler said otherwise."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    page = response.content_type == "text/html"
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP if page else API_CSP)
    if request.path.startswith("/api/v1/"):
        response.headers.setdefault("Cache-Control", "no-store")


def _parse_problem(exc: BaseException | None) -> tuple[int, str]:
    """Status and French detail for a request aiohttp could not parse."""
    if isinstance(exc, LineTooLong):
        if exc.args[1:2] == (MAX_REQUEST_TARGET_BYTES,):
            return 414, (
                f"L'adresse demandée dépasse {MAX_REQUEST_TARGET_BYTES} octets ; "
                "raccourcissez-la (moins de paramètres, ou un corps de requête)."
            )
        return 431, f"Un en-tête de la requête dépasse {MAX_HEADER_BYTES} octets."
    if isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message:
        return 431, "La requête porte trop d'en-têtes."
    return 400, "Requête HTTP mal formée."


def _handle_error(
    self: RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """What aiohttp answers when a request cannot be parsed or its handler broke the protocol:
    problem+json in French, with the security headers, instead of text/plain with a repr."""
    if status >= 500:
        self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        detail = "Une erreur inattendue est survenue."
    else:
        status, detail = _parse_problem(exc)
        log.info("request from %s refused (%d): %s", request.remote, status, message or exc)
    if request.writer.output_size > 0:  # as aiohttp: too late for another answer
        raise ConnectionError("Response is sent already, cannot send another response")
    title = _HTTP_TITLES.get(status, "Erreur interne")
    response = problem_response(
        status, title, detail, "internal" if status >= 500 else f"http-{status}"
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = API_CSP
    response.force_close()
    return response


# aiohttp offers no hook for this answer (aio-libs/aiohttp#3287): replace its method, once.
setattr(RequestHandler, "handle_error", _handle_error)  # noqa: B010


def identity_middleware(
    secret: str,
) -> Middleware:
    """Services refuse any call without a valid identity signed by the gateway."""
    verify = IdentityVerifier(secret)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        try:
            identity = verify(request.headers.get(HEADER))
        except InvalidIdentity as exc:
            raise Unauthorized("Appel interne refusé : identité absente ou invalide.") from exc
        if request.method not in READ_METHODS and not identity.can_write:
            raise Forbidden("Votre rôle (lecture seule) ne permet pas de modifier les données.")
        request[IDENTITY_KEY] = identity
        return await handler(request)

    return middleware


def metrics_middleware(registry: CollectorRegistry, service: str) -> Middleware:
    requests = Counter(
        "http_requests_total",
        "HTTP requests served",
        ["service", "method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency",
        ["service", "method", "route"],
        registry=registry,
    )

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            requests.labels(service, request.method, route, str(status)).inc()
            latency.labels(service, request.method, route).observe(time.perf_counter() - started)

    return middleware


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (415 when not JSON, 400 when malformed)."""
    if request.content_type not in ("application/json", "application/merge-patch+json"):
        raise UnsupportedMediaType("Le corps de la requête doit être du JSON (application/json).")
    return parse_json(await request.read())


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body validated against ``model`` (400, 415 or 422 otherwise)."""
    return validate(model, await read_json(request))


def identity_of(request: web.Request) -> Identity:
    return request[IDENTITY_KEY]


async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    failures = [f for f in [await check() for check in request.app[READINESS_KEY]] if f]
    if failures:
        return problem_response(
            503, "Service pas prêt", "; ".join(failures), "not-ready", headers={"Retry-After": "5"}
        )
    return json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest(request.app[REGISTRY_KEY]))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def make_app(
    service: str, internal_secret: str | None, max_body_bytes: int = MAX_BODY_BYTES
) -> web.Application:
    """An application with the common middlewares and the health and metrics routes.

    ``internal_secret`` None means the app checks identity itself (the gateway).
    """
    registry = CollectorRegistry()
    middlewares: list[Middleware] = [metrics_middleware(registry, service), error_middleware]
    if internal_secret is not None:  # the gateway adds its own authentication, then refuse_nul
        middlewares += [identity_middleware(internal_secret), refuse_nul]
    app = web.Application(
        middlewares=middlewares, client_max_size=max_body_bytes, handler_args=HANDLER_ARGS
    )
    app.on_response_prepare.append(security_headers)
    app[REGISTRY_KEY] = registry
    app[READINESS_KEY] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
