"""The outbox and its relay against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest

from services.common.events import CloudEvent, decode, make_event
from services.common.outbox import OutboxRelay, enqueue
from services.common.settings import DEFAULT_AMQP_URL
from tests.support import INTEGRATION_EXCHANGE, TcpProxy, eventually


def event_for(record_id: uuid.UUID, version: int) -> CloudEvent:
    record = {"id": record_id, "version": version, "name": f"v{version}"}
    return make_event(
        source="/tests", entity="account", change="updated", record=record, actor="test", changes={}
    )


async def write(pool: asyncpg.Pool, *events: CloudEvent) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await enqueue(conn, event)


@contextlib.asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def relay_for(
    pool: asyncpg.Pool,
    url: str = DEFAULT_AMQP_URL,
    batch_size: int = 200,
    poll_seconds: float = 0.2,
) -> OutboxRelay:
    return OutboxRelay(
        pool, url, INTEGRATION_EXCHANGE, batch_size=batch_size, poll_seconds=poll_seconds
    )


async def drain(
    queue: aio_pika.abc.AbstractQueue, expected: int, within: float = 20
) -> list[CloudEvent]:
    received: list[CloudEvent] = []

    async def pull() -> bool:
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            received.append(decode(message.body))
        return len(received) >= expected

    await eventually(pull, within=within)
    return received


async def nothing_more(queue: aio_pika.abc.AbstractQueue, wait: float = 0.5) -> bool:
    await asyncio.sleep(wait)
    return await queue.get(fail=False) is None


@pytest.mark.usefixtures("clean")
async def test_a_committed_change_publishes_its_event_once(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue
) -> None:
    event = event_for(uuid.uuid4(), 1)
    await write(pool, event)
    async with running(relay_for(pool)):
        (received,) = await drain(probe, 1)
        assert await nothing_more(probe)
    assert received == event
    assert await pool.fetchval("SELECT published_at IS NOT NULL FROM outbox") is True


@pytest.mark.usefixtures("clean")
async def test_a_rolled_back_change_publishes_nothing(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue
) -> None:
    class Refused(Exception):
        pass

    async def change_then_fail() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, event_for(uuid.uuid4(), 1))
            raise Refused

    with pytest.raises(Refused):
        await change_then_fail()
    async with running(relay_for(pool)):
        assert await nothing_more(probe, wait=1.0)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


@pytest.mark.usefixtures("clean")
async def test_two_relays_publish_everything_once_and_never_reorder_a_record(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue
) -> None:
    records = [uuid.uuid4() for _ in range(6)]
    versions = 40
    for version in range(1, versions + 1):
        await write(pool, *(event_for(rid, version) for rid in records))
    async with running(relay_for(pool, batch_size=7), relay_for(pool, batch_size=5)):
        received = await drain(probe, len(records) * versions)
        assert await nothing_more(probe)
    assert len({e.id for e in received}) == len(received) == len(records) * versions
    for rid in records:
        seen = [e.data.version for e in received if e.data.id == str(rid)]
        assert seen == list(range(1, versions + 1))


@pytest.mark.usefixtures("clean")
async def test_a_relay_wakes_on_notify_without_waiting_for_its_poll(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue
) -> None:
    relay = relay_for(pool, poll_seconds=3600)  # polling alone would never publish in time
    async with running(relay):
        await eventually(lambda: _true(relay.connected))
        await asyncio.sleep(0.3)  # let it reach its wait
        await write(pool, event_for(uuid.uuid4(), 1))
        await drain(probe, 1, within=5)


async def _true(value: bool) -> bool:
    return value


@pytest.mark.usefixtures("clean")
async def test_events_written_while_the_broker_is_unreachable_are_published_when_it_returns(
    pool: asyncpg.Pool, probe: aio_pika.abc.AbstractQueue
) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    relay = relay_for(pool, f"amqp://guest:guest@127.0.0.1:{proxy.port}/")
    async with running(relay):
        await eventually(lambda: _true(relay.connected))
        await proxy.cut()
        await eventually(lambda: _true(not relay.connected))
        written = [event_for(uuid.uuid4(), 1) for _ in range(3)]
        for event in written:
            await write(pool, event)  # the write itself succeeds
        assert await nothing_more(probe, wait=1.0)
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 3
        await proxy.restore()
        received = await drain(probe, 3)
        assert await nothing_more(probe)
    assert [e.id for e in received] == [e.id for e in written]
    await proxy.cut()
