from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from services.common import crud, replica
from services.common.db import create_pool
from services.common.meta import install_meta
from services.common.runtime import POOL_KEY, SUPERVISOR_KEY, install_runtime
from services.common.settings import ServiceSettings
from services.common.versions import Table, versions_routes
from services.common.web import make_app

from . import operations
from .consumers import make_handlers, sweep_locations
from .contacts import CONTACTS
from .entities import ENTITIES
from .geocoding import BanGeocoder, Geocoder, GeocoderChain, NominatimGeocoder, OfflineGeocoder
from .geodata.places import gazetteer
from .settings import AccountsSettings
from .web import LIST_POOL_KEY, routes


def create_app(settings: ServiceSettings) -> web.Application:
    assert isinstance(settings, AccountsSettings)
    app = make_app(settings.service, settings.internal_secret.get_secret_value())
    chain = GeocoderChain([])

    async def geocoders(_app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            providers: dict[str, Geocoder] = {
                "offline": OfflineGeocoder(),
                "ban": BanGeocoder(
                    session, settings.geocoder_ban_url, settings.geocoder_timeout_seconds
                ),
                "nominatim": NominatimGeocoder(
                    session, settings.geocoder_nominatim_url, settings.geocoder_timeout_seconds
                ),
            }
            chain.providers = [providers[name] for name in settings.geocoder.split(",")]
            if "offline" in providers and any(
                isinstance(p, OfflineGeocoder) for p in chain.providers
            ):
                await asyncio.to_thread(gazetteer)  # load the data now, not on the first event
            yield

    app.cleanup_ctx.append(geocoders)
    install_runtime(
        app,
        settings,
        Path(__file__).parent / "migrations",
        make_handlers(settings.source, chain),
        extra_migrations=[replica.MIGRATIONS],
    )

    async def location_sweep(app: web.Application) -> AsyncIterator[None]:
        """Locates the accounts whose event was lost (see geocoding.sweep)."""
        task = app[SUPERVISOR_KEY].add(
            "location-sweep",
            "localisation des adresses en attente",
            lambda task: sweep_locations(task, app[POOL_KEY], settings.source, chain),
            critical=False,
        )
        task.start()
        yield
        await task.stop()

    app.cleanup_ctx.append(location_sweep)

    async def list_pool(app: web.Application) -> AsyncIterator[None]:
        """The list view's own connections, planned with each query's values (see create_pool);
        opened after the runtime has migrated the database."""
        pool = await create_pool(
            settings.database_url, 1, max(2, settings.db_pool_max // 2), custom_plans=True
        )
        app[LIST_POOL_KEY] = pool
        yield
        await pool.close()

    app.cleanup_ctx.append(list_pool)
    app.router.add_routes(routes)
    app.router.add_routes(crud.record_routes({"contacts": CONTACTS}))
    app.router.add_routes(
        versions_routes({"accounts": Table("account", "accounts"), "contacts": CONTACTS})
    )
    install_meta(app, settings, ENTITIES, operations.operations, operations.events)
    return app
