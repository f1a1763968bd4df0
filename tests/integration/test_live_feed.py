"""The live feed with the real services and broker: a change made through the API reaches the
subscription of its record (and an account's, for a record linked to it), a slow subscriber
keeps only the latest news, and after a broker outage the feed reconnects by itself, tells its
subscribers that they may have missed something, and delivers the later changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.common.supervisor import Backoff, Supervisor
from services.gateway.ui.live import Change, LiveFeed, Resync, Subscription
from tests.platform import Platform
from tests.support import TcpProxy, eventually, role_amqp_url

Headers = dict[str, str]


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    """The feed's own way to the broker, to cut."""
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def feed(
    platform: Platform, admin: Headers, proxy: TcpProxy
) -> AsyncIterator[tuple[LiveFeed, Supervisor]]:
    """A feed as the gateway runs it: its broker user, its exchange, its declarations."""
    status, entities, _ = await platform.call("GET", "/api/v1/meta/entities", admin)
    assert status == 200
    declared = entities["items"]
    feed = LiveFeed(lambda: declared, capacity=3)
    supervisor = Supervisor(backoff=Backoff(initial=0.05, maximum=0.5))
    exchange = platform.settings["gateway"].exchange
    task = feed.supervise(supervisor, role_amqp_url("gateway", proxy.port), exchange)
    task.start()

    async def connected() -> bool:
        return feed.connected

    await eventually(connected)
    yield feed, supervisor
    await supervisor.stop()


async def made(platform: Platform, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    status, record, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, record
    return record


async def patched(platform: Platform, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    status, record, _ = await platform.call("PATCH", path, headers, json=body)
    assert status == 200, record
    return record


async def first(
    subscription: Subscription, wanted: Callable[[Any], bool], within: float = 20.0
) -> Any:
    """The first item of ``subscription`` that is ``wanted`` (earlier ones passed over: the
    event of a record's creation may come after the test subscribed)."""

    async def take() -> Any:
        while True:
            for item in await subscription.next(1.0):
                if wanted(item):
                    return item

    return await asyncio.wait_for(take(), within)


def version(number: int) -> Callable[[Any], bool]:
    return lambda item: isinstance(item, Change) and item.version == number


async def test_a_change_through_the_api_reaches_its_records_subscribers(
    platform: Platform, admin: Headers, feed: tuple[LiveFeed, Supervisor]
) -> None:
    live, _ = feed
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Flux SA"})
    path = f"/api/v1/accounts/{account['id']}"
    with live.subscribe(account["id"]) as mine, live.subscribe(str(uuid.uuid4())) as other:
        changed = await patched(platform, admin, path, {"name": "Flux et Fils", "employees": 12})
        item = await first(mine, version(changed["version"]))
        assert (item.entity, item.record_id, item.change) == ("account", account["id"], "updated")
        assert (item.version, item.actor) == (changed["version"], "admin")
        assert item.fields == ("employees", "name")
        # A contact created on the account: its subscribers hear of it too.
        contact = await made(
            platform, admin, "/api/v1/contacts", {"last_name": "Lié", "account_id": account["id"]}
        )
        linked = await first(
            mine, lambda item: isinstance(item, Change) and item.entity != "account"
        )
        assert (linked.entity, linked.record_id, linked.change) == (
            "contact",
            contact["id"],
            "created",
        )
        assert await other.next(0.2) == []  # another record's subscriber heard nothing
    assert live.subscriptions() == 0  # gone with their streams


async def test_a_slow_subscriber_keeps_only_the_latest_news(
    platform: Platform, admin: Headers, feed: tuple[LiveFeed, Supervisor]
) -> None:
    live, _ = feed
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Lent SA"})
    path = f"/api/v1/accounts/{account['id']}"
    with live.subscribe(account["id"]) as slow, live.subscribe(account["id"]) as marker:
        for n in range(6):
            last = await patched(platform, admin, path, {"employees": n + 1})
        # The marker subscription reads as it goes: once it has the last version, so has slow.
        seen: list[int] = []
        while last["version"] not in seen:
            seen += [i.version for i in await marker.next(5.0) if isinstance(i, Change)]
        kept = await slow.next(0.1)
        assert [i.version for i in kept if isinstance(i, Change)] == [
            last["version"] - 2,
            last["version"] - 1,
            last["version"],
        ]  # capacity 3: the oldest dropped
        assert slow.dropped >= 3


async def test_after_a_broker_outage_the_feed_reconnects_and_delivers_again(
    platform: Platform,
    admin: Headers,
    feed: tuple[LiveFeed, Supervisor],
    proxy: TcpProxy,
) -> None:
    live, supervisor = feed
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Panne SA"})
    path = f"/api/v1/accounts/{account['id']}"
    with live.subscribe(account["id"]) as mine:
        await proxy.cut()

        async def down() -> bool:
            return not live.connected

        await eventually(down)
        (task,) = supervisor.tasks
        assert task.problem() is not None  # said, not hidden
        await patched(platform, admin, path, {"name": "Panne et Fils"})
        await proxy.restore()
        # The stream is told to read its record again.
        await first(mine, lambda item: isinstance(item, Resync), within=30)
        assert task.restarts >= 1
        after = await patched(platform, admin, path, {"employees": 3})
        item = await first(mine, version(after["version"]))
        assert (item.version, item.fields) == (after["version"], ("employees",))
