from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common import crud
from services.common.replica_app import REFERENCED, create_replica_app
from services.common.settings import ServiceSettings

from .settings import DocumentsSettings
from .web import SETTINGS_KEY, SPECS, routes


def create_app(settings: ServiceSettings) -> web.Application:
    assert isinstance(settings, DocumentsSettings)
    app = create_replica_app(
        settings,
        Path(__file__).parent / "migrations",
        bindings=(*REFERENCED, "opportunity.*"),
        max_body_bytes=settings.template_max_bytes + 64 * 1024,
    )
    app[SETTINGS_KEY] = settings
    app.router.add_routes(routes)
    app.router.add_routes(crud.record_routes(SPECS))
    return app
