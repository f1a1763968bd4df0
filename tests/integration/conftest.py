from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest

from services.common.broker import declare_events_exchange, ensure_exchanges
from services.common.db import create_pool, prepare_database
from services.common.settings import DEFAULT_AMQP_URL
from tests.support import INTEGRATION_EXCHANGE, isolated_database_url

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def pool(infrastructure: None) -> AsyncIterator[asyncpg.Pool]:
    """A database with the common tables (outbox, inbox) and a table for handlers to write."""
    dsn = isolated_database_url("integration")
    await prepare_database(dsn, [])
    pool = await create_pool(dsn, 1, 8)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS effects (event_id uuid NOT NULL, note text NOT NULL)"
    )
    yield pool
    await pool.close()


@pytest.fixture
async def clean(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE outbox, inbox, effects")


@pytest.fixture
async def channel(infrastructure: None) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(DEFAULT_AMQP_URL)
    async with connection:
        await ensure_exchanges(connection, INTEGRATION_EXCHANGE)
        channel = await connection.channel()
        await declare_events_exchange(channel, INTEGRATION_EXCHANGE)
        yield channel


@pytest.fixture
async def probe(
    channel: aio_pika.abc.AbstractChannel,
) -> aio_pika.abc.AbstractQueue:
    """A private queue that sees every event published on the test exchange."""
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(INTEGRATION_EXCHANGE, routing_key="#")
    return queue
