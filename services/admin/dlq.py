"""Dead-lettered events: list, show and replay the messages of ``<exchange>.<service>.dead-letter``.

Nothing is lost while looking: messages are taken with manual acknowledgements and held (so each
is seen once), then handed back with ``nack(requeue=True)``; if crm-admin dies meanwhile the broker
requeues them itself. A replayed message is acknowledged in the dead-letter queue only once the
broker has confirmed its copy in the service's queue (at worst a copy is delivered twice, which
the consumers' inbox makes harmless).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from services.common.broker import BROKER_ERRORS, dead_letter_queue, message_copy, queue_name
from services.common.consumer import ORIGINAL_USER_HEADER, REASON_HEADER

from .connect import CONNECT_SECONDS, CommandError, describe

# A consumer that refuses an event publishes its copy itself (services/common/consumer.py), as
# its own broker user (user_id, which RabbitMQ checks), keeping the original publisher in this
# header, which a replay turns back into user_id. Any user allowed to write to the dead-letter
# exchange can set the header too: it is believed only on a copy whose user_id is the broker
# user of the service whose dead-letter queue holds it (``DeadLetter.provenance``).
DEAD_LETTERED_AT_HEADER = "x-crm-dead-lettered-at"
# Headers a replayed copy leaves behind: the broker's delivery count of the dead copy, and what
# the consumer said of its death (x-crm-*). x-death stays, as its history.
DROPPED_ON_REPLAY = frozenset({"x-delivery-count"})
BROKER_REASONS = {
    "rejected": "refusé par le consommateur",
    "expired": "expiré",
    "maxlen": "file pleine",
    "delivery_limit": "trop de tentatives",
}


def plain(value: Any) -> Any:
    """A header value as JSON can show it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Provenance:
    """Who published a dead-lettered message, as far as RabbitMQ vouches for it."""

    trusted: bool
    publisher: str | None  # the user_id a replay carries (None: none)
    why: str  # in French, for the operator


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, read without consuming it, from the dead-letter queue of the
    service whose broker user is ``service_user``."""

    message: AbstractIncomingMessage
    service_user: str

    @property
    def headers(self) -> dict[str, Any]:
        return {str(k): plain(v) for k, v in (self.message.headers or {}).items()}

    @property
    def event(self) -> dict[str, Any] | None:
        try:
            body = orjson.loads(self.message.body)
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    @property
    def ident(self) -> str:
        """The message id (the event id, as the relays publish it), else one from the body."""
        if self.message.message_id:
            return self.message.message_id
        event = self.event
        if event is not None and isinstance(event.get("id"), str):
            return str(event["id"])
        return "sha256:" + hashlib.sha256(self.message.body).hexdigest()[:16]

    @property
    def reason(self) -> str:
        headers = self.headers
        parts = []
        if headers.get(REASON_HEADER):
            parts.append(str(headers[REASON_HEADER]))
        deaths = headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
            death = deaths[0]
            why = BROKER_REASONS.get(str(death.get("reason")), str(death.get("reason")))
            parts.append(f"{why} (file {death.get('queue')}, {death.get('count', 1)} fois)")
        return " ; ".join(parts) or "raison inconnue"

    @property
    def died_at(self) -> str:
        headers = self.headers
        if headers.get(DEAD_LETTERED_AT_HEADER):
            return str(headers[DEAD_LETTERED_AT_HEADER])
        deaths = headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
            return str(deaths[0].get("time", "?"))
        return "?"

    @property
    def provenance(self) -> Provenance:
        """Who published the event, from what RabbitMQ checked (``user_id`` is the publishing
        connection's user, unless that user has the impersonator tag):

        - the consumer's own copy: user_id is the service's broker user, and its header names
          the original publisher (empty when the original had no user_id);
        - dead-lettered by the broker itself (rejected, delivery limit: ``x-death``, no header of
          the consumer's): user_id is still the original publisher's;
        - anything else (no user_id, or the consumer's header on a message another user
          published, or a message put straight into the dead-letter exchange) is not trusted:
          shown as such and replayed, if forced, without user_id (consumers refuse it again).
        """
        headers = self.headers
        user = self.message.user_id
        if not user:
            return Provenance(
                False, None, "le message n'a pas de user_id : RabbitMQ n'en répond pas"
            )
        if ORIGINAL_USER_HEADER in headers:
            if user != self.service_user:
                return Provenance(
                    False,
                    None,
                    f"l'en-tête {ORIGINAL_USER_HEADER} a été posé par « {user} », pas par le "
                    f"consommateur du service (« {self.service_user} »)",
                )
            original = str(headers[ORIGINAL_USER_HEADER] or "") or None
            return Provenance(True, original, f"copie du consommateur « {user} »")
        if isinstance(headers.get("x-death"), list):
            return Provenance(True, user, "mis en lettres mortes par RabbitMQ")
        return Provenance(
            False,
            None,
            f"publié par « {user} » directement dans l'échange des lettres mortes",
        )

    @property
    def publisher(self) -> str | None:
        """The broker user that published the event, when RabbitMQ vouches for it."""
        provenance = self.provenance
        return provenance.publisher if provenance.trusted else None

    def summary(self) -> dict[str, Any]:
        """What the event says of itself: type, subject, actor, version."""
        event = self.event
        if event is None:
            return {"corps": f"illisible ({len(self.message.body)} octets, pas du JSON)"}
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        assert isinstance(data, dict)
        return {
            "type": event.get("type"),
            "subject": event.get("subject"),
            "actor": data.get("actor"),
            "version": data.get("version"),
            "source": event.get("source"),
            "time": event.get("time"),
        }

    def matches(self, ident: str) -> bool:
        return self.ident.lower() == ident.strip().lower()


async def queue_counts(connection: AbstractConnection, name: str) -> tuple[int, int] | None:
    """(messages, consumers) of a queue by a passive declare; None when it does not exist."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return None
    finally:
        with contextlib.suppress(*BROKER_ERRORS):
            await channel.close()
    result = queue.declaration_result
    return result.message_count or 0, result.consumer_count or 0


@contextlib.asynccontextmanager
async def held(
    channel: AbstractChannel,
    name: str,
    service_user: str,
    limit: int | None = None,
    until: Callable[[DeadLetter], bool] | None = None,
) -> AsyncIterator[list[DeadLetter]]:
    """The queue's messages (at most ``limit``, up to the first for which ``until`` is true),
    held unacknowledged; those still held at the end are put back (requeued) in their place."""
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:
        raise CommandError(
            f"La file {name} n'existe pas (le service n'a jamais démarré ?)."
        ) from exc
    count = queue.declaration_result.message_count or 0
    if limit is not None:
        count = min(count, limit)
    taken: list[DeadLetter] = []
    try:
        while len(taken) < count:
            message = await queue.get(no_ack=False, fail=False, timeout=CONNECT_SECONDS)
            if message is None:
                break
            taken.append(DeadLetter(message, service_user))
            if until is not None and until(taken[-1]):
                break
        yield taken
    finally:
        if not channel.is_closed:
            for letter in taken:
                if not letter.message.processed:
                    with contextlib.suppress(*BROKER_ERRORS):
                        await letter.message.nack(requeue=True)


async def read(
    connection: AbstractConnection,
    exchange: str,
    service: str,
    service_user: str,
    limit: int | None = None,
    ident: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """(messages in the queue, a description of each of the first ``limit``, or of those up to
    the message ``ident``); ``service_user`` is the service's broker user."""
    name = dead_letter_queue(exchange, service)
    channel = await connection.channel()
    until = (lambda letter: letter.matches(ident)) if ident is not None else None
    try:
        async with held(channel, name, service_user, limit, until) as letters:
            described = [describe_letter(letter) for letter in letters]
        counts = await queue_counts(connection, name)
        return (counts[0] if counts else len(described)), described
    finally:
        with contextlib.suppress(*BROKER_ERRORS):
            await channel.close()


def describe_letter(letter: DeadLetter) -> dict[str, Any]:
    message = letter.message
    provenance = letter.provenance
    return {
        "id": letter.ident,
        "reason": letter.reason,
        "died_at": letter.died_at,
        "trusted": provenance.trusted,
        "provenance": provenance.why,
        "event": letter.summary(),
        "headers": letter.headers,
        "properties": {
            "message_id": message.message_id,
            "user_id": letter.publisher,
            "app_id": message.app_id,
            "content_type": message.content_type,
            "timestamp": plain(message.timestamp) if message.timestamp else None,
            "routing_key": message.routing_key,
        },
        "body": letter.event,
        "size": len(message.body),
    }


def find(letters: Iterable[dict[str, Any]], ident: str) -> dict[str, Any]:
    for letter in letters:
        if str(letter["id"]).lower() == ident.strip().lower():
            return letter
    raise CommandError(f"Aucun message « {ident} » dans cette file des lettres mortes.")


def replay_copy(letter: DeadLetter) -> aio_pika.Message:
    """The original body and properties, with the publisher's user_id when RabbitMQ vouched for
    it (it checks it again: the replaying user needs the impersonator tag), else none."""
    message = letter.message
    headers = {
        k: v
        for k, v in (message.headers or {}).items()
        if k not in DROPPED_ON_REPLAY and not k.startswith("x-crm-")
    }
    return message_copy(message, headers, letter.publisher)


async def replay(
    connection: AbstractConnection,
    exchange: str,
    service: str,
    service_user: str,
    ident: str | None,
    *,
    force: bool = False,
) -> list[str]:
    """Republish the message ``ident`` (every message when None, as many as there were when it
    started) to the service's own queue; the ids replayed, in order. A message whose publisher
    RabbitMQ does not vouch for (``DeadLetter.provenance``) is refused, and nothing is replayed,
    unless ``force``: then it is replayed without user_id."""
    target = queue_name(exchange, service)
    if await queue_counts(connection, target) is None:
        raise CommandError(f"La file {target} n'existe pas : rien où rejouer.")
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    replayed: list[str] = []
    try:
        until = (lambda letter: letter.matches(ident)) if ident is not None else None
        name = dead_letter_queue(exchange, service)
        async with held(channel, name, service_user, until=until) as letters:
            chosen = letters if ident is None else [x for x in letters if x.matches(ident)][:1]
            if ident is not None and not chosen:
                raise CommandError(f"Aucun message « {ident} » dans cette file des lettres mortes.")
            untrusted = [letter for letter in chosen if not letter.provenance.trusted]
            if untrusted and not force:
                raise CommandError(not_trusted(untrusted))
            for letter in chosen:
                try:
                    await channel.default_exchange.publish(
                        replay_copy(letter),
                        routing_key=target,
                        mandatory=True,
                        timeout=CONNECT_SECONDS,
                    )
                except BROKER_ERRORS as exc:
                    raise CommandError(refused(letter, exc, replayed)) from exc
                await letter.message.ack()
                replayed.append(letter.ident)
    finally:
        with contextlib.suppress(*BROKER_ERRORS):
            await channel.close()
    return replayed


def not_trusted(letters: list[DeadLetter]) -> str:
    """Why nothing was replayed: messages whose publisher nobody vouches for (French)."""
    named = " ; ".join(f"{letter.ident} ({letter.provenance.why})" for letter in letters[:5])
    more = f" et {len(letters) - 5} autre(s)" if len(letters) > 5 else ""
    return (
        f"Rien n'a été rejoué : éditeur inconnu ou non fiable pour {named}{more}. "
        "Un tel message a pu être déposé par n'importe quel utilisateur autorisé à écrire dans "
        "l'échange des lettres mortes ; rejoué, il le serait sans user_id et les consommateurs "
        "le refuseraient de nouveau. --force pour le rejouer quand même (sans user_id). "
        "Les messages restent dans la file des lettres mortes."
    )


def refused(letter: DeadLetter, exc: BaseException, replayed: list[str]) -> str:
    done = f" ({len(replayed)} rejoué(s) avant lui)" if replayed else ""
    text = (
        f"Le message {letter.ident} n'a pas été rejoué{done} : {describe(exc)}. "
        "Il reste dans la file des lettres mortes."
    )
    if letter.publisher and "user_id" in str(exc):
        text += (
            f" RabbitMQ refuse de le publier au nom de « {letter.publisher} » : "
            "l'utilisateur de CRM_AMQP_ADMIN_URL doit avoir le tag « impersonator »."
        )
    return text
