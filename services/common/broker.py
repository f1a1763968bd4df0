"""RabbitMQ topology shared by publishers and consumers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from yarl import URL

from .supervisor import close_quietly

# Errors that mean "the broker is unreachable or the connection broke": retry later.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    ConnectionError,
    OSError,
    TimeoutError,
)


async def open_connection(url: str, connect_seconds: float = 5.0) -> AbstractConnection:
    """Connect to the broker; a connection that fails half-way is closed, not left to the GC
    (whose finaliser would try to close it from whatever thread it runs in)."""
    connection = aio_pika.Connection(URL(url))
    try:
        await connection.connect(timeout=connect_seconds)
    except BaseException:
        with contextlib.suppress(Exception):
            await connection.close()
        raise
    return connection


async def ensure_exchanges(connection: AbstractConnection, name: str) -> None:
    """Make sure the events exchange ``name`` and its dead-letter exchange exist.

    Provisioning declares both (deploy/provision.py), and the services' broker users may not
    configure them: a service that could declare ``crm.events`` could also delete it. So they
    are looked up passively (which needs no permission); only where one is missing (a
    development broker, where the user may configure everything) are they declared here. A
    failed passive declaration closes its channel, hence the channels of their own."""
    kinds = (
        (name, aio_pika.ExchangeType.TOPIC),
        (dead_letter_exchange(name), aio_pika.ExchangeType.DIRECT),
    )
    channel = await connection.channel(publisher_confirms=False)
    try:
        for exchange, _kind in kinds:
            await channel.declare_exchange(exchange, passive=True)
        return
    except aio_pika.exceptions.ChannelNotFoundEntity:
        pass
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    channel = await connection.channel(publisher_confirms=False)
    try:
        for exchange, kind in kinds:
            await channel.declare_exchange(exchange, kind, durable=True)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def declare_events_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The durable topic exchange every change is published to (it must exist: see
    ``ensure_exchanges``)."""
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, passive=True)


async def declare_dead_letter_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The dead-letter exchange of the events exchange ``name`` (it must exist)."""
    return await channel.declare_exchange(
        dead_letter_exchange(name), aio_pika.ExchangeType.DIRECT, passive=True
    )


def queue_name(exchange: str, service: str) -> str:
    return f"{exchange}.{service}"


def dead_letter_exchange(exchange: str) -> str:
    return f"{exchange}.dead-letter"


def dead_letter_queue(exchange: str, service: str) -> str:
    return f"{exchange}.{service}.dead-letter"


def lost_signal(connection: AbstractConnection) -> asyncio.Event:
    """An event set when ``connection`` breaks (aio-pika does not end waits on its own)."""
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_args: lost.set())
    return lost


@dataclass(frozen=True)
class PrivateQueue:
    queue: AbstractQueue
    exchange: AbstractExchange
    lost: asyncio.Event  # set when the connection or the channel breaks


@contextlib.asynccontextmanager
async def private_queue(amqp_url: str, exchange_name: str) -> AsyncIterator[PrivateQueue]:
    """A queue of this process's own on the events exchange (exclusive, gone with its
    connection), bound to nothing yet; the connection and channel are closed on leaving."""
    connection = await open_connection(amqp_url)
    channel: AbstractChannel | None = None
    try:
        lost = lost_signal(connection)
        await ensure_exchanges(connection, exchange_name)
        channel = await connection.channel()
        channel.close_callbacks.add(lambda *_args: lost.set())
        exchange = await declare_events_exchange(channel, exchange_name)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        yield PrivateQueue(queue, exchange, lost)
    finally:
        await close_quietly(channel, connection)


# A service announces its meta version (services.common.meta) on the events exchange under
# ``meta.<service>.announced``: three words, no entity event. Consumers of entity events that
# bind every key ("#") let it pass without a word (see ``is_announcement``).
ANNOUNCEMENT_PREFIX = "meta."


def announcement_key(service: str) -> str:
    return f"{ANNOUNCEMENT_PREFIX}{service}.announced"


def is_announcement(routing_key: str | None) -> bool:
    """True for a service's announcement, which is never an entity event."""
    return bool(routing_key) and str(routing_key).startswith(ANNOUNCEMENT_PREFIX)


