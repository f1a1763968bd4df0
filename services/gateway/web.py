"""Public routes of the gateway: authentication, users, and the API served by the services."""

from __future__ import annotations

import asyncio
import hmac
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import swagger_ui_bundle
from aiohttp import web
from aiohttp.typedefs import Middleware

from services.common.errors import (
    FieldError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from services.common.identity import Identity
from services.common.meta import pattern_regex
from services.common.records import etag, parse_record_id, refuse_unknown_fields
from services.common.runtime import POOL_KEY
from services.common.validation import parse_json, validate
from services.common.web import (
    IDENTITY_KEY,
    READ_METHODS,
    identity_of,
    json_response,
    read_body,
    read_json,
)

from . import calls, domain, openapi, printing, service, views
from .proxy import Upstreams
from .registry import REGISTRY_KEY, Registry
from .schemas import (
    CallRequest,
    LoginBody,
    PasswordChange,
    ProfileFields,
    TelephonyEvent,
    UserCreate,
    UserFields,
)
from .sessions import SessionCheck
from .settings import GatewaySettings
from .telephony import SIGNATURE_HEADER, TelephonyLink, signature_valid
from .view_cache import ViewCache

SETTINGS_KEY = web.AppKey("gateway_settings", GatewaySettings)
UPSTREAMS_KEY = web.AppKey("upstreams", Upstreams)
DOCUMENTS_KEY = web.AppKey("openapi_documents", openapi.Documents)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Routes of /api/v1 reachable without a bearer token.
BULK_MERGE_SECONDS = 300  # up to 500 documents, each converted to PDF on request
ANONYMOUS_ROUTES = frozenset(
    {
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/telephony/events"),  # callbacks: signed instead
        ("GET", "/api/v1/openapi.json"),
        ("HEAD", "/api/v1/openapi.json"),
    }
)
TELEPHONY_KEY = web.AppKey("telephony", TelephonyLink)
VIEW_CACHE_KEY = web.AppKey("view_cache", ViewCache)
SESSION_CHECK_KEY = web.AppKey("session_check", SessionCheck)
SESSION_ID_KEY = web.RequestKey("session_id", uuid.UUID)
# Writes every role may make, read-only included: signing out, one's own profile and password,
# and ending one of one's own sessions (the route checks that the session is the caller's).
SELF_SERVICE_WRITES = frozenset(
    {
        ("POST", "/api/v1/auth/logout"),
        ("PATCH", "/api/v1/users/me"),
        ("POST", "/api/v1/users/me/password"),
        ("DELETE", "/api/v1/users/{id}/sessions/{session_id}"),
    }
)


def _route_of(request: web.Request) -> str:
    """The route template the request matched (its path where none matched)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def drop_views_on_write(cache: ViewCache) -> Middleware:
    """Every successful write forwarded by this gateway drops the composed views it keeps."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method not in READ_METHODS and response.status < 400:
            cache.drop()
        return response

    return middleware


def metrics_guard(token: str | None) -> Middleware:
    """The gateway's /metrics is public-facing: absent (404) without CRM_METRICS_TOKEN, else
    served for "Authorization: Bearer <that token>" only. The services' own /metrics listen on
    loopback, behind the gateway."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/metrics":
            return await handler(request)
        if token is None:
            raise web.HTTPNotFound()
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise Unauthorized("Les métriques demandent leur jeton (Authorization: Bearer …).")
        return await handler(request)

    return middleware


CORS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_REQUEST_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, Cache-Control"
CORS_EXPOSED_HEADERS = "ETag, Location, Retry-After, Content-Disposition, WWW-Authenticate"


def cors_preflight(origins: frozenset[str]) -> Middleware:
    """A preflight from a configured origin is answered here, before authentication (browsers
    send no token with it); any other goes on as an ordinary OPTIONS request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.method == "OPTIONS"
            and request.headers.get("Origin") in origins
            and "Access-Control-Request-Method" in request.headers
        ):
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": CORS_METHODS,
                    "Access-Control-Allow-Headers": CORS_REQUEST_HEADERS,
                    "Access-Control-Max-Age": "600",
                },
            )
        return await handler(request)

    return middleware


