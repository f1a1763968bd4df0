"""RabbitMQ topology shared by publishers and consumers."""

from __future__ import annotations

import asyncio
import contextlib

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from yarl import URL

# Errors that mean "the broker is unreachable or the connection broke": retry later.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    ConnectionError,
    OSError,
    TimeoutError,
)


async def open_connection(url: str, connect_seconds: float = 5.0) -> AbstractConnection:
    """Connect to the broker; a connection that fails half-way is closed, not left to the GC
    (whose finaliser would try to close it from whatever thread it runs in)."""
    connection = aio_pika.Connection(URL(url))
    try:
        await connection.connect(timeout=connect_seconds)
    except BaseException:
        with contextlib.suppress(Exception):
            await connection.close()
        raise
    return connection


async def declare_events_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The durable topic exchange every change is published to."""
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


def queue_name(exchange: str, service: str) -> str:
    return f"{exchange}.{service}"


def dead_letter_exchange(exchange: str) -> str:
    return f"{exchange}.dead-letter"


def dead_letter_queue(exchange: str, service: str) -> str:
    return f"{exchange}.{service}.dead-letter"


def lost_signal(connection: AbstractConnection) -> asyncio.Event:
    """An event set when ``connection`` breaks (aio-pika does not end waits on its own)."""
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_args: lost.set())
    return lost
