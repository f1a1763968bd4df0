"""A local, event-fed copy of other services' records, for services that reference them.

The copy keeps the newest version seen of each record: an older event arriving late never
overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from .errors import FieldError
from .events import CloudEvent

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
        event.change in DELETED_CHANGES,
        data.record,
    )


SELECT_REF = "SELECT deleted, record FROM record_refs WHERE entity = $1 AND id = $2"
# How long a reference the replica does not know yet is waited for (the event latency is
# milliseconds): an action for an account created just before through the API succeeds.
REFERENCE_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Reference:
    deleted: bool
    record: dict[str, Any]


async def find_reference(
    conn: asyncpg.Connection,
    entity: str,
    record_id: uuid.UUID,
    wait_seconds: float = REFERENCE_WAIT_SECONDS,
) -> Reference | None:
    """The replica's copy of a record, waiting up to ``wait_seconds`` for it to arrive."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    delay = 0.02
    while True:
        row = await conn.fetchrow(SELECT_REF, entity, record_id)
        if row is not None:
            return Reference(row["deleted"], row["record"])
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


SELECT_REFS = (
    "SELECT id, deleted, record FROM record_refs WHERE entity = $1 AND id = ANY($2::uuid[])"
)


async def find_references(
    conn: asyncpg.Connection,
    entity: str,
    record_ids: list[uuid.UUID],
    wait_seconds: float = REFERENCE_WAIT_SECONDS,
) -> dict[uuid.UUID, Reference]:
    """Many records at once; those the replica lacks are waited for once, together."""
    wanted = set(record_ids)
    found: dict[uuid.UUID, Reference] = {}
    deadline = asyncio.get_running_loop().time() + wait_seconds
    delay = 0.02
    while True:
        for row in await conn.fetch(SELECT_REFS, entity, list(wanted - set(found))):
            found[row["id"]] = Reference(row["deleted"], row["record"])
        if wanted <= set(found) or asyncio.get_running_loop().time() >= deadline:
            return found
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


def _changed(values: Mapping[str, Any], old: Mapping[str, Any] | None, field: str) -> bool:
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
    if _changed(values, old, "contact_id") or (
        values.get("contact_id") is not None and _changed(values, old, "account_id")
    ):
        contact = await find_reference(conn, "contact", values["contact_id"])
        if contact is None or contact.deleted:
            errors.append(FieldError("contact_id", "Aucun contact ne porte cet identifiant."))
            contact = None
    if _changed(values, old, "account_id"):
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