def cors_headers(
    origins: frozenset[str],
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Every answer to a configured origin names it (errors included); other origins get no
    Access-Control-* header at all."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
        if origins:
            response.headers.add("Vary", "Origin")

    return on_prepare


LEARNING_SECONDS = 5.0  # how long a request waits for services not described yet
T = TypeVar("T")


async def known(request: web.Request, find: Callable[[Registry], T | None]) -> T | None:
    """What ``find`` finds in what the gateway knows of the services, at once when it is known.
    Not found while some service has not described itself yet (down as the gateway started):
    it waits for them (a few seconds), then 503 with Retry-After naming them, since the missing
    one may serve it. None: not found, every service known (the caller's 404)."""
    registry = request.app[REGISTRY_KEY]
    found = await registry.awaited(lambda: find(registry), LEARNING_SECONDS)
    missing = registry.missing()
    if found is None and missing:
        raise ServiceUnavailable(not_described(missing))
    return found


def not_described(missing: list[str]) -> str:
    if len(missing) == 1:
        return (
            f"Le service {missing[0]} ne s'est pas encore décrit à la passerelle (arrêté ou "
            "en démarrage) : ce qu'il sert est indisponible ; réessayez."
        )
    return (
        f"Les services {', '.join(missing)} ne se sont pas encore décrits à la passerelle "
        "(arrêtés ou en démarrage) : ce qu'ils servent est indisponible ; réessayez."
    )


def audited_collections(registry: Registry) -> dict[str, str]:
    """Public collection -> entity, of every entity whose trail is kept (its declaration says
    ``audited``): its trail is served at ``/api/v1/{collection}/{id}/audit``."""
    return {e["collection"]: e["name"] for e in registry.entities() if e.get("audited")}


routes = web.RouteTableDef()


def auth_middleware(token_secret: str, sessions: SessionCheck) -> Middleware:
    """A bearer token must be well signed, unexpired, and name a session still open whose user
    is active (checked in PostgreSQL, see sessions.py)."""
    tokens = domain.VerifiedTokens(token_secret)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            not request.path.startswith("/api/v1/")
            or (request.method, request.path) in ANONYMOUS_ROUTES
        ):
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(
                "Jeton d'accès manquant : connectez-vous (POST /api/v1/auth/login)."
            )
        try:
            claims = tokens.claims(token.strip())
        except domain.InvalidToken as exc:
            raise _invalid_token("Jeton d'accès invalide ou expiré : reconnectez-vous.") from exc
        if claims.session_id is None or not await sessions.is_open(claims.session_id):
            raise _invalid_token(
                "Votre session est terminée (déconnexion, changement de mot de passe ou de rôle, "
                "compte désactivé ou session fermée par un administrateur) : reconnectez-vous."
            )
        identity = claims.identity
        if (
            request.method not in READ_METHODS
            and identity.role == "readonly"
            and (request.method, _route_of(request)) not in SELF_SERVICE_WRITES
        ):
            raise Forbidden("Votre rôle (lecture seule) ne permet pas de modifier les données.")
        request[IDENTITY_KEY] = identity
        request[SESSION_ID_KEY] = claims.session_id
        return await handler(request)

    return middleware


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail)


def _invalid_token(detail: str) -> Unauthorized:
    """401 for a token that cannot be used any more (RFC 6750: error="invalid_token")."""
    return Unauthorized(detail, challenge='Bearer error="invalid_token"')


