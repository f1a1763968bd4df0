from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common.app import service_app
from services.common.settings import ServiceSettings

from .consumers import HANDLERS
from .web import routes


def create_app(settings: ServiceSettings) -> web.Application:
    """The audit trail: every event on the exchange chained, read through its routes."""
    return service_app(
        settings,
        Path(__file__).parent / "migrations",
        routes=routes,
        handlers=HANDLERS,
        operations=list,  # no public operation of its own: the gateway serves the trail
    )
