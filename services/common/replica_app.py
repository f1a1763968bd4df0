"""The shape of a service that, for now, only keeps a replica of the records it references."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import replica
from .runtime import Subscription, install_runtime
from .settings import ServiceSettings
from .web import make_app

REFERENCED = ("account.*", "contact.*")


def create_replica_app(settings: ServiceSettings, migrations: Path) -> web.Application:
    app = make_app(settings.service, settings.internal_secret.get_secret_value())
    install_runtime(
        app,
        settings,
        migrations,
        Subscription(REFERENCED, replica.keep_reference),
        extra_migrations=[replica.MIGRATIONS],
    )
    return app
