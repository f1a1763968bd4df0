"""Relays and consumers that never die quietly, against the real PostgreSQL and RabbitMQ: faults
are injected (an unexpected exception where aio-pika or asyncpg may raise one, a TCP proxy
cut), and the task is restarted, says so in /readyz, and carries on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import pytest
from aio_pika.abc import AbstractIncomingMessage
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from services.common.broker import dead_letter_queue
from services.common.consumer import (
    ORIGINAL_USER_HEADER,
    REASON_HEADER,
    SERVICE_HEADER,
    EventConsumer,
)
from services.common.db import create_pool
from services.common.events import CloudEvent, decode, encode, make_event
from services.common.handlers import Handler
from services.common.outbox import OutboxRelay, enqueue
from services.common.settings import DEFAULT_AMQP_URL
from services.common.supervisor import Backoff, Supervisor
from services.common.web import READINESS_KEY, make_app
from tests.integration.test_consumer import on_every_event
from tests.support import (
    INTEGRATION_EXCHANGE,
    INTERNAL_SECRET,
    TcpProxy,
    eventually,
    isolated_database_url,
)

pytestmark = pytest.mark.usefixtures("clean")
FAST = Backoff(initial=0.05, maximum=0.2)


def an_event(record_id: uuid.UUID | None = None, version: int = 1) -> CloudEvent:
    record = {"id": record_id or uuid.uuid4(), "version": version, "name": f"v{version}"}
    return make_event(
        source="/tests", entity="account", change="updated", record=record, actor="t", changes={}
    )


async def note_effect(conn: asyncpg.Connection, event: CloudEvent) -> None:
    await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, 'applied')", event.id)


async def effects(pool: asyncpg.Pool, event: CloudEvent) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event.id)
    return count


async def _value(value: object) -> object:
    return value


@contextlib.asynccontextmanager
async def supervised(supervisor: Supervisor) -> AsyncIterator[Supervisor]:
    for task in supervisor.tasks:
        task.start()
    try:
        yield supervisor
    finally:
        await supervisor.stop()


@contextlib.asynccontextmanager
async def readyz_of(
    supervisor: Supervisor,
) -> AsyncIterator[Callable[[], Awaitable[tuple[int, Any, str | None]]]]:
    """A service app whose readiness is ``supervisor``'s; yields a GET /readyz."""
    app = make_app("supervision-test", INTERNAL_SECRET)
    app[READINESS_KEY].append(supervisor.readiness)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:

            async def readyz() -> tuple[int, Any, str | None]:
                async with http.get(server.make_url("/readyz")) as response:
                    body = await response.json(content_type=None)
                    return response.status, body, response.headers.get("Retry-After")

            yield readyz
    finally:
        await server.close()


def consumer_for(
    pool: asyncpg.Pool,
    service: str,
    handler: Handler,
    *,
    max_deliveries: int = 3,
    concurrency: int = 4,
) -> EventConsumer:
    return EventConsumer(
        pool,
        DEFAULT_AMQP_URL,
        INTEGRATION_EXCHANGE,
        service,
        on_every_event(handler),
        prefetch=8,
        max_deliveries=max_deliveries,
        retry_delay=0.01,
        concurrency=concurrency,
    )


async def publish(
    channel: aio_pika.abc.AbstractChannel, body: bytes, key: str, **properties: Any
) -> None:
    exchange = await channel.get_exchange(INTEGRATION_EXCHANGE)
    message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties)
    await exchange.publish(message, routing_key=key)


async def test_a_relay_whose_publish_raises_an_unexpected_error_is_restarted_and_publishes_on(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue, caplog: pytest.LogCaptureFixture
) -> None:
    relay = OutboxRelay(pool, DEFAULT_AMQP_URL, INTEGRATION_EXCHANGE, poll_seconds=0.2)
    publish_batch = relay.publish_batch
    failures: list[str] = []

    async def flaky(exchange: aio_pika.abc.AbstractExchange) -> int:
        if not failures:  # what aio-pika raised in the reported outage: a RuntimeError
            failures.append("once")
            raise aio_pika.exceptions.ChannelInvalidStateError("No active transport in channel")
        return await publish_batch(exchange)

    relay.publish_batch = flaky  # type: ignore[method-assign]
    supervisor = Supervisor(CollectorRegistry(), backoff=FAST)
    relay_task, *_ = relay.supervise(supervisor)
    first, second = an_event(), an_event()
    async with pool.acquire() as conn:
        await enqueue(conn, first)
    with caplog.at_level(logging.ERROR, logger="services.common.supervisor"):
        async with supervised(supervisor):
            received = [decode((await _next(probe)).body)]
            async with pool.acquire() as conn:
                await enqueue(conn, second)
            received.append(decode((await _next(probe)).body))
    assert [e.id for e in received] == [first.id, second.id]
    assert relay_task.restarts == 1
    (logged,) = [r for r in caplog.records if r.exc_info]
    assert "ChannelInvalidStateError" in logged.getMessage()
    assert logged.exc_info is not None
    assert logged.exc_info[0] is aio_pika.exceptions.ChannelInvalidStateError