# Who may publish each entity's events: the service that owns its records. Consumers refuse an
# event whose message was not published by that service's broker user (``user_id``, which
# RabbitMQ checks against the connection's user), and provisioning lets each user publish only
# these routing keys (topic permissions). The map (entity -> owning service) is not kept here:
# each service declares its entities in its own package (``services/<service>/entities.py``:
# ``ENTITIES``, and ``PUBLISHED`` for the other entities whose events it publishes);
# deploy/provision.py reads those declarations, sets the topic permissions from them and hands
# every service the map in ``CRM_ENTITY_OWNERS`` (``format_entity_owners``), which the settings
# read back (``parse_entity_owners``).
EntityOwners = Mapping[str, str]


class ConflictingOwners(ValueError):
    """Two services declare the same entity: only one may publish its events."""


def entity_owners(declarations: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Entity -> owning service, from what each service declares it publishes
    (service -> entity names); an entity declared by two services is refused."""
    owners: dict[str, str] = {}
    for service, entities in declarations.items():
        for entity in entities:
            other = owners.setdefault(entity, service)
            if other != service:
                raise ConflictingOwners(
                    f"entity {entity!r} declared by both {other!r} and {service!r}"
                )
    return dict(sorted(owners.items()))


_ENTITY_NAME = re.compile(r"[a-z][a-z0-9_]*")


def format_entity_owners(owners: EntityOwners) -> str:
    """The map as ``CRM_ENTITY_OWNERS`` carries it: ``account=accounts,contact=accounts,...``."""
    return ",".join(f"{entity}={owner}" for entity, owner in sorted(owners.items()))


def parse_entity_owners(text: str) -> dict[str, str]:
    """The map ``format_entity_owners`` wrote; ValueError on anything else."""
    owners: dict[str, str] = {}
    for item in text.split(","):
        entity, equals, owner = (part.strip() for part in item.strip().partition("="))
        if not (equals and _ENTITY_NAME.fullmatch(entity) and _ENTITY_NAME.fullmatch(owner)):
            raise ValueError(f"expected entity=service pairs separated by commas, got {item!r}")
        if owners.setdefault(entity, owner) != owner:
            raise ValueError(f"entity {entity!r} given two owners")
    return owners


def owned_entities(service: str, owners: EntityOwners) -> tuple[str, ...]:
    """The entities whose events ``service`` publishes (none for the audit service)."""
    return tuple(sorted(e for e, owner in owners.items() if owner == service))


def publisher_refusal(
    entity: str, user_id: str | None, user_prefix: str, owners: EntityOwners
) -> str | None:
    """Why an event about ``entity`` published by broker user ``user_id`` is refused (French,
    kept with the dead-lettered message), or None when its publisher owns the entity."""
    owner = owners.get(entity)
    if owner is None:
        return f"entité inconnue « {entity} » : aucun service n'en publie les événements"
    expected = f"{user_prefix}{owner}"
    if not user_id:
        return f"événement {entity} sans éditeur (user_id) : seul {expected} peut le publier"
    if user_id != expected:
        return f"événement {entity} publié par « {user_id} » : seul {expected} peut le publier"
    return None


def message_copy(
    message: AbstractIncomingMessage, headers: dict[str, Any], user_id: str | None
) -> aio_pika.Message:
    """A persistent copy of ``message`` (body and properties) with other ``headers`` and
    ``user_id`` (RabbitMQ accepts only the connection's own user, or any for an impersonator):
    what a consumer dead-letters and what crm-admin replays."""
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        user_id=user_id,
        app_id=message.app_id,
    )
