from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common.meta import install_meta
from services.common.runtime import install_runtime
from services.common.settings import ServiceSettings
from services.common.web import make_app

from .consumers import HANDLERS
from .web import routes


def create_app(settings: ServiceSettings) -> web.Application:
    app = make_app(settings.service, settings.internal_secret.get_secret_value())
    install_runtime(app, settings, Path(__file__).parent / "migrations", HANDLERS)
    app.router.add_routes(routes)
    install_meta(app, settings, (), list)
    return app
