"""The shape of a service that, for now, only keeps a replica of the records it references."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import replica
from .consumer import Handler
from .handlers import Handlers
from .runtime import Subscription, install_runtime
from .settings import ServiceSettings
from .web import MAX_BODY_BYTES, make_app

REFERENCED = ("account.*", "contact.*")


def create_replica_app(
    settings: ServiceSettings,
    migrations: Path,
    *,
    bindings: tuple[str, ...] = REFERENCED,
    handler: Handler = replica.keep_reference,
    handlers: Handlers | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> web.Application:
    """An app whose consumer keeps a replica of what it references (and may do more):
    ``handlers`` when given (they register ``replica.keep_reference`` themselves), else the
    former ``bindings`` and ``handler``."""
    app = make_app(settings.service, settings.internal_secret.get_secret_value(), max_body_bytes)
    app.middlewares.append(replica.seen_versions)  # reference checks wait for X-CRM-Seen
    install_runtime(
        app,
        settings,
        migrations,
        handlers if handlers is not None else Subscription(bindings, handler),
        extra_migrations=[replica.MIGRATIONS],
    )
    return app
