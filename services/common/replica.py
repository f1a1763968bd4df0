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

# The versions the current request says its caller has seen (set by ``seen_versions``).
_SEEN: ContextVar[Seen | None] = ContextVar("seen_versions", default=None)


@web.middleware
async def seen_versions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keeps the request's X-CRM-Seen versions for the reference checks it leads to."""
    token = _SEEN.set(parse_seen(request.headers.get(SEEN_HEADER)))
    try:
        return await handler(request)
    finally:
        _SEEN.reset(token)


def seen_version(entity: str, record_id: uuid.UUID) -> int | None:
    """The version of a record the current request's caller has seen, if it said so."""
    seen = _SEEN.get()
    return None if seen is None else seen.get((entity, record_id))


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
    """The replica's copy of a record, waiting up to ``wait_seconds`` for it to arrive.

    With ``min_version`` (by default the version the request's X-CRM-Seen names), waits until
    the copy is at least that version, up to SEEN_WAIT_SECONDS, then raises ServiceUnavailable
    (503, Retry-After): the caller is never answered from an older copy than it has seen."""
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
    those older than the version seen (``min_versions``, by default from X-CRM-Seen)."""
    wanted = {uuid.UUID(str(i)) for i in record_ids}
    if min_versions is None:
        min_versions = {
            i: version for i in wanted if (version := seen_version(entity, i)) is not None
        }
    kept: dict[uuid.UUID, tuple[int, Reference]] = {}
    clock = asyncio.get_running_loop().time
    started, delay = clock(), 0.02
    while True:
        pending = [i for i in wanted if not _current(kept.get(i), min_versions.get(i))]
        if pending:
            for row in await conn.fetch(SELECT_REFS, entity, pending):
                kept[row["id"]] = (row["version"], Reference(row["deleted"], row["record"]))
        behind = [i for i in pending if not _current(kept.get(i), min_versions.get(i))]
        seen_behind = [i for i in behind if i in min_versions]
        waited = clock() - started
        if not seen_behind and (not behind or waited >= wait_seconds):
            return {i: reference for i, (_, reference) in kept.items()}
        if seen_behind and waited >= SEEN_WAIT_SECONDS:
            raise _not_synchronised(entity, seen_behind, min_versions, kept)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


def _current(kept: tuple[int, Reference] | None, min_version: int | None) -> bool:
    return kept is not None and (min_version is None or kept[0] >= min_version)


def _not_synchronised(
    entity: str,
    behind: list[uuid.UUID],
    min_versions: Mapping[uuid.UUID, int],
    kept: Mapping[uuid.UUID, tuple[int, Reference]],
) -> ServiceUnavailable:
    late = [(i, min_versions[i], kept[i][0] if i in kept else None) for i in behind]
    log.warning("replica of %s behind the versions seen (id, seen, held): %s", entity, late)
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
