"""The view cache's event feed with the real broker: bound to the events the declarations name,
and bound again when the declarations change (a new tab's events heard, a gone one's not)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from services.common.settings import DEFAULT_AMQP_URL
from services.gateway.registry import Registry
from services.gateway.view_cache import ViewCache
from tests.support import INTEGRATION_EXCHANGE, eventually
from tests.unit.test_gateway_composition import DECLARED, event, learn, marketing, registry_of

A, B = str(uuid.uuid4()), str(uuid.uuid4())  # two accounts


@pytest.fixture
async def registry() -> Registry:
    return registry_of({**DECLARED, "marketing": ()})


@pytest.fixture
async def cache(
    registry: Registry, channel: aio_pika.abc.AbstractChannel
) -> AsyncIterator[ViewCache]:
    """A view cache following the integration exchange, bound to ``registry``'s declarations."""
    cache = ViewCache(10_000, 60.0)
    following = asyncio.ensure_future(
        cache.follow(DEFAULT_AMQP_URL, INTEGRATION_EXCHANGE, registry)
    )

    async def usable() -> bool:
        return cache.usable

    await eventually(usable)
    yield cache
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following


async def publish(channel: aio_pika.abc.AbstractChannel, entity: str, account: str) -> None:
    exchange = await channel.get_exchange(INTEGRATION_EXCHANGE)
    link = "target_account_id" if entity == "campaign" else "account_id"
    body = event(entity, {"id": str(uuid.uuid4()), link: account})
    await exchange.publish(aio_pika.Message(body), routing_key=f"{entity}.created")


async def heard(cache: ViewCache, channel: aio_pika.abc.AbstractChannel, entity: str) -> bool:
    """Whether an event of ``entity`` naming A drops A's view. Events on one queue arrive in
    order: once a marker naming B (an action, always heard) has dropped B's view, the first
    event has been delivered if it was bound at all."""
    for account in (A, B):
        cache.store(account, 20, b"{}", cache.generation)
    await publish(channel, entity, A)
    await publish(channel, "action", B)

    async def marker_heard() -> bool:
        return cache.get(B, 20) is None

    await eventually(marker_heard)
    return cache.get(A, 20) is None


async def test_the_feed_hears_the_events_of_the_tabs_declared_and_follows_their_changes(
    registry: Registry, cache: ViewCache, channel: aio_pika.abc.AbstractChannel
) -> None:
    assert await heard(cache, channel, "contact")
    assert not await heard(cache, channel, "campaign")  # no service declares it yet

    learn(registry, "marketing", [marketing(tab_order=7)], version="2")
    assert not cache.usable  # until bound to the new declarations
    cache.store(A, 20, b"{}", cache.generation)
    assert cache.get(A, 20) is None

    async def usable() -> bool:
        return cache.usable

    await eventually(usable)
    assert await heard(cache, channel, "campaign")

    learn(registry, "marketing", [], version="3")  # the tab is gone: its events with it
    await eventually(usable)
    assert not await heard(cache, channel, "campaign")
    assert await heard(cache, channel, "quote")
