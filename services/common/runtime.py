"""Wiring shared by every service: the database pool (after migrations), the outbox relay and
the event consumers, each owned by the application's cleanup context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import asyncpg
from aiohttp import web
from prometheus_client import Counter, Gauge

from .consumer import EventConsumer
from .db import create_pool, prepare_database
from .dberrors import is_transient
from .handlers import Handlers
from .outbox import OutboxRelay
from .settings import ServiceSettings
from .supervisor import Supervisor
from .web import READINESS_KEY, REGISTRY_KEY

log = logging.getLogger(__name__)

POOL_KEY = web.AppKey("db_pool", asyncpg.Pool)
SOURCE_KEY = web.AppKey("event_source", str)  # the CloudEvents source of this service
RELAY_KEY = web.AppKey("outbox_relay", OutboxRelay)
CONSUMERS_KEY = web.AppKey("event_consumers", list[EventConsumer])
# Every background task of the service runs under it (see supervisor.py).
SUPERVISOR_KEY = web.AppKey("supervisor", Supervisor)
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def install_runtime(
    app: web.Application,
    settings: ServiceSettings,
    migrations: Path,
    handlers: Handlers | None = None,
    extra_migrations: Sequence[tuple[str, Path]] = (),
    contexts: Sequence[CleanupContext] = (),
) -> None:
    """Add the pool, the relay and the consumer to ``app``; started and stopped with it.

    ``contexts`` (the service's own resources: clients, pools, workers) start once the database
    is migrated and its pool open, before the relay and the consumer, whose handlers may need
    them; they stop after those, in reverse order."""
    registry = app[REGISTRY_KEY]
    supervisor = app[SUPERVISOR_KEY] = Supervisor(registry)
    app[READINESS_KEY].append(supervisor.readiness)
    app[SOURCE_KEY] = settings.source
    amqp_url = settings.amqp_url.get_secret_value()

    async def database(app: web.Application) -> AsyncIterator[None]:
        if handlers is not None:  # without CRM_ENTITY_OWNERS: ConfigError before anything
            settings.owners()
        await prepare_database(
            settings.database_url, [*extra_migrations, (settings.service, migrations)]
        )
        statements = Counter(
            "crm_sql_statements", "SQL statements sent to PostgreSQL", registry=app[REGISTRY_KEY]
        )
        pool = await create_pool(
            settings.database_url,
            settings.db_pool_min,
            settings.db_pool_max,
            on_statement=statements.inc,
        )
        app[POOL_KEY] = pool

        async def database_ready() -> str | None:
            try:
                await pool.fetchval("SELECT 1", timeout=2)
            except Exception as exc:
                if not is_transient(exc) and not isinstance(exc, asyncpg.PostgresError):
                    raise
                return f"base de données injoignable ({type(exc).__name__})"
            return None

        app[READINESS_KEY].append(database_ready)
        yield
        await pool.close()

    async def relay(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(
            app[POOL_KEY], amqp_url, settings.exchange, poll_seconds=settings.relay_poll_seconds
        )
        app[RELAY_KEY] = relay
        Gauge(
            "crm_outbox_published", "Events published by this process", registry=registry
        ).set_function(lambda: relay.published)
        Gauge(
            "crm_outbox_backlog",
            "Outbox rows not published yet (measured every few seconds)",
            registry=registry,
        ).set_function(lambda: relay.backlog)
        Gauge(
            "crm_outbox_oldest_age_seconds",
            "Age of the oldest outbox row not published yet (0 when none)",
            registry=registry,
        ).set_function(lambda: relay.oldest_age)
        tasks = relay.supervise(app[SUPERVISOR_KEY])
        for task in tasks:
            task.start()
        yield
        for task in reversed(tasks):
            await task.stop()

    async def consumers(app: web.Application) -> AsyncIterator[None]:
        consumers: list[EventConsumer] = []
        if handlers is not None:
            consumers.append(_consumer(app[POOL_KEY], settings, handlers))
        app[CONSUMERS_KEY] = consumers
        for consumer in consumers:
            _watch_consumer(app, consumer)
        tasks = [c.supervise(app[SUPERVISOR_KEY]) for c in consumers]
        for task in tasks:
            task.start()
        yield
        for task in tasks:
            await task.stop()

    app.cleanup_ctx.extend([database, *contexts, relay, consumers])


def _consumer(pool: asyncpg.Pool, settings: ServiceSettings, handlers: Handlers) -> EventConsumer:
    return EventConsumer(
        pool,
        settings.amqp_url.get_secret_value(),
        settings.exchange,
        settings.service,
        handlers,
        prefetch=settings.consumer_prefetch,
        max_deliveries=settings.consumer_max_deliveries,
        concurrency=settings.consumer_concurrency,
        publisher_prefix=settings.broker_user_prefix,
        entity_owners=settings.owners(),
    )


def _watch_consumer(app: web.Application, consumer: EventConsumer) -> None:
    """Export the consumer's counts (its readiness is its supervised task's)."""
    gauge = Gauge(
        "crm_events_applied", "Events applied by this process", registry=app[REGISTRY_KEY]
    )
    gauge.set_function(lambda: consumer.applied)
    Gauge(
        "crm_events_dead_lettered",
        "Events this process sent to its dead-letter queue",
        registry=app[REGISTRY_KEY],
    ).set_function(lambda: consumer.dead_lettered)
