"""RabbitMQ topology shared by publishers and consumers."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

# Errors that mean "the broker is unreachable or the connection broke": retry later.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    ConnectionError,
    OSError,
    TimeoutError,
)


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
