"""A service's announcement of its meta version (meta.<service>.announced) is no entity event: a
consumer bound to every key ("#", as the audit trail is) acknowledges it without a word, never
dead-letters it, and goes on with the events that follow."""

from __future__ import annotations

import aio_pika
import asyncpg
import pytest

from services.common.broker import dead_letter_queue
from services.common.events import encode
from services.common.meta import publish_announcement
from services.common.settings import DEFAULT_AMQP_URL
from tests.integration.test_consumer import _value, an_event, consuming, effects, note_effect
from tests.integration.test_consumer import publish as publish_event
from tests.support import INTEGRATION_EXCHANGE, eventually

pytestmark = pytest.mark.usefixtures("clean")


async def test_a_consumer_of_every_key_lets_announcements_pass(
    pool: asyncpg.Pool, channel: aio_pika.abc.AbstractChannel
) -> None:
    dlq = await channel.declare_queue(
        dead_letter_queue(INTEGRATION_EXCHANGE, "announcement-test"), durable=True
    )
    await dlq.purge()
    event = an_event()
    async with consuming(pool, "announcement-test", note_effect) as consumer:
        await publish_announcement(DEFAULT_AMQP_URL, INTEGRATION_EXCHANGE, "accounts", "v2")
        await publish_event(channel, encode(event), event.routing_key)
        await eventually(lambda: _value(consumer.applied == 1))
    assert await effects(pool, event) == 1
    assert consumer.dead_lettered == 0
    assert await dlq.get(fail=False) is None
    queue = await channel.declare_queue(consumer.queue_name, passive=True)
    assert queue.declaration_result.message_count == 0
