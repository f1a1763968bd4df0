"""Consumers against the real broker: inbox (exactly-once effect) and dead-lettering."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest

from services.common.broker import dead_letter_queue
from services.common.consumer import EventConsumer, Handler, Wants
from services.common.events import CloudEvent, encode, make_event
from services.common.settings import DEFAULT_AMQP_URL
from tests.support import INTEGRATION_EXCHANGE, eventually

pytestmark = pytest.mark.usefixtures("clean")


def an_event(entity: str = "account") -> CloudEvent:
    record = {"id": uuid.uuid4(), "version": 1, "name": "Dupont"}
    return make_event(
        source="/tests", entity=entity, change="created", record=record, actor="t", changes={}
    )


async def note_effect(conn: asyncpg.Connection, event: CloudEvent) -> None:
    await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, 'applied')", event.id)


@contextlib.asynccontextmanager
async def consuming(
    pool: asyncpg.Pool,
    service: str,
    handler: Handler,
    max_deliveries: int = 3,
    wants: Wants | None = None,
) -> AsyncIterator[EventConsumer]:
    consumer = EventConsumer(
        pool,
        DEFAULT_AMQP_URL,
        INTEGRATION_EXCHANGE,
        service,
        ["#"],
        handler,
        prefetch=4,
        max_deliveries=max_deliveries,
        retry_delay=0.01,
        wants=wants,
    )
    # Other tests' events reach every queue bound to # (the supervision tests publish dozens).
    async with await aio_pika.connect(DEFAULT_AMQP_URL) as connection:
        await (await consumer.declare(await connection.channel())).purge()
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: _value(consumer.connected))
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _value(value: object) -> object:
    return value


async def publish(channel: aio_pika.abc.AbstractChannel, body: bytes, key: str) -> None:
    exchange = await channel.get_exchange(INTEGRATION_EXCHANGE)
    await exchange.publish(
        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=key
    )


async def effects(pool: asyncpg.Pool, event: CloudEvent) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event.id)
    return count


async def test_an_event_delivered_twice_has_its_effect_once(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    event = an_event()
    async with consuming(pool, "consumer-test", note_effect) as consumer:
        await publish(channel, encode(event), event.routing_key)
        await publish(channel, encode(event), event.routing_key)  # a relay re-publish
        await eventually(lambda: _value(consumer.applied + consumer.duplicates == 2))
    assert await effects(pool, event) == 1
    assert (consumer.applied, consumer.duplicates) == (1, 1)


async def test_a_failing_handler_is_retried_then_dead_lettered_and_leaves_no_effect(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    attempts: list[uuid.UUID] = []

    async def half_done_then_fails(conn: asyncpg.Connection, event: CloudEvent) -> None:
        attempts.append(event.id)
        await note_effect(conn, event)  # rolled back with the failure
        raise RuntimeError("poison")

    dlq = await channel.declare_queue(
        dead_letter_queue(INTEGRATION_EXCHANGE, "dead-letter-test"), durable=True
    )
    await dlq.purge()
    event, healthy = an_event(), an_event()
    async with consuming(pool, "dead-letter-test", half_done_then_fails, max_deliveries=3):
        await publish(channel, encode(event), event.routing_key)
        dead = await eventually(lambda: dlq.get(fail=False))
        await dead.ack()
    assert dead.body == encode(event)
    # The copy is published as the consumer's own broker user (RabbitMQ checked it), which is
    # how crm-admin tells it from a message someone else put in the dead-letter exchange.
    assert dead.user_id == "guest"
    assert attempts == [event.id] * 3
    assert await effects(pool, event) == 0
    # The inbox claim was rolled back too: once fixed, the event can still be applied.
    async with consuming(pool, "dead-letter-test", note_effect):
        await publish(channel, encode(event), event.routing_key)
        await publish(channel, encode(healthy), healthy.routing_key)
        await eventually(lambda: effects(pool, healthy))
    assert await effects(pool, event) == 1


async def test_a_body_that_is_not_an_event_goes_straight_to_the_dead_letter_queue(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls: list[CloudEvent] = []

    async def handler(_conn: asyncpg.Connection, event: CloudEvent) -> None:
        calls.append(event)

    dlq = await channel.declare_queue(
        dead_letter_queue(INTEGRATION_EXCHANGE, "dead-letter-test"), durable=True
    )
    await dlq.purge()
    async with consuming(pool, "dead-letter-test", handler):
        await publish(channel, b"{not json", "account.created")
        dead = await eventually(lambda: dlq.get(fail=False))
        await dead.ack()
    assert dead.body == b"{not json"
    assert calls == []


async def test_an_event_the_handler_does_not_want_is_acknowledged_without_a_transaction(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    unwanted, wanted = an_event("contact"), an_event("account")
    async with consuming(
        pool, "consumer-filter-test", note_effect, wants=lambda e: e.data.entity == "account"
    ) as consumer:
        await publish(channel, encode(unwanted), unwanted.routing_key)
        await publish(channel, encode(wanted), wanted.routing_key)
        await eventually(lambda: _value(consumer.applied + consumer.skipped == 2))
    assert (consumer.applied, consumer.skipped) == (1, 1)
    assert (await effects(pool, wanted), await effects(pool, unwanted)) == (1, 0)
    inbox = await pool.fetch("SELECT event_id FROM inbox")
    assert [r["event_id"] for r in inbox] == [wanted.id]
    # Acknowledged, not left on the queue once the consumer is gone.
    queue = await channel.declare_queue(consumer.queue_name, passive=True)
    assert queue.declaration_result.message_count == 0


async def test_a_filter_that_fails_on_an_odd_event_leaves_it_to_the_handler(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    def fragile(event: CloudEvent) -> bool:
        return bool(event.data.record["address"]["city"])  # no address in these events

    first, second = an_event(), an_event()
    async with consuming(pool, "consumer-filter-test", note_effect, wants=fragile) as consumer:
        await publish(channel, encode(first), first.routing_key)
        await publish(channel, encode(second), second.routing_key)  # the consumer still runs
        await eventually(lambda: _value(consumer.applied == 2))
    assert (await effects(pool, first), await effects(pool, second)) == (1, 1)
