"""Composed 360° views, kept only while they can be kept true.

An entry is dropped as soon as a change may concern its account:

- at once, for every write this gateway forwards (any successful request that is not a read
  drops every entry: writes are rare beside reads, and this needs no guess about which account
  a write touched);
- through the event stream for any other change (another gateway copy, a service's own change
  such as a geocoded address, a won opportunity): the gateway follows ``crm.events`` on a private
  queue bound to the entities the view shows, and drops the accounts each event names.

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
from typing import Any

import orjson
from aio_pika.abc import AbstractChannel

from services.common.broker import (
    declare_events_exchange,
    ensure_exchanges,
    lost_signal,
    open_connection,
)
from services.common.supervisor import SupervisedTask, Supervisor, close_quietly

log = logging.getLogger(__name__)

# The entities a 360° view shows; their events may change a view.
BINDINGS = tuple(
    f"{entity}.*"
    for entity in ("account", "contact", "action", "opportunity", "project", "quote", "invoice")
)


def accounts_named(body: bytes) -> set[str] | None:
    """The accounts whose view an event may change; None when it cannot tell (drop them all)."""
    try:
        data = orjson.loads(body)["data"]
        entity, record, changes = data["entity"], data["record"], data.get("changes") or {}
        if entity == "account":
            return {str(data["id"])}
        named = {record.get("account_id")}
        moved = changes.get("account_id")
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
        # account id -> {per_tab: (expires at, body)}, least recently used first
        self._entries: OrderedDict[str, dict[int, tuple[float, bytes]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, account_id: str, per_tab: int) -> bytes | None:
        if not self.active:
            return None
        views = self._entries.get(account_id)
        entry = views.get(per_tab) if views else None
        if entry is None or entry[0] < time.monotonic():
            self.misses += 1
            return None
        self._entries.move_to_end(account_id)
        self.hits += 1
        return entry[1]

    def store(self, account_id: str, per_tab: int, body: bytes, generation: int) -> None:
        """Keep ``body``, composed from data read after ``generation`` was current (unless the
        account's views were dropped since: the body may predate that change)."""
        if (
            not self.active
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

    async def follow(self, amqp_url: str, exchange: str) -> None:
        """Follow the event stream until cancelled, supervised (reconnecting with a backoff)."""
        supervisor = Supervisor()
        self.supervise(supervisor, amqp_url, exchange).start()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            await supervisor.stop()

    def supervise(self, supervisor: Supervisor, amqp_url: str, exchange: str) -> SupervisedTask:
        """The feed's task, added to ``supervisor`` (not started). Not critical: while it is
        down every view is composed, which is slower but true."""

        async def follow_connected(task: SupervisedTask) -> None:
            await self.follow_connected(task, amqp_url, exchange)

        return supervisor.add(
            "view-feed", "flux d'événements des vues 360°", follow_connected, critical=False
        )

    async def follow_connected(
        self, task: SupervisedTask, amqp_url: str, exchange_name: str
    ) -> None:
        """Follow the stream until the connection is lost (then raise: the supervisor retries).
        Whatever ends it, the cache is unused until the feed is back."""
        connection = await open_connection(amqp_url)
        channel: AbstractChannel | None = None
        try:
            lost = lost_signal(connection)
            await ensure_exchanges(connection, exchange_name)
            channel = await connection.channel()
            channel.close_callbacks.add(lambda *_args: lost.set())
            exchange = await declare_events_exchange(channel, exchange_name)
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for key in BINDINGS:
                await queue.bind(exchange, routing_key=key)

            async def on_event(message: Any) -> None:
                self.drop(accounts_named(message.body))

            await queue.consume(on_event, no_ack=True)
            self._connected = True
            self.activate(True)
            task.mark_up()
            await lost.wait()
            raise ConnectionError("the broker connection was lost")
        finally:
            self._connected = False
            self.activate(False)
            task.mark_down()
            await close_quietly(channel, connection)