def _client_address(request: web.Request) -> str:
    """The client's address, as the sign-in throttle counts it: the socket's peer, or for a
    web page's API call (whose peer is the gateway itself) the browser's address the page
    vouches for with domain.client_address_proof."""
    told = request.headers.get(domain.CLIENT_ADDRESS_HEADER)
    proof = request.headers.get(domain.CLIENT_PROOF_HEADER)
    session_id = request.get(SESSION_ID_KEY)
    if told and proof and session_id is not None:
        secret = request.app[SETTINGS_KEY].token_secret.get_secret_value()
        expected = domain.client_address_proof(secret, told, session_id)
        if hmac.compare_digest(proof.encode(), expected.encode()):
            return told
    return request.remote or "inconnue"


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await read_body(request, LoginBody)
    settings = request.app[SETTINGS_KEY]
    attempt = service.LoginAttempt(
        body.username, body.password, _client_address(request), request.headers.get("User-Agent")
    )
    identity, session_id = await service.login(  # 429 (LoginThrottled) while locked
        request.app[POOL_KEY], attempt, settings.token_ttl_seconds
    )
    token = domain.issue_token(
        identity,
        settings.token_secret.get_secret_value(),
        settings.token_ttl_seconds,
        session_id=session_id,
    )
    return json_response(
        {"access_token": token, "token_type": "bearer", "expires_in": settings.token_ttl_seconds},
        headers={"Cache-Control": "no-store"},
    )


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """End the session of the token used: it is refused from now on, by every gateway copy."""
    session_id = request[SESSION_ID_KEY]
    await service.logout(request.app[POOL_KEY], session_id)
    request.app[SESSION_CHECK_KEY].ended(session_id)
    return web.Response(status=204)


@routes.get("/api/v1/users/{id}/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    items = await service.list_sessions(
        request.app[POOL_KEY], identity_of(request), request.match_info["id"]
    )
    current = request[SESSION_ID_KEY]
    return json_response({"items": [{**item, "current": item["id"] == current} for item in items]})


@routes.delete("/api/v1/users/{id}/sessions")
async def end_user_sessions(request: web.Request) -> web.Response:
    await service.end_user_sessions(
        request.app[POOL_KEY],
        identity_of(request),
        request.match_info["id"],
        request.app[SESSION_CHECK_KEY].ended,
    )
    return web.Response(status=204)


@routes.delete("/api/v1/users/{id}/sessions/{session_id}")
async def end_one_session(request: web.Request) -> web.Response:
    await service.end_one_session(
        request.app[POOL_KEY],
        identity_of(request),
        request.match_info["id"],
        request.match_info["session_id"],
        request.app[SESSION_CHECK_KEY].ended,
    )
    return web.Response(status=204)


@routes.get("/api/v1/users/me")
async def me(request: web.Request) -> web.Response:
    identity = identity_of(request)
    return _user(await service.get_user(request.app[POOL_KEY], identity, identity.user_id))


def _user(record: dict[str, Any], status: int = 200) -> web.Response:
    headers = {"ETag": etag(record["version"])}
    if status == 201:
        headers["Location"] = f"/api/v1/users/{record['id']}"
    return json_response(record, status=status, headers=headers)


async def _patch_user(request: web.Request, user_id: str, own_profile: bool) -> web.Response:
    body = await read_json(request)  # read again below: aiohttp keeps the body
    if isinstance(body, dict):
        if own_profile and "phone_extension" in body:
            raise ValidationFailed(
                [
                    FieldError(
                        "phone_extension",
                        "Le poste téléphonique est attribué par un administrateur.",
                    )
                ]
            )
        refuse_unknown_fields(body, (ProfileFields if own_profile else UserFields).model_fields)
    record = await service.update_user(
        request.app[POOL_KEY],
        request.app[SETTINGS_KEY].source,
        identity_of(request),
        user_id,
        await read_json(request),
        request.headers.get("If-Match"),
        own_profile=own_profile,
        on_ended=request.app[SESSION_CHECK_KEY].ended,
    )
    return _user(record)


async def _set_password(request: web.Request, user_id: str) -> web.Response:
    body = await read_body(request, PasswordChange)
    await service.change_password(
        request.app[POOL_KEY], request.app[SETTINGS_KEY].source, identity_of(request), user_id,
        body, session_id=request[SESSION_ID_KEY], on_ended=request.app[SESSION_CHECK_KEY].ended,
        address=_client_address(request),
    )  # fmt: skip
    return web.Response(status=204)


@routes.patch("/api/v1/users/me")
async def patch_me(request: web.Request) -> web.Response:
    return await _patch_user(request, identity_of(request).user_id, own_profile=True)


