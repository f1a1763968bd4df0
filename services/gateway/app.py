from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import Gauge

from services.common.app import service_app
from services.common.errors import ProblemError
from services.common.identity import Identity
from services.common.meta import META_PATH
from services.common.runtime import POOL_KEY, SUPERVISOR_KEY, CleanupContext
from services.common.settings import ServiceSettings
from services.common.web import READINESS_KEY, REGISTRY_KEY, refuse_nul

from . import service
from .consistency import read_your_writes
from .entities import public_entities
from .event_schemas import events as gateway_events
from .openapi import Documents
from .proxy import KeyedCreations, Upstreams
from .registry import REGISTRY_KEY as META_KEY
from .registry import MetaUnavailable, Registry
from .sessions import SessionCheck
from .settings import GatewaySettings
from .telephony import AsteriskTelephony, HttpTelephony, Telephony, TelephonyLink
from .ui import setup_ui
from .view_cache import ViewCache
from .web import (
    DOCUMENTS_KEY,
    SESSION_CHECK_KEY,
    SETTINGS_KEY,
    TELEPHONY_KEY,
    UPSTREAMS_KEY,
    VIEW_CACHE_KEY,
    add_docs_assets,
    add_forwarded_routes,
    auth_middleware,
    cors_headers,
    cors_preflight,
    drop_views_on_write,
    metrics_guard,
    routes,
)


def create_app(settings: ServiceSettings) -> web.Application:
    """The public edge: sign-in and sessions, users, the forwarding to the services it learns
    from their meta, the 360° view (cached), printing, telephony and the API documents."""
    assert isinstance(settings, GatewaySettings)
    return service_app(
        settings,
        Path(__file__).parent / "migrations",
        routes=routes,
        setup=partial(setup, settings),
        contexts=[bootstrap(settings), upstreams(settings), learn(settings), view_feed(settings)],
        complete=complete,
        checks_identity_itself=True,  # tokens and sessions (auth_middleware)
        max_body_bytes=6 * 1024 * 1024,  # Word templates are uploaded: room for them, no more
    )


def setup(settings: GatewaySettings, app: web.Application) -> None:
    """The edge's middlewares (CORS, metrics token, sign-in, NUL bytes, cached views, read
    your writes) and what they and the routes share: sessions, cache, registry, documents."""
    sessions = app[SESSION_CHECK_KEY] = SessionCheck(
        lambda session_id: service.session_valid(app[POOL_KEY], session_id)
    )
    app.middlewares.append(cors_preflight(settings.allowed_origins))
    app.on_response_prepare.append(cors_headers(settings.allowed_origins))
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app.middlewares.append(metrics_guard(metrics_token))
    app.middlewares.append(auth_middleware(settings.token_secret.get_secret_value(), sessions))
    setup_ui(  # its page errors outside refuse_nul: a page refused there is a French page
        app,
        sessions=sessions,
        token_secret=settings.token_secret.get_secret_value(),
        idle_minutes=settings.web_idle_minutes,
        lifetime_hours=settings.web_session_hours,
        tiles_origin=settings.map_tiles_origin,
    )
    app.middlewares.append(refuse_nul)
    cache = app[VIEW_CACHE_KEY] = ViewCache(
        int(settings.view_cache_mb * 1024 * 1024), settings.view_cache_ttl_seconds
    )
    app.middlewares.append(drop_views_on_write(cache))

    # Read your writes: a write naming other services' records carries their versions.
    def owner_url(service: str) -> str:
        return str(getattr(settings, f"{service}_url"))

    app.middlewares.append(
        read_your_writes(lambda: app.get(META_KEY), lambda: app[UPSTREAMS_KEY], owner_url)
    )
    app[SETTINGS_KEY] = settings
    registry = app[META_KEY] = Registry(
        meta_reader(app, settings), own=public_entities(), own_events=gateway_events()
    )
    app[DOCUMENTS_KEY] = Documents(registry)
    app[READINESS_KEY].append(registry.readiness)
    app[TELEPHONY_KEY] = TelephonyLink()


