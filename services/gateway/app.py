from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from services.common.runtime import POOL_KEY, install_runtime
from services.common.settings import ServiceSettings
from services.common.web import make_app

from . import service
from .proxy import Upstreams
from .settings import GatewaySettings
from .telephony import AsteriskTelephony, HttpTelephony, Telephony, TelephonyLink
from .web import (
    SETTINGS_KEY,
    TELEPHONY_KEY,
    UPSTREAMS_KEY,
    add_docs_assets,
    add_forwarded_routes,
    auth_middleware,
    routes,
)


def create_app(settings: ServiceSettings) -> web.Application:
    assert isinstance(settings, GatewaySettings)
    # Word templates are uploaded through the gateway: room for them, and little more.
    app = make_app(settings.service, internal_secret=None, max_body_bytes=6 * 1024 * 1024)
    app.middlewares.append(auth_middleware(settings.token_secret.get_secret_value()))
    app[SETTINGS_KEY] = settings
    install_runtime(app, settings, Path(__file__).parent / "migrations")

    async def bootstrap(app: web.Application) -> AsyncIterator[None]:
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        await service.bootstrap_admin(app[POOL_KEY], settings.source, password)
        yield

    async def upstreams(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[UPSTREAMS_KEY] = Upstreams(
                session,
                settings.internal_secret.get_secret_value(),
                settings.upstream_timeout_seconds,
            )
            async with aiohttp.ClientSession() as telephony_session:
                app[TELEPHONY_KEY].adapter = telephony_adapter(settings, telephony_session)
                yield

    app[TELEPHONY_KEY] = TelephonyLink()
    app.cleanup_ctx.extend([bootstrap, upstreams])
    app.router.add_routes(routes)
    add_forwarded_routes(app)
    add_docs_assets(app)
    return app


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