@routes.post("/api/v1/users/me/password")
async def my_password(request: web.Request) -> web.Response:
    return await _set_password(request, identity_of(request).user_id)


# Declared before /api/v1/users/{id}, which would otherwise read "directory" as an id; for
# every method, so that a write is refused here (405, Allow: GET, HEAD) rather than taken for
# a write to a user of that id.
@routes.route("*", "/api/v1/users/directory")
async def user_directory(request: web.Request) -> web.Response:
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    return json_response(await service.user_directory(request.app[POOL_KEY]))


@routes.get("/api/v1/users")
async def list_users(request: web.Request) -> web.Response:
    return json_response(
        await service.list_users(request.app[POOL_KEY], identity_of(request), request.query)
    )


@routes.post("/api/v1/users")
async def add_user(request: web.Request) -> web.Response:
    if identity_of(request).role != "admin":  # refused before the body is even read
        raise Forbidden("Seuls les administrateurs gèrent les utilisateurs.")
    body = await read_body(request, UserCreate)
    record = await service.add_user(
        request.app[POOL_KEY], request.app[SETTINGS_KEY].source, identity_of(request), body
    )
    return _user(record, 201)


@routes.get("/api/v1/users/{id}")
async def get_user(request: web.Request) -> web.Response:
    return _user(
        await service.get_user(
            request.app[POOL_KEY], identity_of(request), request.match_info["id"]
        )
    )


@routes.patch("/api/v1/users/{id}")
async def patch_user(request: web.Request) -> web.Response:
    return await _patch_user(request, request.match_info["id"], own_profile=False)


@routes.post("/api/v1/users/{id}/password")
async def reset_password(request: web.Request) -> web.Response:
    identity = identity_of(request)
    user_id = parse_record_id(request.match_info["id"], "fiche utilisateur")
    if identity.role != "admin" and user_id != uuid.UUID(identity.user_id):
        raise Forbidden("Seuls les administrateurs changent le mot de passe d'un autre.")
    return await _set_password(request, request.match_info["id"])


def _forward(request: web.Request, service_name: str, path: str) -> Awaitable[web.Response]:
    settings = request.app[SETTINGS_KEY]
    base_url = getattr(settings, f"{service_name}_url")
    identity: Identity = identity_of(request)
    # Merging Word documents (and converting them to PDF) takes longer than any other call.
    limit = BULK_MERGE_SECONDS if path.endswith("/mail-merge") else None
    return request.app[UPSTREAMS_KEY].forward(
        request, base_url, path, identity, service_name, limit
    )


def picklist_owner(registry: Registry, name: str) -> str:
    """The service that keeps picklist ``name``: one whose entities' lists use it and that
    serves picklists; the accounts service keeps every other one."""
    return declared_owner(registry, name) or "accounts"


def declared_owner(registry: Registry, name: str) -> str | None:
    """The known service whose entities' lists use picklist ``name`` and that serves
    picklists; None when none does."""
    sample = f"/api/v1/picklists/{name}"
    for entity in registry.entities():
        service = entity.get("service")
        if service in (None, "gateway"):
            continue
        uses = any(f.get("picklist") == name for f in entity["fields"])
        if uses and _serves(registry, str(service), sample):
            return str(service)
    return None


def _serves(registry: Registry, service: str, path: str) -> bool:
    meta = registry.meta(service)
    return meta is not None and any(
        pattern_regex(pattern).fullmatch(path) for pattern in meta.get("routes", [])
    )


async def forward_to_owner(request: web.Request) -> web.StreamResponse:
    """The last route: a public path a service serves (its /internal/meta says which) is
    forwarded to it as it is, as soon as that service has described itself; a path no known
    service serves waits for those not described yet (503 naming them if they do not come);
    any other is answered here (405 naming the methods of a path the gateway serves itself,
    else 404)."""
    path = request.path
    owner = await known(request, lambda registry: registry.service_of_path(path))
    if owner is not None:
        return await _forward(request, owner, request.rel_url.raw_path)
    allowed: set[str] = set()
    for route in request.app.router.routes():
        resource = route.resource
        if resource is None or resource.name == FORWARDED:
            continue
        if pattern_regex(resource.canonical).fullmatch(path):
            allowed.add(route.method)
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
    raise web.HTTPNotFound()


