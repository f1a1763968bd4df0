"""A local, event-fed copy of other services' records, for services that reference them.

The copy keeps the newest version seen of each record: an older event arriving late never
overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from .errors import FieldError, ServiceUnavailable
from .events import CloudEvent
from .runtime import POOL_KEY
from .versions import SEEN_HEADER, Seen, parse_seen

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MIGRATIONS = ("replica", Path(__file__).parent / "replica_migrations")
DELETED_CHANGES = frozenset({"deleted"})

UPSERT_REF = """
INSERT INTO record_refs (entity, id, label, version, deleted, record)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (entity, id) DO UPDATE
SET label = EXCLUDED.label, version = EXCLUDED.version, deleted = EXCLUDED.deleted,
    record = EXCLUDED.record, updated_at = now()
WHERE record_refs.version < EXCLUDED.version
"""


def _label(record: dict[str, object]) -> str:
    for field in ("name", "last_name", "number", "username"):
        value = record.get(field)
        if isinstance(value, str) and value:
            return value
    return ""


async def keep_reference(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Event handler: update the local copy of the event's record."""
    data = event.data
    await conn.execute(
        UPSERT_REF,
        data.entity,
        data.id,
        _label(data.record),
        data.version,
        # A derived event (account.located) says the record's trash state by its deleted_at.
        event.change in DELETED_CHANGES or bool(data.record.get("deleted_at")),
        data.record,
    )


# How long a reference the replica does not know yet is waited for (the event latency is
# milliseconds): an action for an account created just before through the API succeeds.
REFERENCE_WAIT_SECONDS = 2.0
# How long a version the caller has seen (X-CRM-Seen) is waited for before a 503: the owner has
# committed it, its event is on its way (or the broker is down, and retrying later is right).
SEEN_WAIT_SECONDS = 5.0
SEEN_RETRY_AFTER_SECONDS = 2
SELECT_REFS = (
    "SELECT id, version, deleted, record FROM record_refs "
    "WHERE entity = $1 AND id = ANY($2::uuid[])"
)
# French, for the 503: what is being synchronised.
REFERENCE_LABELS = {
    "account": "Le compte référencé",
    "contact": "Le contact référencé",
    "opportunity": "L'affaire référencée",
    "project": "Le projet référencé",
    "user": "L'utilisateur référencé",
}

SELECT_SEEN = (
    "SELECT r.entity, r.id, r.version FROM record_refs r "
    "JOIN unnest($1::text[], $2::uuid[]) AS w (entity, id) ON (r.entity, r.id) = (w.entity, w.id)"
)
# The edge wait polls the replica at these intervals (doubling), a pooled connection per poll.
EDGE_POLL_FIRST_SECONDS = 0.01
EDGE_POLL_MAX_SECONDS = 0.1


@dataclass(frozen=True)
class _Seen:
    """The versions the current request's caller has seen, and whether the edge already waited
    for the replica to hold them (then a reference check inside the transaction never sleeps
    for them)."""

    versions: Seen
    awaited: bool


# The current request's X-CRM-Seen (set by ``seen_versions``).
_SEEN: ContextVar[_Seen | None] = ContextVar("seen_versions", default=None)


