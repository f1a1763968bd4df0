"""Composed 360° views, kept only while they can be kept true.

An entry is dropped as soon as a change may concern its account:

- at once, for every write this gateway forwards (any successful request that is not a read
  drops every entry: writes are rare beside reads, and this needs no guess about which account
  a write touched);
- through the event stream for any other change (another gateway copy, a service's own change
  such as a geocoded address, a won opportunity): the gateway follows ``crm.events`` on a private
  queue bound to the events of the entities the view shows, as the services declare them (the
  account and every entity with a 360° tab, derived events included), and drops the accounts
  each event names. When the declarations change, the queue is bound again and every view
  dropped; until then no view is served or kept from the cache.

While that feed is not connected the cache is not used (nothing would drop stale entries), and it
starts empty at each (re)connection. A generation number, bumped by every drop and remembered per
account dropped, keeps a view composed before a change to its account from being stored after
it. Entries also expire after a few seconds (a quote's status depends on the date; a broker that
stops delivering without closing the connection is noticed late), and the least recently read
accounts go first beyond ``capacity_bytes`` of views (bodies only: the bookkeeping is extra).
Only complete views are stored: one with an unavailable section is composed again next time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson
from aio_pika.abc import AbstractExchange, AbstractQueue

from services.common.broker import private_queue
from services.common.supervisor import SupervisedTask, Supervisor

log = logging.getLogger(__name__)

ACCOUNT = "account"  # the entity whose 360° view is composed
# The key of what depends on every record rather than one account (the web interface's list
# pages): dropped by every event, as every write of this gateway drops everything.
EVERY_RECORD = "*"
Variant = int | str


class Declarations(Protocol):
    """What the feed reads of the gateway's Registry."""

    @property
    def version(self) -> int: ...

    def entities(self) -> list[dict[str, Any]]: ...

    def on_change(self, listener: Callable[[], None]) -> None: ...


