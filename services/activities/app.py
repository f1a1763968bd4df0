from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common import crud
from services.common.meta import install_meta
from services.common.replica_app import create_replica_app
from services.common.settings import ServiceSettings
from services.common.versions import versions_routes

from . import operations
from .consumers import make_handlers
from .entities import ENTITIES
from .service import SPECS
from .web import routes


def create_app(settings: ServiceSettings) -> web.Application:
    app = create_replica_app(
        settings,
        Path(__file__).parent / "migrations",
        handlers=make_handlers(settings.source),
    )
    app.router.add_routes(routes)
    app.router.add_routes(crud.record_routes(SPECS))
    app.router.add_routes(versions_routes(SPECS))
    install_meta(app, settings, ENTITIES, operations.operations, operations.events)
    return app
