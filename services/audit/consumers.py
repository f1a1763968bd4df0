"""The audit service consumes every event on the exchange."""

from __future__ import annotations

import asyncpg

from services.common.events import CloudEvent

from . import repository as sql
from .domain import GENESIS_HASH, entry_from_event

BINDINGS = ("#",)


async def record_change(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Append ``event`` to its record's chain (called once per event, inside the inbox tx)."""
    entity, record_id = event.data.entity, event.data.id
    await conn.execute(sql.LOCK_RECORD_CHAIN, entity, record_id)
    head = await conn.fetchrow(sql.SELECT_CHAIN_HEAD, entity, record_id)
    seq, prev_hash = (head["seq"] + 1, head["hash"]) if head else (1, GENESIS_HASH)
    entry = entry_from_event(event, seq, prev_hash)
    await conn.execute(
        sql.INSERT_ENTRY,
        event.id,
        entry.entity,
        entry.record_id,
        entry.seq,
        entry.version,
        entry.action,
        entry.actor,
        entry.at,
        entry.changes,
        entry.prev_hash,
        entry.hash,
        entry.context,
    )
