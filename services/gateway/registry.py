"""What the gateway knows of the services: their entities, public routes, OpenAPI fragments and
event schemas, read from each service's ``GET /internal/meta`` (services.common.meta).

The gateway imports no service. At start it asks every service for its meta, waiting and trying
again while one comes up (``/readyz`` says which has not answered yet). What is known serves at
once: a service that has described itself is served while another has not; only what no known
service answers waits (``awaited``, a few seconds) for those still missing. Then it follows the
announcements services make on the events exchange when they start (``meta.<service>.announced``)
and reads the meta of one whose version is new to it. Everything built from the registry (the
forwarding table, the OpenAPI document, audit routes, views, printing) reads it through its
``version``: any change increments it.

The declarations are public too: ``GET /api/v1/meta/entities`` and
``GET /api/v1/meta/entities/{collection}`` (any signed-in user)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web

from services.common.broker import private_queue
from services.common.meta import ANNOUNCEMENTS, pattern_regex
from services.common.supervisor import SupervisedTask, Supervisor

log = logging.getLogger(__name__)

# The services the gateway serves, in the order their routes are looked up.
SERVICES = ("accounts", "activities", "documents", "audit")
RETRY_PAUSES = (0.1, 0.2, 0.5, 1.0, 2.0)  # then every 2 s, until the service answers
Fetch = Callable[[str], Awaitable[Mapping[str, Any]]]
T = TypeVar("T")


class MetaUnavailable(Exception):
    """A service did not answer its meta (not up yet, or refusing)."""


class Registry:
    """The services' meta documents, and the gateway's own entities."""

    def __init__(
        self,
        fetch: Fetch,
        services: Sequence[str] = SERVICES,
        own: Sequence[Mapping[str, Any]] = (),
        own_events: Mapping[str, dict[str, Any]] | None = None,
        retry_pauses: Sequence[float] = RETRY_PAUSES,
    ) -> None:
        self._fetch = fetch
        self.services = tuple(services)
        self._own = [dict(entity) for entity in own]
        self._own_events = dict(own_events or {})
        self._retry_pauses = tuple(retry_pauses)
        self._metas: dict[str, Mapping[str, Any]] = {}
        self._entities: list[dict[str, Any]] = list(self._own)
        self._routes: list[tuple[re.Pattern[str], str, str]] = []
        self._by_collection: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        self._unindexed: list[tuple[re.Pattern[str], str]] = []
        self.version = 0
        self.loaded = asyncio.Event()  # set once every service has answered
        self._changed = asyncio.Event()  # set (and replaced) at each change
        self._listeners: list[Callable[[], None]] = []
        self._loading: set[str] = set()

    # -- reading ------------------------------------------------------------------------------

    def entities(self) -> list[dict[str, Any]]:
        """Every public declaration (each with its "service"), the gateway's own first."""
        return self._entities

    def entity(self, collection: str) -> dict[str, Any] | None:
        return next((e for e in self._entities if e["collection"] == collection), None)

    def entity_named(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self._entities if e["name"] == name), None)

    def service_of_path(self, path: str) -> str | None:
        """The service that serves ``path`` (a request's path), None when no service does."""
        for bucket in (self._by_collection.get(_collection_of(path), ()), self._unindexed):
            for regex, service in bucket:
                if regex.fullmatch(path):
                    return service
        return None

    def routes(self) -> list[tuple[str, str]]:
        """(path pattern, service) of every public route the services serve."""
        return [(pattern, service) for _regex, pattern, service in self._routes]

    def meta(self, service: str) -> Mapping[str, Any] | None:
        return self._metas.get(service)

    def fragments(self) -> list[Mapping[str, Any]]:
        """The services' OpenAPI fragments, in the order of ``services``."""
        return [self._metas[s]["openapi"] for s in self.services if s in self._metas]

    def events(self) -> dict[str, dict[str, Any]]:
        """Event type -> JSON Schema, of the gateway's own events and every service's."""
        catalogue: dict[str, dict[str, Any]] = dict(self._own_events)
        for service in self.services:
            catalogue.update(self._metas.get(service, {}).get("events", {}))
        return catalogue

    def missing(self) -> list[str]:
        """The services that have not answered yet."""
        return [s for s in self.services if s not in self._metas]

    async def readiness(self) -> str | None:
        missing = self.missing()
        if missing:
            return "métadonnées pas encore reçues de : " + ", ".join(missing)
        return None

    async def awaited(self, find: Callable[[], T | None], within: float) -> T | None:
        """What ``find`` finds in what is known now; while it finds nothing and some service has
        not described itself yet, ``find`` again after each change, for ``within`` seconds at
        most. None: not found (``missing()`` then tells whether it may still come)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = find()
            remaining = deadline - loop.time()
            if found is not None or not self.missing() or remaining <= 0:
                return found
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return find()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each change (the version incremented)."""
        self._listeners.append(listener)

    # -- learning -----------------------------------------------------------------------------

    def learn(self, meta: Mapping[str, Any]) -> bool:
        """Keep ``meta`` (a service's answer); True when it changed what the gateway knows."""
        service = str(meta["service"])
        known = self._metas.get(service)
        if known is not None and known.get("version") == meta.get("version"):
            return False
        self._metas[service] = meta
        self._rebuild()
        if not self.missing():
            self.loaded.set()
        log.info("meta of %s learnt (version %s)", service, str(meta.get("version"))[:12])
        return True

    def _rebuild(self) -> None:
        entities = list(self._own)
        routes: list[tuple[re.Pattern[str], str, str]] = []
        for service in self.services:
            meta = self._metas.get(service)
            if meta is None:
                continue
            entities += [{**entity, "service": service} for entity in meta.get("entities", [])]
            routes += [(pattern_regex(p), p, service) for p in meta.get("routes", [])]
        self._entities, self._routes = entities, routes
        # Each forwarded request looks its service up: among the routes of its collection only.
        self._by_collection = {}
        self._unindexed = []
        for regex, pattern, service in routes:
            collection = _collection_of(pattern)
            bucket = (
                self._unindexed
                if "{" in collection
                else self._by_collection.setdefault(collection, [])
            )
            bucket.append((regex, service))
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for listener in self._listeners:
            listener()

    async def load(self, service: str) -> None:
        """Read the meta of ``service``, trying again while it does not answer."""
        attempt = 0
        while True:
            try:
                meta = await self._fetch(service)
            except MetaUnavailable as exc:
                pause = self._retry_pauses[min(attempt, len(self._retry_pauses) - 1)]
                if attempt in (0, 10) or attempt % 30 == 0:
                    log.info("meta of %s not available yet (%s): retrying", service, exc)
                attempt += 1
                await asyncio.sleep(pause)
                continue
            if meta.get("service") != service:
                raise MetaUnavailable(f"{service} answered the meta of {meta.get('service')}")
            self.learn(meta)
            return

    async def load_all(self) -> None:
        await asyncio.gather(*(self.load(service) for service in self.services))

    async def announced(self, service: str, version: str) -> None:
        """A service announced ``version``: read its meta when that version is new here."""
        if service not in self.services:
            return
        known = self._metas.get(service)
        if (known is not None and known.get("version") == version) or service in self._loading:
            return
        self._loading.add(service)
        try:
            await self.load(service)
        finally:
            self._loading.discard(service)

    # -- supervision --------------------------------------------------------------------------

    def supervise(
        self, supervisor: Supervisor, amqp_url: str, exchange: str
    ) -> list[SupervisedTask]:
        """The registry's tasks, added to ``supervisor`` (not started): the first reading of
        every service (critical: the gateway is not ready without it), and the follower of
        announcements."""

        async def first_reading(task: SupervisedTask) -> None:
            await self.load_all()
            task.mark_up()
            await asyncio.Event().wait()  # read: nothing more to do until stopped

        async def follow(task: SupervisedTask) -> None:
            await self.follow_announcements(task, amqp_url, exchange)

        return [
            supervisor.add("meta-reader", "lecture des métadonnées des services", first_reading),
            supervisor.add("meta-announcements", "annonces des services", follow, critical=False),
        ]

    async def follow_announcements(
        self, task: SupervisedTask, amqp_url: str, exchange_name: str
    ) -> None:
        """Consume the announcements on a queue of this gateway's own until the connection is
        lost (then raise: the supervisor retries). Once connected, every service is read again
        (an announcement may have been missed while disconnected)."""
        async with private_queue(amqp_url, exchange_name) as private:
            try:
                await private.queue.bind(private.exchange, routing_key=ANNOUNCEMENTS)
                pending: set[asyncio.Task[None]] = set()

                async def on_message(message: AbstractIncomingMessage) -> None:
                    announcement = _announcement(message)
                    if announcement is not None:
                        job = asyncio.create_task(self.announced(*announcement))
                        pending.add(job)
                        job.add_done_callback(pending.discard)

                await private.queue.consume(on_message, no_ack=True)
                task.mark_up()
                if self.loaded.is_set():
                    await self._refresh_all()
                await private.lost.wait()
                raise ConnectionError("the broker connection was lost")
            finally:
                task.mark_down()

    async def _refresh_all(self) -> None:
        for service in self.services:
            try:
                self.learn(await self._fetch(service))
            except MetaUnavailable as exc:  # it will announce itself when it is back
                log.info("meta of %s not read again: %s", service, exc)


def _collection_of(path: str) -> str:
    """The third segment of a path ("accounts" of "/api/v1/accounts/{id}")."""
    parts = path.split("/", 4)
    return parts[3] if len(parts) > 3 else ""


REGISTRY_KEY = web.AppKey("registry", Registry)


def _announcement(message: AbstractIncomingMessage) -> tuple[str, str] | None:
    """(service, version) of an announcement, None for anything else."""
    try:
        body = orjson.loads(message.body)
        service, version = str(body["service"]), str(body["version"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        log.warning("announcement %s ignored: %s", message.routing_key, exc)
        return None
    if message.routing_key != f"meta.{service}.announced":
        log.warning("announcement of %s on %s ignored", service, message.routing_key)
        return None
    return service, version
