"""The live feed: what the pages open in browsers are told of the changes other people make.

One feed per gateway copy follows ``crm.events`` on a private queue of its own (the gateway's
broker user may configure, bind and read its server-named ``amq.gen-*`` queues, as the view
cache's feed does), supervised: a lost broker is logged, the feed reconnects with a backoff and
tells every page it serves that changes may have been missed meanwhile (``Resync``: the page's
stream then reads the record again).

It fans each event out to the streams (pages/live.py) subscribed to its record, and for an
account also to the streams of the accounts a record of a 360° tab names (a contact created
with ``account_id`` = this account, or moved from or to it): the link fields are read from the
declarations (each tab's ``link``) and from the event's ``data.record`` and ``data.changes``.

Each subscription keeps at most a few items (the oldest dropped: a page only needs the latest
news), so a browser that reads slowly never grows the gateway's memory; a subscription ends with
its stream (the browser left, the session ended, the gateway stops).

The feed also counts the streams it serves (``admit``), so that neither one web session (a few
tabs of one person: ``STREAMS_PER_SESSION``) nor all of them together (``max_streams``,
``CRM_WEB_MAX_STREAMS``) can hold more of this copy's connections and memory than their share:
a stream is counted from the moment it is admitted until its handler ends, whatever ends it
(the browser left, the session ended, an error, the gateway stopping).

The feed also learns the display names of the people who make changes (an event names its actor
by username): from the users' own events, and from the web sessions of the streams it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web

from services.common.broker import is_announcement, private_queue
from services.common.events import SYSTEM_FIELDS
from services.common.supervisor import SupervisedTask, Supervisor

log = logging.getLogger(__name__)

ACCOUNT = "account"  # the entity whose page also hears of the records of its 360° tabs
USER = "user"  # the gateway's users: their events teach the feed display names
ENTITY_EVENTS = "*.*"  # every entity event (``entity.change``); announcements have three words
SUBSCRIPTION_CAPACITY = 8
NAMES_CAPACITY = 10_000
STREAMS_PER_SESSION = 10  # several tabs of one person
MAX_STREAMS = 2000  # a gateway copy's default (CRM_WEB_MAX_STREAMS)

Declarations = Callable[[], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class Change:
    """One committed change of one record, as the event stream told it."""

    entity: str  # "account"
    record_id: str
    change: str  # "updated", "created", "deleted", "restored", or a derived one ("located")
    version: int
    actor: str  # a username
    at: datetime
    fields: tuple[str, ...]  # the fields changed (top-level names: "address" for address.city)
    record: Mapping[str, Any] = field(repr=False)  # the record as it is now
    changes: Mapping[str, Any] = field(repr=False, default_factory=dict)  # field -> {old, new}

    @property
    def derived(self) -> bool:
        """A change made by the system (a geocoded address): it keeps the record's version."""
        return self.change not in ("created", "updated", "deleted", "restored")


@dataclass(frozen=True)
class Resync:
    """The feed was away (the broker was lost): changes may have been missed meanwhile."""


@dataclass(frozen=True)
class Closing:
    """The gateway is stopping: every stream ends (browsers reconnect to another copy)."""


Item = Change | Resync | Closing


class Subscription:
    """What one stream has not read yet, for one record: at most ``capacity`` items."""

    def __init__(self, record_id: str, capacity: int = SUBSCRIPTION_CAPACITY) -> None:
        self.record_id = record_id
        self._items: deque[Item] = deque(maxlen=capacity)
        self._ready = asyncio.Event()
        self.dropped = 0  # items lost because the stream read too slowly

    def push(self, item: Item) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    async def next(self, within: float) -> list[Item]:
        """What came since the last call, oldest first; waits up to ``within`` seconds for
        something (an empty list: nothing came)."""
        if not self._items:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), within)
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items