FORWARD_ALL = "/api/v1/{path:.*}"
FORWARDED = "forwarded"  # the name of that route


def add_forwarded_routes(app: web.Application) -> None:
    """After every route of the gateway's own: what the services serve."""
    app.router.add_route("*", FORWARD_ALL, forward_to_owner, name=FORWARDED)


@routes.post("/api/v1/accounts/{id}/call")
async def click_to_call(request: web.Request) -> web.Response:
    body = await read_body(request, CallRequest) if request.can_read_body else CallRequest()
    result = await calls.place_call(
        request.app[POOL_KEY],
        request.app[UPSTREAMS_KEY],
        request.app[SETTINGS_KEY],
        request.app[TELEPHONY_KEY].adapter,
        identity_of(request),
        request.match_info["id"],
        body,
    )
    return json_response(result, status=202)


@routes.get("/api/v1/calls/{id}")
async def call_progress(request: web.Request) -> web.Response:
    """A call placed with ClickToCall and its progress (for its caller and admins)."""
    result = await calls.call_progress(
        request.app[POOL_KEY], identity_of(request), request.match_info["id"]
    )
    return json_response(result, headers={"Cache-Control": "no-store"})


@routes.post("/api/v1/telephony/events")
async def telephony_event(request: web.Request) -> web.Response:
    raw = await request.read()
    settings = request.app[SETTINGS_KEY]
    secret = settings.telephony_secret.get_secret_value() if settings.telephony_secret else None
    if not signature_valid(raw, request.headers.get(SIGNATURE_HEADER), secret):
        raise Unauthorized("Signature absente ou invalide.")
    event = validate(TelephonyEvent, parse_json(raw))
    result = await calls.handle_event(
        request.app[POOL_KEY], request.app[UPSTREAMS_KEY], settings, event
    )
    return json_response(result, status=202)


@routes.get("/api/v1/accounts/{id}/view")
async def account_view(request: web.Request) -> web.Response:
    # The account's service must be known; the other sections are those of the known services.
    await known(request, lambda registry: registry.entity_named("account"))
    return await views.account_view(
        request,
        request.app[UPSTREAMS_KEY],
        request.app[SETTINGS_KEY],
        identity_of(request),
        request.app[VIEW_CACHE_KEY],
    )


@routes.get("/api/v1/{collection}/{id}/print")
async def print_record(request: web.Request) -> web.Response:
    collection = request.match_info["collection"]
    await known(request, lambda registry: registry.entity(collection))
    registry = request.app[REGISTRY_KEY]
    return await printing.print_record(
        request.app[UPSTREAMS_KEY],
        request.app[SETTINGS_KEY],
        identity_of(request),
        registry.entities(),  # a section of a service not known: unavailable
        collection,
        request.match_info["id"],
        lambda name: picklist_owner(registry, name),
    )


@routes.post("/api/v1/mail-merge")
async def bulk_mail_merge(request: web.Request) -> web.Response:
    """Bulk Fusionner: `account_ids`, or the list view's `filters` resolved here to ids."""
    body = await read_json(request)
    if isinstance(body, dict) and isinstance(body.get("filters"), dict):
        ids = await _account_ids(request, {str(k): str(v) for k, v in body.pop("filters").items()})
        body["account_ids"] = ids
    call = asyncio.ensure_future(
        request.app[UPSTREAMS_KEY].call_raw(
            "POST",
            request.app[SETTINGS_KEY].documents_url,
            "/api/v1/mail-merge",
            identity_of(request),
            "documents",
            body=body,
            limit_seconds=BULK_MERGE_SECONDS,
        )
    )
    try:  # a client gone (or this handler cancelled) closes the call: documents stops merging
        while not (await asyncio.wait({call}, timeout=0.5))[0]:
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499, reason="Client Closed Request")
    finally:
        call.cancel()
    status, content, headers = call.result()
    return web.Response(status=status, body=content, headers=headers)


