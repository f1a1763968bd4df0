"""Event consumers: one durable queue per consuming service, bound to ``crm.events``.

Each delivery is handled in one database transaction that first records the event id in the
inbox; an event already there is acknowledged without effect, so each event's effect is applied
exactly once. The message is acknowledged after the commit (manual acks, bounded prefetch).
A handler that raises is retried; after ``max_deliveries`` attempts the broker moves the message
to the service's dead-letter queue. A body that is not a valid event goes there at once.
While the database is unreachable the message is held and retried, never dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from .broker import (
    BROKER_ERRORS,
    dead_letter_exchange,
    dead_letter_queue,
    declare_events_exchange,
    lost_signal,
    open_connection,
    publisher_refusal,
    queue_name,
)
from .events import CloudEvent, decode

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]
# wants(event): False for an event the handler would leave without effect; it is acknowledged
# at once, without a transaction or an inbox row (the routing keys cannot say e.g. "an account
# whose address changed").
Wants = Callable[[CloudEvent], bool]

CLAIM_INBOX = """
INSERT INTO inbox (event_id, event_type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING
RETURNING true
"""
DB_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
    TimeoutError,
)


class EventConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        amqp_url: str,
        exchange: str,
        service: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 32,
        max_deliveries: int = 5,
        retry_delay: float = 0.2,
        concurrency: int = 4,
        wants: Wants | None = None,
        publisher_prefix: str | None = None,
    ) -> None:
        self._pool = pool
        self._amqp_url = amqp_url
        self._exchange_name = exchange
        self._service = service
        self._bindings = list(bindings)
        self._handler = handler
        self._prefetch = prefetch
        self._max_deliveries = max_deliveries
        self._retry_delay = retry_delay
        self._concurrency = max(1, concurrency)
        self._wants = wants
        # Broker users are <prefix><service>: an event is refused unless published (user_id)
        # by its entity's owner (broker.ENTITY_OWNERS); None: no check (tests of the machinery).
        self._publisher_prefix = publisher_prefix
        self.connected = False
        self.applied = 0
        self.duplicates = 0
        self.skipped = 0

    @property
    def queue_name(self) -> str:
        return queue_name(self._exchange_name, self._service)

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._run_connected()
            except asyncio.CancelledError:
                self.connected = False
                raise
            except BROKER_ERRORS as exc:
                self.connected = False
                log.warning(
                    "consumer %s: %s: %s; retrying in %.1fs",
                    self.queue_name,
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def declare(self, channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
        """Declare the exchange, this service's queue and its dead-letter queue."""
        exchange = await declare_events_exchange(channel, self._exchange_name)
        dlx = await channel.declare_exchange(
            dead_letter_exchange(self._exchange_name), aio_pika.ExchangeType.DIRECT, durable=True
        )
        dlq = await channel.declare_queue(
            dead_letter_queue(self._exchange_name, self._service), durable=True
        )
        await dlq.bind(dlx, routing_key=self.queue_name)
        queue = await channel.declare_queue(
            self.queue_name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._max_deliveries - 1,
                "x-dead-letter-exchange": dead_letter_exchange(self._exchange_name),
                "x-dead-letter-routing-key": self.queue_name,
            },
        )
        for key in self._bindings:
            await queue.bind(exchange, routing_key=key)
        return queue

    async def _run_connected(self) -> None:
        connection = await open_connection(self._amqp_url)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await self.declare(channel)
            lost = lost_signal(connection)
            self.connected = True
            log.info("consumer %s connected", self.queue_name)
            consuming = asyncio.create_task(self._consume(queue))
            watching = asyncio.create_task(lost.wait())
            try:
                await asyncio.wait([consuming, watching], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (consuming, watching):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *BROKER_ERRORS):
                        await task
            raise ConnectionError("the broker connection was lost")
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await connection.close()

    async def _consume(self, queue: aio_pika.abc.AbstractQueue) -> None:
        """Deliveries spread over a few workers by record: a record's events stay in order, while
        events of different records are applied side by side (their commits overlap)."""
        lanes: list[asyncio.Queue[tuple[AbstractIncomingMessage, CloudEvent]]] = [
            asyncio.Queue() for _ in range(self._concurrency)
        ]
        workers = [asyncio.create_task(self._work(lane)) for lane in lanes]
        try:
            async with queue.iterator() as messages:
                async for message in messages:
                    try:
                        event = decode(message.body)
                    except (ValidationError, ValueError) as exc:
                        log.error(
                            "consumer %s: not a valid event, dead-lettered: %s",
                            self.queue_name,
                            exc,
                        )
                        await message.reject(requeue=False)
                        continue
                    refusal = self._publisher_refusal(message, event)
                    if refusal is not None:
                        await self._refuse(message, event, refusal)
                        continue
                    if not self._wanted(event):
                        self.skipped += 1
                        await message.ack()
                        continue
                    lane = zlib.crc32(event.subject.encode()) % len(lanes)
                    await lanes[lane].put((message, event))
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    def _publisher_refusal(self, message: AbstractIncomingMessage, event: CloudEvent) -> str | None:
        if self._publisher_prefix is None:
            return None
        return publisher_refusal(event.data.entity, message.user_id, self._publisher_prefix)

    async def _refuse(
        self, message: AbstractIncomingMessage, event: CloudEvent, reason: str
    ) -> None:
        """A forged event (not from its entity's owner): to the dead-letter queue, with why."""
        log.error(
            "consumer %s: event %s refused, dead-lettered: %s", self.queue_name, event.id, reason
        )
        dead_letter = getattr(self, "dead_letter", None)
        if dead_letter is not None:
            await dead_letter(message, reason)
        else:
            await message.reject(requeue=False)

    def _wanted(self, event: CloudEvent) -> bool:
        """The filter's answer; a filter that fails on an odd event leaves it to the handler
        (retried, then dead-lettered if it fails there too), never stops the consumer."""
        if self._wants is None:
            return True
        try:
            return self._wants(event)
        except Exception:
            log.exception("consumer %s: filter failed on event %s", self.queue_name, event.id)
            return True

    async def _work(self, lane: asyncio.Queue[tuple[AbstractIncomingMessage, CloudEvent]]) -> None:
        while True:
            message, event = await lane.get()
            await self._process(message, event)

    async def _process(self, message: AbstractIncomingMessage, event: CloudEvent) -> None:
        try:
            await self.apply(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "consumer %s: handler failed for event %s (%s)",
                self.queue_name,
                event.id,
                event.type,
            )
            await asyncio.sleep(self._retry_delay)
            await message.nack(requeue=True)
            return
        await message.ack()

    async def apply(self, event: CloudEvent) -> bool:
        """Apply ``event`` once; True when applied now, False when it had been already."""
        delay = self._retry_delay
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    first_time = await conn.fetchval(CLAIM_INBOX, event.id, event.type)
                    if first_time:
                        await self._handler(conn, event)
                break
            except DB_UNREACHABLE as exc:
                log.warning(
                    "consumer %s: database unreachable (%s); holding the event",
                    self.queue_name,
                    exc,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if first_time:
            self.applied += 1
        else:
            self.duplicates += 1
        return bool(first_time)