@web.middleware
async def seen_versions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Waits, before the handler and without holding a connection, until the replica holds the
    request's X-CRM-Seen versions (503 past SEEN_WAIT_SECONDS), then keeps them for the
    reference checks the handler leads to, which find them at once."""
    header = request.headers.get(SEEN_HEADER)
    if header is None:  # most requests: nothing to wait for, nothing to keep
        return await handler(request)
    seen = parse_seen(header)
    pool = request.app.get(POOL_KEY)
    awaited = False
    if seen and pool is not None:
        await await_seen(pool, seen)
        awaited = True
    token = _SEEN.set(_Seen(seen, awaited))
    try:
        return await handler(request)
    finally:
        _SEEN.reset(token)


async def await_seen(
    pool: asyncpg.Pool, seen: Mapping[tuple[str, uuid.UUID], int], bound: float | None = None
) -> None:
    """Polls the replica (one short ``pool.fetch`` per round, never in a transaction) until it
    holds every version ``seen`` names, or raises ServiceUnavailable past ``bound`` seconds
    (SEEN_WAIT_SECONDS by default). Version 0 (the owner does not know the record) is not
    waited for: the reference check answers from the replica as it is."""
    wanted = {key: version for key, version in seen.items() if version > 0}
    if not wanted:
        return
    limit = SEEN_WAIT_SECONDS if bound is None else bound
    clock = asyncio.get_running_loop().time
    started, delay = clock(), EDGE_POLL_FIRST_SECONDS
    while True:
        keys = list(wanted)
        rows = await pool.fetch(SELECT_SEEN, [e for e, _ in keys], [i for _, i in keys])
        held = {(row["entity"], row["id"]): row["version"] for row in rows}
        wanted = {key: v for key, v in wanted.items() if held.get(key, 0) < v}
        if not wanted:
            return
        if clock() - started >= limit:
            raise _not_synchronised(wanted, held)
        await asyncio.sleep(delay)
        delay = min(delay * 2, EDGE_POLL_MAX_SECONDS)


def seen_version(entity: str, record_id: uuid.UUID) -> int | None:
    """The version of a record the current request's caller has seen, if it said so (0: the
    owner said it does not know the record)."""
    seen = _SEEN.get()
    return None if seen is None else seen.versions.get((entity, record_id))


def _seen_awaited() -> bool:
    seen = _SEEN.get()
    return seen is not None and seen.awaited


@dataclass(frozen=True)
class Reference:
    deleted: bool
    record: dict[str, Any]


async def find_reference(
    conn: asyncpg.Connection,
    entity: str,
    record_id: uuid.UUID,
    wait_seconds: float = REFERENCE_WAIT_SECONDS,
    *,
    min_version: int | None = None,
) -> Reference | None:
    """The replica's copy of a record (see ``find_references`` for the waits).

    With ``min_version`` (by default the version the request's X-CRM-Seen names), the copy is
    at least that version or ServiceUnavailable is raised (503, Retry-After): the caller is
    never answered from an older copy than it has seen. The edge (``seen_versions``) has
    already waited for the header's versions without holding a connection, so inside the
    caller's transaction this is one SELECT; version 0 (unknown to the owner) is not waited
    for. Without a version for the record, one the replica lacks is waited for up to
    ``wait_seconds`` (a direct call, or an owner that could not answer the gateway)."""
    record_id = uuid.UUID(str(record_id))
    versions = None if min_version is None else {record_id: min_version}
    found = await find_references(conn, entity, [record_id], wait_seconds, min_versions=versions)
    return found.get(record_id)


async def find_references(
    conn: asyncpg.Connection,
    entity: str,
    record_ids: list[uuid.UUID],
    wait_seconds: float = REFERENCE_WAIT_SECONDS,
    *,
    min_versions: Mapping[uuid.UUID, int] | None = None,
) -> dict[uuid.UUID, Reference]:
    """Many records at once; those the replica lacks are waited for once, together, and so are
    those older than the version seen (``min_versions``, by default from X-CRM-Seen).

    A seen version 0 (the owner does not know the record) is not waited for: the answer is the
    replica's as it is (a missing record: None). Seen versions the edge (``seen_versions``)
    already waited for are not slept on here, inside the caller's transaction: one still behind
    is a 503 at once. Only an id the caller named no version for (a direct call, an owner that
    could not answer the gateway) is waited for here, up to ``wait_seconds``."""
    wanted = {uuid.UUID(str(i)) for i in record_ids}
    awaited = False
    if min_versions is None:
        min_versions = {
            i: version for i in wanted if (version := seen_version(entity, i)) is not None
        }
        awaited = _seen_awaited()
    kept: dict[uuid.UUID, tuple[int, Reference]] = {}
    clock = asyncio.get_running_loop().time
    started, delay = clock(), 0.02
    while True:
        pending = [i for i in wanted if not _current(kept.get(i), min_versions.get(i))]
        if pending:
            for row in await conn.fetch(SELECT_REFS, entity, pending):
                kept[row["id"]] = (row["version"], Reference(row["deleted"], row["record"]))
        behind = [i for i in pending if not _current(kept.get(i), min_versions.get(i))]
        seen_behind = [i for i in behind if min_versions.get(i, 0) > 0]
        unnamed = [i for i in behind if i not in min_versions]
        waited = clock() - started
        if not seen_behind and (not unnamed or waited >= wait_seconds):
            return {i: reference for i, (_, reference) in kept.items()}
        if seen_behind and (awaited or waited >= SEEN_WAIT_SECONDS):
            held = {(entity, i): version for i, (version, _) in kept.items()}
            raise _not_synchronised({(entity, i): min_versions[i] for i in seen_behind}, held)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


def _current(kept: tuple[int, Reference] | None, min_version: int | None) -> bool:
    return kept is not None and (min_version is None or kept[0] >= min_version)


def _not_synchronised(
    behind: Mapping[tuple[str, uuid.UUID], int], held: Mapping[tuple[str, uuid.UUID], int]
) -> ServiceUnavailable:
    late = [(entity, i, seen, held.get((entity, i))) for (entity, i), seen in behind.items()]
    log.warning("replica behind the versions seen (entity, id, seen, held): %s", late)
    entity = min(entity for entity, _ in behind)
    label = REFERENCE_LABELS.get(entity, "La fiche référencée")
    return ServiceUnavailable(
        f"{label} est en cours de synchronisation entre les services ; "
        "réessayez dans quelques secondes.",
        retry_after=SEEN_RETRY_AFTER_SECONDS,
    )


def changed(values: Mapping[str, Any], old: Mapping[str, Any] | None, field: str) -> bool:
    """``field`` is given and differs from the record's former value (any value when new)."""
    return values.get(field) is not None and (old is None or values[field] != old.get(field))


async def check_account_and_contact(
    conn: asyncpg.Connection, values: dict[str, Any], old: Mapping[str, Any] | None
) -> list[FieldError]:
    """`account_id` and `contact_id` name live records and the contact is the account's.

    Only references that change are checked: a record of an account since put in the trash
    stays valid. A record given only a contact takes the contact's account (when the record
    has an `account_id` field).
    """
    errors: list[FieldError] = []
    contact = None
    if changed(values, old, "contact_id") or (
        values.get("contact_id") is not None and changed(values, old, "account_id")
    ):
        contact = await find_reference(conn, "contact", values["contact_id"])
        if contact is None or contact.deleted:
            errors.append(FieldError("contact_id", "Aucun contact ne porte cet identifiant."))
            contact = None
    if changed(values, old, "account_id"):
        account = await find_reference(conn, "account", values["account_id"])
        if account is None:
            errors.append(FieldError("account_id", "Aucun compte ne porte cet identifiant."))
        elif account.deleted:
            errors.append(FieldError("account_id", "Ce compte est dans la corbeille."))
    if contact is not None:
        contact_account = contact.record.get("account_id")
        if values.get("account_id") is None and contact_account and "account_id" in values:
            values["account_id"] = uuid.UUID(contact_account)
        elif values.get("account_id") is not None and str(values["account_id"]) != contact_account:
            errors.append(FieldError("contact_id", "Ce contact n'appartient pas à ce compte."))
    return errors


def uuid_filter(text: str) -> uuid.UUID:
    """A list filter's id (ValueError, reported as 422, when it is not a UUID)."""
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise ValueError("Identifiant (UUID) attendu.") from exc