def complete(app: web.Application) -> None:
    """After the gateway's own routes: the forwarding to the services, the docs' assets."""
    add_forwarded_routes(app)
    add_docs_assets(app)


def bootstrap(settings: GatewaySettings) -> CleanupContext:
    """The first administrator, when there is none (CRM_ADMIN_PASSWORD)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        await service.bootstrap_admin(app[POOL_KEY], settings.source, password)
        yield

    return context


def upstreams(settings: GatewaySettings) -> CleanupContext:
    """The HTTP clients: to the services, and to the telephony server."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[UPSTREAMS_KEY] = Upstreams(
                session,
                settings.internal_secret.get_secret_value(),
                settings.upstream_timeout_seconds,
                keyed_creation=KeyedCreations(app[META_KEY]),
            )
            async with aiohttp.ClientSession() as telephony_session:
                app[TELEPHONY_KEY].adapter = telephony_adapter(settings, telephony_session)
                yield

    return context


def learn(settings: GatewaySettings) -> CleanupContext:
    """Read every service's meta (after the upstreams: the reading uses them), then follow
    their announcements."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        amqp_url = settings.amqp_url.get_secret_value()
        tasks = app[META_KEY].supervise(app[SUPERVISOR_KEY], amqp_url, settings.exchange)
        for task in tasks:
            task.start()
        yield
        for task in reversed(tasks):
            await task.stop()

    return context


def view_feed(settings: GatewaySettings) -> CleanupContext:
    """The 360° view cache's figures, and its feed of events (when the cache is on)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        cache = app[VIEW_CACHE_KEY]
        for name, value in (("hits", lambda: cache.hits), ("misses", lambda: cache.misses)):
            Gauge(
                f"crm_view_cache_{name}", f"360° views served: cache {name}",
                registry=app[REGISTRY_KEY],
            ).set_function(value)  # fmt: skip
        task = None
        if settings.view_cache_mb > 0:
            amqp_url = settings.amqp_url.get_secret_value()
            task = cache.supervise(app[SUPERVISOR_KEY], amqp_url, settings.exchange, app[META_KEY])
            task.start()
        yield
        if task is not None:
            await task.stop()

    return context


# Who asks the services for their meta: the gateway itself (read-only).
GATEWAY_IDENTITY = Identity("00000000-0000-0000-0000-000000000000", "passerelle", "readonly")


def meta_reader(
    app: web.Application, settings: GatewaySettings
) -> Callable[[str], Awaitable[Mapping[str, Any]]]:
    """How the registry reads a service's ``/internal/meta``."""

    async def fetch(service: str) -> Mapping[str, Any]:
        base_url = str(getattr(settings, f"{service}_url"))
        try:
            status, meta = await app[UPSTREAMS_KEY].call_json(
                "GET", base_url, META_PATH, GATEWAY_IDENTITY, service
            )
        except ProblemError as exc:
            raise MetaUnavailable(exc.detail) from exc
        if status != 200 or not isinstance(meta, dict):
            raise MetaUnavailable(f"{service} answered {status}")
        return meta

    return fetch


def telephony_adapter(
    settings: GatewaySettings, session: aiohttp.ClientSession
) -> Telephony | None:
    """The adapter chosen by configuration (None: ClickToCall answers 503)."""
    secret = settings.telephony_secret.get_secret_value() if settings.telephony_secret else ""
    if settings.telephony == "http" and settings.telephony_url:
        return HttpTelephony(
            session, settings.telephony_url, secret, settings.telephony_timeout_seconds
        )
    if settings.telephony == "asterisk":
        return AsteriskTelephony(
            settings.asterisk_host,
            settings.asterisk_port,
            settings.asterisk_username,
            settings.asterisk_secret.get_secret_value(),
            channel=settings.asterisk_channel,
            context=settings.asterisk_context,
            timeout=settings.telephony_timeout_seconds,
        )
    return None