async def _next(queue: aio_pika.abc.AbstractQueue) -> AbstractIncomingMessage:
    message = await eventually(lambda: queue.get(fail=False))
    await message.ack()
    return message


async def test_a_consumer_whose_channel_fails_unexpectedly_says_so_in_readyz_then_recovers(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    consumer = consumer_for(pool, "consumer-test", note_effect)
    await (await consumer.declare(channel)).purge()  # what other tests published there
    declare = consumer.declare
    broken = True

    async def failing_declare(ch: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
        if broken:
            raise RuntimeError("channel in an unexpected state")
        return await declare(ch)

    consumer.declare = failing_declare  # type: ignore[method-assign,assignment]
    supervisor = Supervisor(CollectorRegistry(), backoff=FAST)
    task = consumer.supervise(supervisor)
    async with readyz_of(supervisor) as readyz, supervised(supervisor):
        await eventually(lambda: _value(task.restarts >= 2))
        status, body, retry_after = await readyz()
        assert status == 503
        assert retry_after is not None
        assert body["detail"] == "consommateur d'événements : en reprise après RuntimeError"
        broken = False

        async def ready() -> bool:
            status: int = (await readyz())[0]
            return status == 200

        await eventually(ready, within=20)
        event = an_event()
        await publish(channel, encode(event), event.routing_key)
        await eventually(lambda: effects(pool, event))
    assert consumer.applied == 1


async def test_a_consumer_worker_that_fails_ends_the_session_and_the_message_is_applied_once(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    consumer = consumer_for(pool, "consumer-test", note_effect)
    await (await consumer.declare(channel)).purge()  # what other tests published there
    process = consumer._process
    failed: list[uuid.UUID] = []

    async def ack_fails_once(message: AbstractIncomingMessage, event: CloudEvent) -> None:
        if not failed:  # e.g. an ack on a channel that just broke
            failed.append(event.id)
            raise aio_pika.exceptions.ChannelInvalidStateError("writer is None")
        await process(message, event)

    consumer._process = ack_fails_once  # type: ignore[method-assign]
    supervisor = Supervisor(CollectorRegistry(), backoff=FAST)
    task = consumer.supervise(supervisor)
    event = an_event()
    async with supervised(supervisor):
        await eventually(lambda: _value(task.up))
        await publish(channel, encode(event), event.routing_key)
        await eventually(lambda: effects(pool, event))
    assert failed == [event.id]
    assert task.restarts == 1
    assert await effects(pool, event) == 1


async def test_a_handler_that_always_fails_is_dead_lettered_with_its_reason_and_the_next_event_applied(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    poison, healthy = an_event(), an_event()
    attempts: list[uuid.UUID] = []

    async def poisoned(conn: asyncpg.Connection, event: CloudEvent) -> None:
        if event.id == poison.id:
            attempts.append(event.id)
            raise RuntimeError("poison")
        await note_effect(conn, event)

    dlq = await channel.declare_queue(
        dead_letter_queue(INTEGRATION_EXCHANGE, "dead-letter-test"), durable=True
    )
    await dlq.purge()
    # One lane: the healthy event waits behind the poison one.
    consumer = consumer_for(pool, "dead-letter-test", poisoned, max_deliveries=3, concurrency=1)
    await (await consumer.declare(channel)).purge()  # what other tests published there
    async with supervised(_alone(consumer)):
        await eventually(lambda: _value(consumer.connected))
        await publish(
            channel, encode(poison), poison.routing_key, user_id="guest", headers={"trace": "t-1"}
        )
        await publish(channel, encode(healthy), healthy.routing_key)
        await eventually(lambda: effects(pool, healthy))
        dead = await _next(dlq)
    assert attempts == [poison.id] * 3
    assert dead.body == encode(poison)
    headers = dead.headers or {}
    assert headers[REASON_HEADER] == "échec du traitement (3 tentatives) : RuntimeError: poison"
    assert headers[SERVICE_HEADER] == "dead-letter-test"
    assert headers[ORIGINAL_USER_HEADER] == "guest"
    assert headers["trace"] == "t-1"
    assert headers["x-crm-original-routing-key"] == poison.routing_key
    assert "x-delivery-count" not in headers
    assert await effects(pool, poison) == 0
    assert consumer.dead_lettered == 1


async def test_a_body_that_is_not_an_event_is_dead_lettered_with_why(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    dlq = await channel.declare_queue(
        dead_letter_queue(INTEGRATION_EXCHANGE, "dead-letter-test"), durable=True
    )
    await dlq.purge()
    consumer = consumer_for(pool, "dead-letter-test", note_effect)
    await (await consumer.declare(channel)).purge()  # what other tests published there
    async with supervised(_alone(consumer)):
        await eventually(lambda: _value(consumer.connected))
        await publish(channel, b"{not json", "account.created")
        dead = await _next(dlq)
    assert dead.body == b"{not json"
    reason = (dead.headers or {})[REASON_HEADER]
    assert isinstance(reason, str)
    assert reason.startswith("pas un événement valide : ")


def _alone(consumer: EventConsumer) -> Supervisor:
    supervisor = Supervisor(backoff=FAST)
    consumer.supervise(supervisor)
    return supervisor


async def test_stopping_a_busy_consumer_and_relay_logs_no_traceback(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()

    async def slow(conn: asyncpg.Connection, event: CloudEvent) -> None:
        started.set()
        await asyncio.sleep(0.05)
        await note_effect(conn, event)

    consumer = consumer_for(pool, "consumer-test", slow, concurrency=2)
    await (await consumer.declare(channel)).purge()  # what other tests left there
    relay = OutboxRelay(pool, DEFAULT_AMQP_URL, INTEGRATION_EXCHANGE, poll_seconds=0.2)
    supervisor = Supervisor(backoff=FAST)
    relay.supervise(supervisor)
    consumer.supervise(supervisor)
    with caplog.at_level(logging.DEBUG):
        async with supervised(supervisor):
            await eventually(lambda: _value(consumer.connected and relay.connected))
            for _ in range(30):  # more than the prefetch: some wait in lanes and in the buffer
                event = an_event()
                await publish(channel, encode(event), event.routing_key)
            await started.wait()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


def _stopped_by_a_second_signal() -> list[str]:
    """A consumer reading and acknowledging events, stopped as aiohttp's run_app stopped a
    service that got a second SIGINT/SIGTERM while it stopped (Ctrl-C reaches every process of
    `make run`, then deploy/run.py sends SIGTERM; services/common/logs.py now ignores the second
    one, but run_app does the same to whatever is left when it ends): the cleanup has begun (the
    supervisor's stop) when every task still alive is cancelled at once, the broker connection's
    own included; run_app then reports, with its traceback, each task that ended with an
    exception. In an event loop of its own (the test's holds the fixtures): those tasks."""
    loop = asyncio.new_event_loop()
    pool: asyncpg.Pool | None = None
    try:

        async def start() -> tuple[asyncpg.Pool, Supervisor]:
            pool = await create_pool(isolated_database_url("integration"), 1, 4)

            async def slow(conn: asyncpg.Connection, event: CloudEvent) -> None:
                await asyncio.sleep(0.01)

            consumer = consumer_for(pool, "consumer-test", slow, concurrency=2)
            supervisor = _alone(consumer)
            for task in supervisor.tasks:
                task.start()
            await eventually(lambda: _value(consumer.connected))
            async with await aio_pika.connect(DEFAULT_AMQP_URL) as connection:
                channel = await connection.channel()
                for _ in range(30):  # more than the prefetch: some wait in lanes and in the buffer
                    event = an_event()
                    await publish(channel, encode(event), event.routing_key)
            await eventually(lambda: _value(consumer.applied >= 3))  # reading and acking
            return pool, supervisor

        pool, supervisor = loop.run_until_complete(start())
        stopping = loop.create_task(supervisor.stop())  # the first signal
        loop.run_until_complete(asyncio.sleep(0))
        tasks = asyncio.all_tasks(loop)  # the second one
        assert stopping in tasks
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        return [
            f"{task.get_coro().__qualname__}: {task.exception()!r}"  # type: ignore[union-attr]
            for task in tasks
            if not task.cancelled() and task.exception() is not None
        ]
    finally:
        if pool is not None:
            try:
                loop.run_until_complete(asyncio.wait_for(pool.close(), 10))
            except Exception:
                pool.terminate()
        loop.run_until_complete(asyncio.sleep(0.1))  # transports being closed finish closing
        loop.close()


async def test_a_consumer_stopped_by_a_second_signal_ends_without_an_exception(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    consumer = consumer_for(pool, "consumer-test", note_effect)
    await (await consumer.declare(channel)).purge()  # what other tests left there
    # Before: "EventConsumer._read: ChannelInvalidStateError('Channel closed by RPC timeout')",
    # its subscription's cancel on a channel that was closing, in every run of `make run` that
    # Ctrl-C stopped as the consumer's cleanup began.
    assert await asyncio.to_thread(_stopped_by_a_second_signal) == []


async def test_the_backlog_and_the_age_of_its_oldest_row_are_measured_while_the_broker_is_away(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    await proxy.cut()  # the broker is unreachable from the start
    relay = OutboxRelay(
        pool,
        f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
        INTEGRATION_EXCHANGE,
        poll_seconds=0.2,
        measure_seconds=0.05,
    )
    supervisor = Supervisor(backoff=FAST)
    relay.supervise(supervisor)
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(3):
            await enqueue(conn, an_event())
        # Written "two minutes ago": the age is read from the oldest unpublished row.
        await conn.execute("UPDATE outbox SET created_at = now() - interval '120 seconds'")
    async with supervised(supervisor):
        await eventually(lambda: _value(relay.backlog == 3))
        assert relay.oldest_age >= 120
        assert not relay.connected
        await proxy.restore()
        await eventually(lambda: _value(relay.backlog == 0), within=20)
        assert relay.oldest_age == 0
    await proxy.cut()
