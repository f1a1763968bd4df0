from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common.app import service_app
from services.common.settings import ServiceSettings

from . import operations
from .consumers import make_handlers
from .entities import ENTITIES
from .service import SPECS
from .web import routes


def create_app(settings: ServiceSettings) -> web.Application:
    """Actions, opportunities and projects, with a replica of the accounts and contacts."""
    return service_app(
        settings,
        Path(__file__).parent / "migrations",
        routes=routes,
        specs=SPECS,
        entities=ENTITIES,
        operations=operations.operations,
        events=operations.events,
        handlers=make_handlers(settings.source),
        keeps_replica=True,
    )
