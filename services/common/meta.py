"""What a service says about itself, for the gateway: ``GET /internal/meta``.

The answer names the service, its entities (their public declarations), the public path patterns
it serves (from its own router: the ``/api/v1/...`` routes that serve a documented operation,
views and internal calls left out), its OpenAPI fragment and the JSON Schemas of its events; its
``version`` is the SHA-256 of all that, so it changes exactly when one of them does.

The route wants the gateway's signed identity, like every other route of a service. Once the
service is ready it announces its version on the events exchange (``meta.<service>.announced``,
not an entity event: consumers of entity events never see it), and the gateway reads its meta
again when the version is new to it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
from aiohttp import web
from yarl import URL

from .broker import (
    announcement_key,
    declare_events_exchange,
    ensure_exchanges,
    open_connection,
)
from .entities import Entity
from .event_schemas import entity_schemas
from .openapi import Op, entity_record, fragment
from .runtime import SUPERVISOR_KEY
from .settings import ServiceSettings
from .supervisor import SupervisedTask, close_quietly
from .web import READINESS_KEY, json_response

log = logging.getLogger(__name__)

META_PATH = "/internal/meta"
ANNOUNCEMENTS = "meta.*.announced"  # three words: no entity binding ("account.*") matches
VIEW_PREFIX = "/api/v1/views/"
Events = Callable[[], Mapping[str, dict[str, Any]]]
_PARAMETER = re.compile(r"\{([^{}:]+)(?::((?:[^{}]|\{[^{}]*\})*))?\}")


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of an aiohttp path pattern: ``{id}`` is one segment,
    ``{action:send|accept}`` its own expression."""
    parts: list[str] = []
    position = 0
    for match in _PARAMETER.finditer(pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        parts.append(f"(?:{match.group(2)})" if match.group(2) else "[^{}/]+")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts))


# Values of an operation's path parameters that a route's own expression should accept.
_SAMPLES = ("x", "00000000-0000-4000-8000-000000000000")


def _served(resource: web.AbstractResource, path: str) -> bool:
    """Whether ``resource`` serves ``path`` (an operation's path, its parameters filled)."""
    info = resource.get_info()
    if "path" in info:
        return bool(info["path"] == path)
    pattern = info.get("pattern")
    return pattern is not None and pattern.fullmatch(path) is not None


def public_routes(app: web.Application, ops: Sequence[Op]) -> list[str]:
    """The documented paths of ``ops`` that a route of ``app`` serves, as path patterns
    ("/api/v1/quotes/{id}/send"): its public ``/api/v1/...`` routes, without views (composed
    by the gateway) or internal calls, which no operation documents."""
    resources = [
        r
        for r in app.router.resources()
        if r.canonical.startswith("/api/v1/") and not r.canonical.startswith(VIEW_PREFIX)
    ]
    found: list[str] = []
    for path in dict.fromkeys(op.path for op in ops):
        samples = [_PARAMETER.sub(sample, path) for sample in _SAMPLES]
        if any(_served(r, sample) for r in resources for sample in samples):
            found.append(path)
    return found


def default_events(entities: Sequence[Entity]) -> Events:
    """The event schemas of ``entities``, their records derived from their declarations."""

    def events() -> dict[str, dict[str, Any]]:
        schemas: dict[str, dict[str, Any]] = {}
        for entity in entities:
            schemas.update(entity_schemas(entity, entity_record(entity)))
        return schemas

    return events


def version_of(document: Mapping[str, Any]) -> str:
    """SHA-256 of the document without its version (keys sorted: stable across runs)."""
    rest = {key: value for key, value in document.items() if key != "version"}
    return hashlib.sha256(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class ServiceMeta:
    """The meta document of one service, composed once (its router is frozen by then)."""

    service: str
    entities: Sequence[Entity]
    operations: Callable[[], list[Op]]
    events: Events
    _document: dict[str, Any] | None = None

    def document(self, app: web.Application) -> dict[str, Any]:
        if self._document is None:
            ops = self.operations()
            document: dict[str, Any] = {
                "service": self.service,
                "entities": [entity.public(self.service) for entity in self.entities],
                "routes": public_routes(app, ops),
                "openapi": fragment(ops),
                "events": dict(self.events()),
            }
            self._document = {"service": self.service, "version": version_of(document)}
            self._document.update(document)
        return self._document

    async def handle(self, request: web.Request) -> web.Response:
        return json_response(self.document(request.app))


META_KEY = web.AppKey("service_meta", ServiceMeta)


def meta_routes(
    service: str,
    entities: Sequence[Entity],
    operations: Callable[[], list[Op]],
    events: Events | None = None,
) -> list[web.RouteDef]:
    """``GET /internal/meta`` of ``service``: its entities, routes, OpenAPI fragment and event
    schemas (by default those its declarations derive)."""
    meta = ServiceMeta(service, entities, operations, events or default_events(entities))
    return [web.get(META_PATH, meta.handle)]


def install_meta(
    app: web.Application,
    settings: ServiceSettings,
    entities: Sequence[Entity],
    operations: Callable[[], list[Op]],
    events: Events | None = None,
) -> ServiceMeta:
    """Serve ``/internal/meta`` and announce the version once the service is ready."""
    meta = app[META_KEY] = ServiceMeta(
        settings.service, entities, operations, events or default_events(entities)
    )
    app.router.add_get(META_PATH, meta.handle)
    amqp_url = settings.amqp_url.get_secret_value()

    async def announcer(app: web.Application) -> AsyncIterator[None]:
        async def announce(task: SupervisedTask) -> None:
            await _until_ready(app)
            await publish_announcement(
                amqp_url, settings.exchange, settings.service, meta.document(app)["version"]
            )
            task.mark_up()
            await asyncio.Event().wait()  # announced: nothing more to do until stopped

        supervised = app[SUPERVISOR_KEY].add(
            "meta-announcer", "annonce des métadonnées", announce, critical=False
        )
        supervised.start()
        yield
        await supervised.stop()

    app.cleanup_ctx.append(announcer)
    return meta


async def _until_ready(app: web.Application, pause: float = 0.2) -> None:
    while True:
        if not [failure for failure in [await check() for check in app[READINESS_KEY]] if failure]:
            return
        await asyncio.sleep(pause)


async def publish_announcement(
    amqp_url: str, exchange_name: str, service: str, version: str
) -> None:
    """Publish ``meta.<service>.announced`` (confirmed) with the service's version."""
    connection = await open_connection(amqp_url)
    channel = None
    try:
        await ensure_exchanges(connection, exchange_name)
        channel = await connection.channel(publisher_confirms=True)
        exchange = await declare_events_exchange(channel, exchange_name)
        await exchange.publish(
            aio_pika.Message(
                body=orjson.dumps({"service": service, "version": version}),
                content_type="application/json",
                type="meta.announced",
                user_id=URL(amqp_url).user or None,
            ),
            routing_key=announcement_key(service),
            timeout=10,
        )
        log.info("%s announced its meta version %s", service, version[:12])
    finally:
        await close_quietly(channel, connection)
