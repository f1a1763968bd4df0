from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.common.replica_app import create_replica_app
from services.common.settings import ServiceSettings


def create_app(settings: ServiceSettings) -> web.Application:
    return create_replica_app(settings, Path(__file__).parent / "migrations")