class TooManyStreams(Exception):
    """A stream refused: its session (``per_session``) or this copy holds as many as allowed."""

    def __init__(self, per_session: bool) -> None:
        super().__init__("session" if per_session else "copy")
        self.per_session = per_session


def tab_links(entities: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Entity -> the field of its records that names their account (its 360° tab's link)."""
    return {str(e["name"]): str(e["tab"]["link"]) for e in entities if e.get("tab")}


def changed_fields(changes: Mapping[str, Any]) -> tuple[str, ...]:
    """The top-level fields of a change set (``address.city`` is the address), system fields
    aside, in the order first met."""
    names: dict[str, None] = {}
    for path in changes:
        name = str(path).split(".", 1)[0]
        if name not in SYSTEM_FIELDS:
            names[name] = None
    return tuple(names)


def parse_change(body: bytes, routing_key: str | None = None) -> Change | None:
    """The change an event's body tells, or None when it is not one (malformed, or not an
    entity event)."""
    try:
        event = orjson.loads(body)
        data = event["data"]
        record = data.get("record") or {}
        changes = data.get("changes") or {}
        if not isinstance(record, dict) or not isinstance(changes, dict):
            return None
        kind = str(event.get("type", "")).split(".")
        change = kind[2] if len(kind) >= 3 else (routing_key or "").partition(".")[2]
        at = _instant(event.get("time"))
        return Change(
            entity=str(data["entity"]),
            record_id=str(data["id"]),
            change=change or "updated",
            version=int(data["version"]),
            actor=str(data.get("actor") or ""),
            at=at,
            fields=changed_fields(changes),
            record=record,
            changes=changes,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(value)
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.now(UTC)


def linked_accounts(change: Change, links: Mapping[str, str]) -> set[str]:
    """The accounts a change of a tab's record concerns: the one it names, and those it moved
    from and to."""
    link = links.get(change.entity)
    if link is None:
        return set()
    named: set[Any] = {change.record.get(link)}
    moved = change.changes.get(link)
    if isinstance(moved, dict):
        named |= {moved.get("old"), moved.get("new")}
    return {str(account) for account in named if account}


class LiveFeed:
    """The event stream of this gateway copy, fanned out to the pages' streams."""

    def __init__(
        self,
        declarations: Declarations,
        capacity: int = SUBSCRIPTION_CAPACITY,
        *,
        max_streams: int = MAX_STREAMS,
        per_session: int = STREAMS_PER_SESSION,
    ) -> None:
        self._declarations = declarations
        self._capacity = capacity
        self.max_streams, self.per_session = max_streams, per_session
        self.streams = 0  # the streams open on this copy
        self._streams_of: dict[Hashable, int] = {}  # web session -> its open streams
        self.full_logged_at = float("-inf")  # when refusing for a full copy was last logged
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._names: dict[str, str] = {}  # username -> display name
        self.connected = False
        self.closing = False
        self.delivered = 0  # items handed to subscriptions
        self._connections = 0

    # -- the pages' side ----------------------------------------------------------------------

    def admit(self, session_id: Hashable) -> Admitted:
        """Count one stream of ``session_id`` from now until the returned context ends; raise
        ``TooManyStreams`` (nothing counted) when the session, or this copy, already holds as
        many as allowed."""
        held = self._streams_of.get(session_id, 0)
        if held >= self.per_session:
            raise TooManyStreams(per_session=True)
        if self.streams >= self.max_streams:
            raise TooManyStreams(per_session=False)
        self._streams_of[session_id] = held + 1
        self.streams += 1
        return Admitted(self, session_id)

    def _release(self, session_id: Hashable) -> None:
        self.streams -= 1
        left = self._streams_of.get(session_id, 1) - 1
        if left > 0:
            self._streams_of[session_id] = left
        else:
            self._streams_of.pop(session_id, None)

    def streams_of(self, session_id: Hashable) -> int:
        """The streams ``session_id`` holds open on this copy."""
        return self._streams_of.get(session_id, 0)

    @contextlib.contextmanager
    def subscribe(self, record_id: str) -> Iterator[Subscription]:
        """Hear of ``record_id`` (and, for an account, of the records linked to it) while the
        block runs."""
        subscription = Subscription(record_id, self._capacity)
        self._subscriptions.setdefault(record_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscriptions.get(record_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[record_id]

    def subscriptions(self) -> int:
        return sum(len(s) for s in self._subscriptions.values())

    def know(self, username: str, display_name: str | None) -> None:
        """Remember how ``username`` is called (a web session's user, a user's event)."""
        if not username:
            return
        if len(self._names) >= NAMES_CAPACITY and username not in self._names:
            self._names.clear()  # bounded: forget everyone rather than grow
        self._names[username] = display_name or username

    def name_of(self, username: str) -> str:
        """How people call ``username``: the display name when known, else the username."""
        return self._names.get(username) or username

    def close(self) -> None:
        """The gateway stops: end every stream (their browsers reconnect elsewhere)."""
        self.closing = True
        self._broadcast(Closing())

    def _broadcast(self, item: Item) -> None:
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.push(item)

    # -- the broker's side --------------------------------------------------------------------

    def deliver(self, body: bytes, routing_key: str | None = None) -> None:
        """Hand one event to the subscriptions it concerns."""
        if routing_key and is_announcement(routing_key):
            return
        is_user = bool(routing_key) and str(routing_key).startswith(f"{USER}.")
        if not self._subscriptions and not is_user:
            return  # nobody is watching: not even worth decoding
        change = parse_change(body, routing_key)
        if change is None:
            log.warning("live feed: an event telling no change passed over (%s)", routing_key)
            return
        if change.entity == USER:
            self.know(str(change.record.get("username") or ""), change.record.get("display_name"))
        targets = {change.record_id}
        if change.entity != ACCOUNT:
            targets |= linked_accounts(change, tab_links(self._declarations()))
        for target in targets:
            for subscription in self._subscriptions.get(target, ()):
                subscription.push(change)
                self.delivered += 1

    def supervise(self, supervisor: Supervisor, amqp_url: str, exchange: str) -> SupervisedTask:
        """The feed's task, added to ``supervisor`` (not started). Not critical: while it is
        down the pages only miss their live notices (a save still says who changed what)."""

        async def follow(task: SupervisedTask) -> None:
            await self.follow_connected(task, amqp_url, exchange)

        return supervisor.add("live-feed", "flux des fiches ouvertes", follow, critical=False)

    async def follow_connected(self, task: SupervisedTask, amqp_url: str, exchange: str) -> None:
        """Follow the stream until the connection is lost (then raise: the supervisor retries)."""
        async with private_queue(amqp_url, exchange) as private:
            try:
                await private.queue.bind(private.exchange, routing_key=ENTITY_EVENTS)

                async def on_message(message: AbstractIncomingMessage) -> None:
                    try:
                        self.deliver(message.body, message.routing_key)
                    except Exception:  # one bad event never stops the feed
                        log.exception("live feed: an event could not be handed out")

                await private.queue.consume(on_message, no_ack=True)
                self.connected = True
                self._connections += 1
                task.mark_up()
                if self._connections > 1:
                    log.info("live feed reconnected: the open pages read their records again")
                # A stream that opened while the feed was away, or one that was served before
                # the connection was lost, may have missed a change: each reads its record again.
                self._broadcast(Resync())
                await private.lost.wait()
                raise ConnectionError("the broker connection was lost")
            finally:
                self.connected = False
                task.mark_down()


class Admitted:
    """One admitted stream, counted until its ``with`` block ends (released once)."""

    def __init__(self, feed: LiveFeed, session_id: Hashable) -> None:
        self._feed: LiveFeed | None = feed
        self._session_id = session_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        if self._feed is not None:
            self._feed._release(self._session_id)
            self._feed = None


LIVE_FEED_KEY = web.AppKey("live_feed", LiveFeed)
