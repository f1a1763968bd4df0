from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from services.common.app import service_app
from services.common.db import create_pool
from services.common.runtime import POOL_KEY, SUPERVISOR_KEY, CleanupContext
from services.common.settings import ServiceSettings

from . import operations
from .consumers import make_handlers, sweep_locations
from .contacts import CONTACTS
from .entities import ENTITIES
from .geocoding import BanGeocoder, Geocoder, GeocoderChain, NominatimGeocoder, OfflineGeocoder
from .geodata.places import gazetteer
from .service import ACCOUNTS
from .settings import AccountsSettings
from .web import LIST_POOL_KEY, routes


def create_app(settings: ServiceSettings) -> web.Application:
    """Accounts and contacts, the geocoder that locates their addresses after the write, and a
    replica of the users (owners)."""
    assert isinstance(settings, AccountsSettings)
    chain = GeocoderChain([])
    return service_app(
        settings,
        Path(__file__).parent / "migrations",
        routes=routes,  # the accounts' kernel routes among them (the list on its own pool)
        specs={"contacts": CONTACTS},
        versioned={"accounts": ACCOUNTS, "contacts": CONTACTS},
        entities=ENTITIES,
        operations=operations.operations,
        events=operations.events,
        handlers=make_handlers(settings.source, chain),
        keeps_replica=True,
        contexts=[geocoders(settings, chain), location_sweep(settings, chain), list_pool(settings)],
    )


def geocoders(settings: AccountsSettings, chain: GeocoderChain) -> CleanupContext:
    """The providers of ``chain``, as configured, with their HTTP session."""

    async def context(_app: web.Application) -> AsyncIterator[None]:
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

    return context


def location_sweep(settings: AccountsSettings, chain: GeocoderChain) -> CleanupContext:
    """Locates the accounts whose event was lost (see geocoding.sweep)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = app[SUPERVISOR_KEY].add(
            "location-sweep",
            "localisation des adresses en attente",
            lambda task: sweep_locations(task, app[POOL_KEY], settings.source, chain),
            critical=False,
        )
        task.start()
        yield
        await task.stop()

    return context


def list_pool(settings: AccountsSettings) -> CleanupContext:
    """The list view's own connections, planned with each query's values (see create_pool);
    opened once the runtime has migrated the database."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url, 1, max(2, settings.db_pool_max // 2), custom_plans=True
        )
        app[LIST_POOL_KEY] = pool
        yield
        await pool.close()

    return context
