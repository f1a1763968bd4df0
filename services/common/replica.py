"""A local, event-fed copy of other services' records, for services that reference them.

The copy keeps the newest version seen of each record: an older event arriving late never
overwrites a newer one.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

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
