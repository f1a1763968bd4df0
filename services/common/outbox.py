"""The transactional outbox and its relay.

``enqueue`` writes an event row inside the caller's transaction, so the event exists if and only
if the change was committed. ``OutboxRelay`` publishes those rows to the topic exchange with
persistent messages and publisher confirms. It wakes on NOTIFY and polls as a fallback. Several
relays may run against one database: rows are claimed with FOR UPDATE SKIP LOCKED, and a row is
held back while an earlier row of the same record is claimed by another relay, so a record's
events are never reordered. A crash between publishing and marking re-publishes: consumers
dedupe on the event id (at-least-once delivery, exactly-once effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import asyncpg
from yarl import URL

from .broker import declare_events_exchange, ensure_exchanges, open_connection
from .events import CloudEvent, diff, encode, make_event
from .supervisor import SupervisedTask, Supervisor, close_quietly

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "crm_outbox"

# The row and a NOTIFY (delivered at commit, it wakes the relays) in one round trip.
INSERT_OUTBOX = f"""
WITH queued AS (
    INSERT INTO outbox (event_id, aggregate_id, routing_key, body) VALUES ($1, $2, $3, $4)
    RETURNING id
)
SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM queued
"""

# Claim the oldest unpublished rows nobody else holds, then keep only those whose record has no
# earlier unpublished row outside the claim (that row is being published by another relay).
CLAIM_BATCH = """
WITH claimed AS (
    SELECT id, event_id, aggregate_id, routing_key, body
    FROM outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
SELECT c.id, c.event_id, c.routing_key, c.body
FROM claimed c
WHERE NOT EXISTS (
    SELECT 1 FROM outbox o
    WHERE o.aggregate_id = c.aggregate_id
      AND o.published_at IS NULL
      AND o.id < c.id
      AND o.id NOT IN (SELECT id FROM claimed)
)
ORDER BY c.id
"""
MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
PRUNE_PUBLISHED = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE published_at < now() - $1::interval LIMIT 1000
)
"""
COUNT_PENDING = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
# The backlog and the age of its oldest row, both read from the partial index on unpublished
# ids (outbox_unpublished): the oldest row is the one with the lowest id (ids are handed out in
# insertion order; created_at is its transaction's start, so this is off by at most the length
# of one transaction), found without reading the published rows.
MEASURE_BACKLOG = """
SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS backlog,
       (SELECT extract(epoch FROM now() - created_at)::float8 FROM outbox
        WHERE published_at IS NULL ORDER BY id LIMIT 1) AS oldest_age
"""


async def enqueue(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Add ``event`` to the outbox; call inside the transaction that makes the change."""
    await conn.execute(INSERT_OUTBOX, event.id, event.subject, event.routing_key, encode(event))


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        amqp_url: str,
        exchange: str,
        *,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        keep_published: timedelta = timedelta(days=7),
        publish_timeout: float = 10.0,
        measure_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._amqp_url = amqp_url
        # RabbitMQ checks user_id against the connection's user: consumers trust it to tell
        # which service published an event (the owners of broker.publisher_refusal).
        self._user_id = URL(amqp_url).user or None
        self._exchange_name = exchange
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._keep_published = keep_published
        self._publish_timeout = publish_timeout
        self._measure_seconds = measure_seconds
        self._wakeup = asyncio.Event()
        self.connected = False
        self.published = 0
        self.backlog = 0  # unpublished rows, as last measured
        self.oldest_age = 0.0  # seconds since the oldest unpublished row was written

    def wake(self) -> None:
        self._wakeup.set()

    def supervise(self, supervisor: Supervisor) -> list[SupervisedTask]:
        """The relay's tasks, added to ``supervisor`` (not started): the relay itself, its
        LISTEN connection and the backlog measure."""
        return [
            supervisor.add("outbox-relay", "relais d'événements", self.run_connected),
            supervisor.add(
                "outbox-listener", "écoute des notifications", self.listen, critical=False
            ),
            supervisor.add("outbox-measure", "mesure de l'outbox", self.measure, critical=False),
        ]

    async def run(self) -> None:
        """Publish until cancelled, each task supervised (restarted with a backoff)."""
        supervisor = Supervisor()
        for task in self.supervise(supervisor):
            task.start()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            await supervisor.stop()

    async def run_connected(self, task: SupervisedTask) -> None:
        """Connect and publish until something fails (then raise: the supervisor retries)."""
        connection = await open_connection(self._amqp_url)
        try:
            await ensure_exchanges(connection, self._exchange_name)
            channel = await connection.channel(publisher_confirms=True)
            exchange = await declare_events_exchange(channel, self._exchange_name)
            # A lost connection must interrupt an idle wait, not wait for the next event.
            connection.close_callbacks.add(lambda *_args: self._wakeup.set())
            self.connected = True
            log.info("outbox relay connected to the broker")
            prune_every, rounds = 1000, 0
            while True:
                if not connection.connected.is_set():
                    raise ConnectionError("the broker connection was lost")
                count = await self.publish_batch(exchange)
                if rounds == 0:
                    # Working only once the database answered too: a relay that connects to the
                    # broker, then fails on the database, must not start its backoff afresh each
                    # time (a reconnection loop while the database is down).
                    task.mark_up()
                rounds += 1
                if rounds % prune_every == 0:
                    await self._pool.execute(PRUNE_PUBLISHED, self._keep_published)
                if count == 0:
                    await self._wait()
        finally:
            self.connected = False
            task.mark_down()
            await close_quietly(connection)

    async def publish_batch(self, exchange: aio_pika.abc.AbstractExchange) -> int:
        """Publish one batch in id order; the rows are marked only once the broker confirmed."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM_BATCH, self._batch_size)
            # Pipelined: every message of the batch is sent, in id order, on one channel (which
            # keeps that order), then the broker's confirms are awaited together.
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body=bytes(row["body"]),
                            content_type="application/cloudevents+json",
                            message_id=str(row["event_id"]),
                            user_id=self._user_id,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        row["routing_key"],
                        timeout=self._publish_timeout,
                    )
                    for row in rows
                )
            )
            if rows:
                await conn.execute(MARK_PUBLISHED, [row["id"] for row in rows])
        self.published += len(rows)
        return len(rows)

    async def _wait(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._poll_seconds)
        self._wakeup.clear()

    async def listen(self, task: SupervisedTask) -> None:
        """Hold a LISTEN connection until it breaks (then raise: the supervisor retries, and
        polling carries on meanwhile)."""
        async with self._pool.acquire() as conn:
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _conn, ev=closed: ev.set())
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                task.mark_up()
                self._wakeup.set()  # events written while it was not listening
                await closed.wait()
            finally:
                task.mark_down()
                with contextlib.suppress(Exception):
                    await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
        raise ConnectionError("the LISTEN connection was closed")

    async def measure(self, task: SupervisedTask) -> None:
        """Measure the backlog every few seconds (metrics), whether the broker is up or not."""
        while True:
            row = await self._pool.fetchrow(MEASURE_BACKLOG, timeout=5)
            assert row is not None
            self.backlog = row["backlog"]
            self.oldest_age = row["oldest_age"] or 0.0
            task.mark_up()
            await asyncio.sleep(self._measure_seconds)

    def _on_notify(self, *_args: object) -> None:
        self._wakeup.set()


async def record_change(
    conn: asyncpg.Connection,
    *,
    source: str,
    entity: str,
    change: str,
    record: dict[str, Any],
    actor: str,
    old: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> CloudEvent:
    """Enqueue the event of one committed change: ``record`` as it is now, ``old`` before."""
    event = make_event(
        source=source,
        entity=entity,
        change=change,
        record=record,
        actor=actor,
        changes=diff(old, record),
        at=record.get("updated_at") if isinstance(record.get("updated_at"), datetime) else None,
        context=context,
    )
    await enqueue(conn, event)
    return event