async def _account_ids(request: web.Request, filters: dict[str, str]) -> list[str]:
    """The ids of the accounts the list view shows with ``filters`` (at most 500)."""
    ids: list[str] = []
    cursor = None
    while len(ids) < 500:
        params = {**filters, "limit": "200", **({"cursor": cursor} if cursor else {})}
        status, page = await request.app[UPSTREAMS_KEY].call_json(
            "GET",
            request.app[SETTINGS_KEY].accounts_url,
            "/api/v1/accounts",
            identity_of(request),
            "accounts",
            params=params,
        )
        if status != 200:
            errors = page.get("errors", []) if isinstance(page, dict) else []
            raise ValidationFailed(
                [FieldError(f"filters.{e['field']}", e["message"]) for e in errors]
            )
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if not ids:
        raise ValidationFailed([FieldError("filters", "Aucun compte ne correspond à ces filtres.")])
    return ids[:500]


@routes.route("*", "/api/v1/picklists/{name}")
async def picklist(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    owner = await known(request, lambda registry: declared_owner(registry, name))
    return await _forward(request, owner or "accounts", request.rel_url.raw_path)


async def _audited(request: web.Request) -> tuple[str, uuid.UUID]:
    """The entity and record id of an audit trail the caller may read: a user's trail is for
    admins and for that user only (ids compared as UUIDs, whatever their case)."""
    collection = request.match_info["collection"]
    entity = await known(request, lambda registry: audited_collections(registry).get(collection))
    if entity is None:
        raise web.HTTPNotFound()
    record_id = parse_record_id(request.match_info["id"])
    identity = identity_of(request)
    if entity == "user" and identity.role != "admin" and record_id != uuid.UUID(identity.user_id):
        raise Forbidden(
            "L'historique d'un utilisateur n'est visible que par lui et les administrateurs."
        )
    return entity, record_id


@routes.get("/api/v1/{collection}/{id}/audit")
async def audit_trail(request: web.Request) -> web.Response:
    entity, record_id = await _audited(request)
    return await _forward(request, "audit", f"/api/v1/audit/{entity}/{record_id}")


@routes.get("/api/v1/{collection}/{id}/audit/verify")
async def audit_verify(request: web.Request) -> web.Response:
    entity, record_id = await _audited(request)
    return await _forward(request, "audit", f"/api/v1/audit/{entity}/{record_id}/verify")


@routes.get("/api/v1/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    """The operations of the gateway and of the services known now (a service down as the
    gateway started joins the document once it has described itself)."""
    return json_response(request.app[DOCUMENTS_KEY].document())


@routes.get("/api/v1/meta/entities")
async def meta_entities(request: web.Request) -> web.Response:
    """Every entity the known services declare (and the gateway's own users), for the web
    interface and integrators."""
    return json_response({"items": request.app[REGISTRY_KEY].entities()})


@routes.get("/api/v1/meta/entities/{collection}")
async def meta_entity(request: web.Request) -> web.Response:
    """One declaration; one of a service not described yet waits for it, then 503 (not a 404
    that would say it does not exist)."""
    collection = request.match_info["collection"]
    entity = await known(request, lambda registry: registry.entity(collection))
    if entity is None:
        raise NotFound("Aucune entité ne porte ce nom de collection.")
    return json_response(entity)


@routes.get("/api/v1/meta/events")
async def meta_events(request: web.Request) -> web.Response:
    """The event catalogue of the gateway and the known services: the JSON Schema of every
    event type, keyed by type."""
    return json_response(request.app[REGISTRY_KEY].events())


@routes.get("/api/docs")
async def api_docs(_request: web.Request) -> web.Response:
    return web.Response(text=openapi.DOCS_PAGE, content_type="text/html")


@routes.get("/api/docs/assets/start.js")
async def api_docs_start(_request: web.Request) -> web.Response:
    return web.Response(text=openapi.START_SCRIPT, content_type="application/javascript")


def add_docs_assets(app: web.Application) -> None:
    """Swagger UI's own files, from the installed package: no CDN."""

    app.router.add_static("/api/docs/assets/", swagger_ui_bundle.swagger_ui_path)
