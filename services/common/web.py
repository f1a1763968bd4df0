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
from aiohttp.typedefs import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel

from .errors import (
    FieldError,
    Forbidden,
    NotFound,
    ProblemError,
    ServiceUnavailable,
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
    415: "Type de contenu non pris en charge",
}
_DB_UNREACHABLE = (OSError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError, TimeoutError)


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
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
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
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(exc.status, title, detail, f"http-{exc.status}", headers=headers)
    except _DB_UNREACHABLE as exc:
        log.warning("%s %s: database unreachable: %s", request.method, request.path, exc)
        return problem_from(ServiceUnavailable("La base de données est momentanément injoignable."))
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem_response(
            500, "Erreur interne", "Une erreur inattendue est survenue.", "internal"
        )


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
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app[REGISTRY_KEY] = registry
    app[READINESS_KEY] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
