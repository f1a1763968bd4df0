"""Consumers against the real broker: inbox (exactly-once effect) and dead-lettering."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest
from pydantic import BaseModel

from services.common.broker import dead_letter_queue
from services.common.consumer import REASON_HEADER, EventConsumer
from services.common.events import CloudEvent, encode, make_event
from services.common.handlers import Condition, Handler, Handlers
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


def on_every_event(handler: Handler, when: Condition | None = None) -> Handlers:
    handlers = Handlers()
    handlers.on("#", when=when)(handler)
    return handlers


@contextlib.asynccontextmanager
async def consuming(
    pool: asyncpg.Pool,
    service: str,
    handlers: Handler | Handlers,
    max_deliveries: int = 3,
) -> AsyncIterator[EventConsumer]:
    consumer = EventConsumer(
        pool,
        DEFAULT_AMQP_URL,
        INTEGRATION_EXCHANGE,
        service,
        handlers if isinstance(handlers, Handlers) else on_every_event(handlers),
        prefetch=4,
        max_deliveries=max_deliveries,
        retry_delay=0.01,
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
    only_accounts = on_every_event(note_effect, when=lambda e: e.data.entity == "account")
    async with consuming(pool, "consumer-filter-test", only_accounts) as consumer:
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
    handlers = on_every_event(note_effect, when=fragile)
    async with consuming(pool, "consumer-filter-test", handlers) as consumer:
        await publish(channel, encode(first), first.routing_key)
        await publish(channel, encode(second), second.routing_key)  # the consumer still runs
        await eventually(lambda: _value(consumer.applied == 2))
    assert (await effects(pool, first), await effects(pool, second)) == (1, 1)


class Named(BaseModel):
    name: str
    employees: int


async def test_an_event_whose_record_does_not_fit_its_typed_handler_is_dead_lettered_with_why(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    seen: list[Named] = []
    handlers = Handlers()

    @handlers.on("account.created")
    async def count(conn: asyncpg.Connection, event: CloudEvent, account: Named) -> None:
        await note_effect(conn, event)
        seen.append(account)

    dlq = await channel.declare_queue(
        dead_letter_queue(INTEGRATION_EXCHANGE, "typed-handler-test"), durable=True
    )
    await dlq.purge()
    unfit = an_event()  # no employees in its record
    fit = make_event(
        source="/tests",
        entity="account",
        change="created",
        record={"id": uuid.uuid4(), "version": 1, "name": "Dupont", "employees": "12"},
        actor="t",
        changes={},
    )
    other = an_event("contact")  # no handler: the queue is not even bound to it
    async with consuming(pool, "typed-handler-test", handlers) as consumer:
        for event in (unfit, other, fit):
            await publish(channel, encode(event), event.routing_key)
        dead = await eventually(lambda: dlq.get(fail=False))
        await dead.ack()
        await eventually(lambda: _value(consumer.applied == 1))
    assert dead.body == encode(unfit)
    reason = str((dead.headers or {})[REASON_HEADER])
    assert "Named" in reason
    assert "employees" in reason
    assert seen == [Named(name="Dupont", employees=12)]
    assert (await effects(pool, unfit), await effects(pool, fit)) == (0, 1)
    assert (consumer.dead_lettered, consumer.skipped, consumer.duplicates) == (1, 0, 0)