def bindings(entities: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The routing keys of the events that may change a view: every event of the account and of
    each entity with a 360° tab, derived ones included (a geocoded address: account.located)."""
    keys: dict[str, None] = {}
    for entity in entities:
        if entity["name"] == ACCOUNT or entity.get("tab"):
            for event in (*entity["events"], *entity.get("derived_events", ())):
                keys[f"{entity['name']}.{event}"] = None
    return tuple(keys)


def account_links(entities: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Entity -> the field of its records that names their account (its tab's link)."""
    return {e["name"]: e["tab"]["link"] for e in entities if e.get("tab")}


def accounts_named(body: bytes, links: Mapping[str, str]) -> set[str] | None:
    """The accounts whose view an event may change; None when it cannot tell (drop them all).
    ``links``: entity -> the field that names the account (``account_links``)."""
    try:
        data = orjson.loads(body)["data"]
        entity, record, changes = data["entity"], data["record"], data.get("changes") or {}
        if entity == ACCOUNT:
            return {str(data["id"])}
        link = links.get(entity)
        if link is None:  # an entity declared since the feed was bound
            return None
        named = {record.get(link)}
        moved = changes.get(link)
        if isinstance(moved, dict):  # a record moved from one account to another
            named |= {moved.get("old"), moved.get("new")}
        return {str(a) for a in named if a}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None


class ViewCache:
    def __init__(self, capacity_bytes: int, ttl_seconds: float) -> None:
        self.capacity_bytes = capacity_bytes
        self.size_bytes = 0
        self.ttl_seconds = ttl_seconds
        self.active = False  # True while the event feed is connected
        self.generation = 0  # bumped by every drop
        self._all_dropped_at = 0  # the generation of the last drop of every view
        self._dropped_at: dict[str, int] = {}  # account -> the generation of its last drop
        self.hits = 0
        self.misses = 0
        self._connected = False
        # The declarations the feed is bound to (none: not following, as in unit tests).
        self._registry: Declarations | None = None
        self._bound_version = -1
        self._declarations_changed = asyncio.Event()  # set by the registry, cleared when bound
        self._bound: tuple[str, ...] = ()  # the queue's routing keys
        self._links: dict[str, str] = {}  # entity -> the field naming its account
        # account id -> {variant: (expires at, body)}, least recently used first; a variant is
        # a view's number of rows per tab, or a page of the web interface (ui/pagecache.py)
        self._entries: OrderedDict[str, dict[Variant, tuple[float, bytes]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def usable(self) -> bool:
        """The feed is connected and bound to the declarations views are composed from."""
        return self.active and (
            self._registry is None or self._registry.version == self._bound_version
        )

    def get(self, account_id: str, per_tab: Variant) -> bytes | None:
        if not self.usable:
            return None
        views = self._entries.get(account_id)
        entry = views.get(per_tab) if views else None
        if entry is None or entry[0] < time.monotonic():
            self.misses += 1
            return None
        self._entries.move_to_end(account_id)
        self.hits += 1
        return entry[1]

    def store(self, account_id: str, per_tab: Variant, body: bytes, generation: int) -> None:
        """Keep ``body``, composed from data read after ``generation`` was current (unless the
        account's views were dropped since: the body may predate that change)."""
        if (
            not self.usable
            or self._all_dropped_at > generation
            or self._dropped_at.get(account_id, -1) > generation
            or len(body) > self.capacity_bytes
        ):
            return
        views = self._entries.setdefault(account_id, {})
        replaced = views.get(per_tab)
        self.size_bytes += len(body) - (len(replaced[1]) if replaced else 0)
        views[per_tab] = (time.monotonic() + self.ttl_seconds, body)
        self._entries.move_to_end(account_id)
        while self.size_bytes > self.capacity_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size_bytes -= sum(len(view) for _, view in evicted.values())

    def drop(self, accounts: set[str] | None = None) -> None:
        """Forget the views of ``accounts`` (None: all of them)."""
        self.generation += 1
        if accounts is None or len(self._dropped_at) > 10_000:
            self._all_dropped_at = self.generation
            self._dropped_at.clear()
        if accounts is None:
            self._entries.clear()
            self.size_bytes = 0
        else:
            for account_id in accounts:
                self._dropped_at[account_id] = self.generation
                views = self._entries.pop(account_id, None)
                if views:
                    self.size_bytes -= sum(len(view) for _, view in views.values())

    def activate(self, active: bool) -> None:
        self.drop()
        self.active = active

    async def follow(self, amqp_url: str, exchange: str, registry: Declarations) -> None:
        """Follow the event stream until cancelled, supervised (reconnecting with a backoff)."""
        supervisor = Supervisor()
        self.supervise(supervisor, amqp_url, exchange, registry).start()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            await supervisor.stop()

    def supervise(
        self, supervisor: Supervisor, amqp_url: str, exchange: str, registry: Declarations
    ) -> SupervisedTask:
        """The feed's task, added to ``supervisor`` (not started). Not critical: while it is
        down every view is composed, which is slower but true."""
        registry.on_change(self._declarations_changed.set)

        async def follow_connected(task: SupervisedTask) -> None:
            await self.follow_connected(task, amqp_url, exchange, registry)

        return supervisor.add(
            "view-feed", "flux d'événements des vues 360°", follow_connected, critical=False
        )

    async def follow_connected(
        self, task: SupervisedTask, amqp_url: str, exchange_name: str, registry: Declarations
    ) -> None:
        """Follow the stream until the connection is lost (then raise: the supervisor retries),
        bound again whenever the declarations change. Whatever ends it, the cache is unused
        until the feed is back."""
        async with private_queue(amqp_url, exchange_name) as private:
            queue, exchange = private.queue, private.exchange
            try:
                self._registry, self._bound = registry, ()  # a new queue, bound to nothing yet
                await self._bind(queue, exchange, registry)

                async def on_event(message: Any) -> None:
                    named = accounts_named(message.body, self._links)
                    self.drop(None if named is None else named | {EVERY_RECORD})

                await queue.consume(on_event, no_ack=True)
                self._connected = True
                self.activate(True)
                task.mark_up()
                while True:
                    await _wait_any(private.lost, self._declarations_changed)
                    if private.lost.is_set():
                        raise ConnectionError("the broker connection was lost")
                    await self._bind(queue, exchange, registry)
            finally:
                self._connected = False
                self.activate(False)
                task.mark_down()

    async def _bind(
        self, queue: AbstractQueue, exchange: AbstractExchange, registry: Declarations
    ) -> None:
        """Bind ``queue`` to the events of the declarations as they are now, unbind what is no
        longer shown, and forget every view (each was composed from the older declarations,
        and events of a newly shown entity were not heard until now)."""
        self._declarations_changed.clear()
        version, entities = registry.version, registry.entities()
        keys = bindings(entities)
        for key in keys:
            if key not in self._bound:
                await queue.bind(exchange, routing_key=key)
        for key in self._bound:
            if key not in keys:
                await queue.unbind(exchange, routing_key=key)
        self._bound, self._links = keys, account_links(entities)
        self._bound_version = version
        self.drop()


async def _wait_any(*events: asyncio.Event) -> None:
    """Until one of ``events`` is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
