"""Event consumers: one durable queue per consuming service, bound to ``crm.events``.

Each delivery is handled in one database transaction that first records the event id in the
inbox; an event already there is acknowledged without effect, so each event's effect is applied
exactly once. The message is acknowledged after the commit (manual acks, bounded prefetch).
A handler that raises is retried; when it fails on the last of ``max_deliveries`` attempts (the
quorum queue counts them: ``x-delivery-count``), the consumer moves the message to the service's
dead-letter queue with the reason in a header (``dead_letter``); the queue's own delivery limit
does the same, without a reason, should that fail. A body that is not a valid event, and an
event refused (``EventRefused``, or not from its entity's owner), go there at once. While the
database is unreachable the message is held and retried, never dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from yarl import URL

from .broker import (
    EntityOwners,
    dead_letter_exchange,
    dead_letter_queue,
    declare_dead_letter_exchange,
    declare_events_exchange,
    ensure_exchanges,
    is_announcement,
    lost_signal,
    message_copy,
    open_connection,
    publisher_refusal,
    queue_name,
)
from .dberrors import is_transient
from .events import CloudEvent, decode
from .handlers import EventRefused as EventRefused  # raised by handlers; dead-lettered here
from .handlers import Handlers
from .supervisor import SupervisedTask, Supervisor, close_quietly

log = logging.getLogger(__name__)


CLAIM_INBOX = """
INSERT INTO inbox (event_id, event_type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING
RETURNING true
"""
# Headers of a message this consumer dead-letters (besides the original message's own).
REASON_HEADER = "x-crm-dead-letter-reason"
SERVICE_HEADER = "x-crm-service"
ORIGINAL_USER_HEADER = "x-crm-original-user-id"
# Set by the broker on each delivery; not carried over (a replayed copy starts afresh).
BROKER_HEADERS = frozenset({"x-delivery-count", "x-death", "x-first-death-exchange",
                            "x-first-death-queue", "x-first-death-reason",
                            "x-last-death-exchange", "x-last-death-queue",
                            "x-last-death-reason"})  # fmt: skip


def _stopping() -> bool:
    """True in a task that has been asked to stop (cancelled), whatever it raises meanwhile."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 1000 else text[:999] + "…"


class EventConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        amqp_url: str,
        exchange: str,
        service: str,
        handlers: Handlers,
        *,
        prefetch: int = 32,
        max_deliveries: int = 5,
        retry_delay: float = 0.2,
        concurrency: int = 4,
        publisher_prefix: str | None = None,
        entity_owners: EntityOwners | None = None,
    ) -> None:
        self._pool = pool
        self._amqp_url = amqp_url
        # The broker user this consumer connects as (aiormq's default when the URL names none):
        # the user_id of the copies it dead-letters, which RabbitMQ checks against the
        # connection, so that crm-admin can tell them from messages others put there.
        self.broker_user = URL(amqp_url).user or "guest"
        self._exchange_name = exchange
        self._service = service
        # The queue's routing keys, what it acknowledges unseen, what it applies: its handlers'.
        self._handlers = handlers
        self._prefetch = prefetch
        self._max_deliveries = max_deliveries
        self._retry_delay = retry_delay
        self._concurrency = max(1, concurrency)
        # Broker users are <prefix><service>: an event is refused unless published (user_id)
        # by its entity's owner (``entity_owners``); None: no check (tests of the machinery).
        if publisher_prefix is not None and entity_owners is None:
            raise TypeError("EventConsumer: checking publishers needs the entity owners")
        self._publisher_prefix = publisher_prefix
        self._entity_owners: EntityOwners = entity_owners or {}
        self.connected = False
        self.applied = 0
        self.duplicates = 0
        self.skipped = 0
        self.dead_lettered = 0
        self._dead_letters: aio_pika.abc.AbstractExchange | None = None  # on a confirm channel

    @property
    def queue_name(self) -> str:
        return queue_name(self._exchange_name, self._service)

    def supervise(self, supervisor: Supervisor) -> SupervisedTask:
        """The consumer's task, added to ``supervisor`` (not started)."""
        return supervisor.add("event-consumer", "consommateur d'événements", self.run_connected)

    async def run(self) -> None:
        """Consume until cancelled, supervised (restarted with a backoff whatever fails)."""
        supervisor = Supervisor()
        self.supervise(supervisor).start()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            await supervisor.stop()

    async def declare(self, channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
        """Declare the exchange, this service's queue and its dead-letter queue."""
        exchange = await declare_events_exchange(channel, self._exchange_name)
        dlx = await declare_dead_letter_exchange(channel, self._exchange_name)
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
        for key in self._handlers.bindings:
            await queue.bind(exchange, routing_key=key)
        return queue

    async def run_connected(self, task: SupervisedTask) -> None:
        """Connect and consume until something fails (then raise: the supervisor retries)."""
        connection = await open_connection(self._amqp_url)
        channel: aio_pika.abc.AbstractChannel | None = None
        confirms: aio_pika.abc.AbstractChannel | None = None
        try:
            lost = lost_signal(connection)
            await ensure_exchanges(connection, self._exchange_name)
            channel = await connection.channel()
            channel.close_callbacks.add(lambda *_args: lost.set())
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await self.declare(channel)
            confirms = await connection.channel(publisher_confirms=True)
            confirms.close_callbacks.add(lambda *_args: lost.set())
            self._dead_letters = await confirms.get_exchange(
                dead_letter_exchange(self._exchange_name), ensure=False
            )
            self.connected = True
            task.mark_up()
            log.info("consumer %s connected", self.queue_name)
            consuming = asyncio.create_task(self._consume(queue), name=f"{self.queue_name}-read")
            watching = asyncio.create_task(lost.wait())
            try:
                await asyncio.wait([consuming, watching], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for child in (consuming, watching):
                    child.cancel()
                await asyncio.gather(consuming, watching, return_exceptions=True)
            failure = None if consuming.cancelled() else consuming.exception()
            if failure is not None:
                raise failure
            raise ConnectionError("the broker connection was lost")
        finally:
            self.connected = False
            self._dead_letters = None
            task.mark_down()
            await close_quietly(confirms, channel, connection)

    async def dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Move ``message`` to this service's dead-letter queue, saying why: a copy is published
        (confirmed) to the dead-letter exchange with ``reason``, this service's name, the
        original publisher (``user_id``, which RabbitMQ checked) and the original headers; then
        the original is acknowledged. Should the copy fail, the message is rejected: the queue
        dead-letters it itself, without the reason.

        The copy's own ``user_id`` is this consumer's broker user (RabbitMQ refuses any other
        without the impersonator tag): crm-admin trusts the ``x-crm-original-user-id`` header
        only on a copy published by the user of the service whose dead-letter queue holds it,
        since any user allowed to write to the dead-letter exchange could set that header."""
        headers: dict[str, Any] = {
            k: v for k, v in (message.headers or {}).items() if k not in BROKER_HEADERS
        }
        headers.update(
            {
                REASON_HEADER: reason if len(reason) <= 1000 else reason[:999] + "…",
                SERVICE_HEADER: self._service,
                ORIGINAL_USER_HEADER: message.user_id or "",
                "x-crm-original-exchange": message.exchange or "",
                "x-crm-original-routing-key": message.routing_key or "",
                "x-crm-dead-lettered-at": datetime.now(UTC).isoformat(),
            }
        )
        copy = message_copy(message, headers, self.broker_user)
        exchange = self._dead_letters
        try:
            if exchange is None:
                raise ConnectionError("not connected to the broker")
            await exchange.publish(copy, routing_key=self.queue_name, timeout=10)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "consumer %s: could not dead-letter message %s with its reason (%s); "
                "rejected to the queue's own dead-lettering",
                self.queue_name,
                message.message_id,
                _describe(exc),
            )
            await message.reject(requeue=False)
        else:
            await message.ack()
        self.dead_lettered += 1

    async def _consume(self, queue: aio_pika.abc.AbstractQueue) -> None:
        """Deliveries spread over a few workers by record: a record's events stay in order, while
        events of different records are applied side by side (their commits overlap)."""
        lanes: list[asyncio.Queue[tuple[AbstractIncomingMessage, CloudEvent]]] = [
            asyncio.Queue() for _ in range(self._concurrency)
        ]
        reader = asyncio.create_task(self._read(queue, lanes))
        workers = [asyncio.create_task(self._work(lane)) for lane in lanes]
        try:
            # A worker that fails (an ack on a broken channel) ends the session like the reader:
            # the supervisor starts a new one, and unacknowledged messages are delivered again.
            done, _ = await asyncio.wait([reader, *workers], return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                if not finished.cancelled() and (failure := finished.exception()) is not None:
                    raise failure
            raise ConnectionError("the broker stopped the delivery of messages")
        finally:
            # The reader first: it cancels the subscription and hands back what it had buffered
            # while the channel is still open.
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _read(
        self,
        queue: aio_pika.abc.AbstractQueue,
        lanes: list[asyncio.Queue[tuple[AbstractIncomingMessage, CloudEvent]]],
    ) -> None:
        try:
            await self._read_into(queue, lanes)
        except Exception as exc:
            if not _stopping():
                raise
            # Stopped while the channel was going away too: the subscription could not be
            # cancelled (aio-pika's iterator does it on the way out), nor its buffered messages
            # handed back; the broker requeues them as the channel closes. That happens when a
            # service gets a second SIGINT/SIGTERM as it stops (Ctrl-C reaches every process of
            # `make run`, which then sends SIGTERM): aiohttp's run_app cancels every task at
            # once, the broker connection's own included. A stop, not a failure to report.
            log.debug("consumer %s stopped: %s", self.queue_name, _describe(exc))
            raise asyncio.CancelledError from exc

    async def _read_into(
        self,
        queue: aio_pika.abc.AbstractQueue,
        lanes: list[asyncio.Queue[tuple[AbstractIncomingMessage, CloudEvent]]],
    ) -> None:
        async with queue.iterator() as messages:
            async for message in messages:
                if is_announcement(message.routing_key):  # a service's meta, not an event
                    await message.ack()
                    continue
                try:
                    event = decode(message.body)
                except (ValidationError, ValueError) as exc:
                    log.error(
                        "consumer %s: not a valid event, dead-lettered: %s",
                        self.queue_name,
                        exc,
                    )
                    await self.dead_letter(message, f"pas un événement valide : {_describe(exc)}")
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

    def _publisher_refusal(self, message: AbstractIncomingMessage, event: CloudEvent) -> str | None:
        if self._publisher_prefix is None:
            return None
        return publisher_refusal(
            event.data.entity, message.user_id, self._publisher_prefix, self._entity_owners
        )

    async def _refuse(
        self, message: AbstractIncomingMessage, event: CloudEvent, reason: str
    ) -> None:
        """A forged event (not from its entity's owner): to the dead-letter queue, with why."""
        log.error(
            "consumer %s: event %s refused, dead-lettered: %s", self.queue_name, event.id, reason
        )
        await self.dead_letter(message, reason)

    def _wanted(self, event: CloudEvent) -> bool:
        """False for an event no handler acts on (the routing keys cannot say e.g. "an account
        whose address changed"): acknowledged at once, without a transaction or an inbox row.
        A condition that fails on an odd event leaves it to the handlers (retried, then
        dead-lettered if it fails there too), never stops the consumer."""
        try:
            return self._handlers.wants(event)
        except Exception:
            log.exception("consumer %s: filter failed on event %s", self.queue_name, event.id)
            return True

    async def _work(self, lane: asyncio.Queue[tuple[AbstractIncomingMessage, CloudEvent]]) -> None:
        while True:
            message, event = await lane.get()
            try:
                await self._process(message, event)
            except Exception as exc:
                if not _stopping():
                    raise
                # As in _read: an ack or nack that fails because everything is being stopped.
                log.debug("consumer %s stopped: %s", self.queue_name, _describe(exc))
                raise asyncio.CancelledError from exc

    def _attempt(self, message: AbstractIncomingMessage) -> int:
        """Which delivery of ``message`` this is (1 for the first), as the quorum queue counts."""
        count = (message.headers or {}).get("x-delivery-count")
        return (count if isinstance(count, int) else 0) + 1

    async def _process(self, message: AbstractIncomingMessage, event: CloudEvent) -> None:
        try:
            await self.apply(event)
        except asyncio.CancelledError:
            raise
        except EventRefused as exc:
            log.error(
                "consumer %s: event %s refused, dead-lettered: %s",
                self.queue_name,
                event.id,
                exc.reason,
            )
            await self.dead_letter(message, exc.reason)
            return
        except Exception as exc:
            attempt = self._attempt(message)
            log.exception(
                "consumer %s: handler failed for event %s (%s), attempt %d of %d",
                self.queue_name,
                event.id,
                event.type,
                attempt,
                self._max_deliveries,
            )
            if attempt >= self._max_deliveries:
                await self.dead_letter(
                    message, f"échec du traitement ({attempt} tentatives) : {_describe(exc)}"
                )
                return
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
                        await self._handlers.handle(conn, event)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning(
                    "consumer %s: database unreachable (%s); holding the event",
                    self.queue_name,
                    _describe(exc),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if first_time:
            self.applied += 1
        else:
            self.duplicates += 1
        return bool(first_time)
