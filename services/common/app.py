"""The one shape of a service's application.

Each ``services/<name>/app.py`` declares its parts and hands them to ``service_app``, which
assembles them in one order:

1. the common app (``web.make_app``: errors, metrics, health; the signed identity unless the
   service checks identity itself, as the gateway does), then ``setup`` (the service's own
   middlewares, keys, readiness checks and metrics);
2. a replica's ``X-CRM-Seen`` middleware, when the service keeps a replica of what it references;
3. the runtime (``runtime.install_runtime``): the database migrated and its pool, then the
   service's ``contexts`` (clients, pools, workers), then the outbox relay and the consumer of
   its ``handlers``;
4. its routes, the record kernel's routes of its ``specs``, ``/internal/versions`` of what it
   keeps (its ``specs`` unless told), then ``complete`` (routes that must come last), and
   ``/internal/meta`` of its ``entities`` with their ``operations`` (announced once ready).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from aiohttp import web

from . import crud, replica
from .entities import Entity
from .handlers import Handlers
from .meta import Events, install_meta
from .openapi import Op
from .runtime import CleanupContext, install_runtime
from .settings import ServiceSettings
from .versions import Versioned, versions_routes
from .web import MAX_BODY_BYTES, make_app

Setup = Callable[[web.Application], None]


def service_app(
    settings: ServiceSettings,
    migrations: Path,
    *,
    routes: Iterable[web.AbstractRouteDef] = (),
    specs: Mapping[str, crud.RecordSpec] | None = None,
    versioned: Mapping[str, Versioned] | None = None,
    entities: Sequence[Entity] = (),
    operations: Callable[[], list[Op]] | None = None,
    events: Events | None = None,
    handlers: Handlers | None = None,
    keeps_replica: bool = False,
    contexts: Sequence[CleanupContext] = (),
    setup: Setup | None = None,
    complete: Setup | None = None,
    checks_identity_itself: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> web.Application:
    """The application of ``settings.service`` from its parts (see the module's docstring).

    ``specs``: the records the kernel serves (``crud.record_routes``); ``versioned``: what
    ``/internal/versions`` answers for (default: ``specs``); ``operations``: the service's
    OpenAPI operations, with its ``entities`` and ``events`` for ``/internal/meta`` (none: no
    meta); ``setup(app)`` runs first (middlewares, keys, readiness, metrics), ``complete(app)``
    once the routes are in (what must come after them: the gateway's forwarding);
    ``keeps_replica``: the service keeps a replica of the records it references
    (``replica.MIGRATIONS`` and the ``X-CRM-Seen`` middleware; its ``handlers`` keep it)."""
    secret = None if checks_identity_itself else settings.internal_secret.get_secret_value()
    app = make_app(settings.service, secret, max_body_bytes)
    if setup is not None:
        setup(app)
    if keeps_replica:
        app.middlewares.append(replica.seen_versions)  # reference checks wait for X-CRM-Seen
    install_runtime(
        app,
        settings,
        migrations,
        handlers,
        extra_migrations=[replica.MIGRATIONS] if keeps_replica else [],
        contexts=contexts,
    )
    app.router.add_routes(routes)
    if specs:
        app.router.add_routes(crud.record_routes(specs))
    kept = specs if versioned is None else versioned
    if kept:
        app.router.add_routes(versions_routes(kept))
    if complete is not None:
        complete(app)
    if operations is not None:
        install_meta(app, settings, entities, operations, events)
    return app
