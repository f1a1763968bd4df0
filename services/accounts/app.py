from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common.runtime import install_runtime
from services.common.settings import ServiceSettings
from services.common.web import make_app

from .web import SOURCE_KEY, routes


def create_app(settings: ServiceSettings) -> web.Application:
    app = make_app(settings.service, settings.internal_secret.get_secret_value())
    app[SOURCE_KEY] = settings.source
    install_runtime(app, settings, Path(__file__).parent / "migrations")
    app.router.add_routes(routes)
    return app
