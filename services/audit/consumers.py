"""The audit service consumes every event on the exchange.

Events reach it only from their owner (the consumer checks the publisher); on top of that the
trail chains an event only if its version follows the record's last one (or it is the record's
first event): any other is refused, flagged in ``audit_rejections`` with the reason, and left
out of the chain.
"""

from __future__ import annotations

import logging

import asyncpg

from services.common.events import CloudEvent

from . import repository as sql
from .domain import GENESIS_HASH, entry_from_event, version_refusal

log = logging.getLogger(__name__)

BINDINGS = ("#",)


async def record_change(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Append ``event`` to its record's chain (called once per event, inside the inbox tx)."""
    entity, record_id = event.data.entity, event.data.id
    await conn.execute(sql.LOCK_RECORD_CHAIN, entity, record_id)
    head = await conn.fetchrow(sql.SELECT_CHAIN_HEAD, entity, record_id)
    last_version = head["version"] if head else None
    refusal = version_refusal(last_version, event.data.version)
    if refusal is not None:
        log.warning("audit: event %s of %s %s refused: %s", event.id, entity, record_id, refusal)
        await conn.execute(
            sql.INSERT_REJECTION,
            event.id,
            entity,
            record_id,
            event.data.version,
            last_version,
            event.change,
            event.data.actor,
            event.time,
            refusal,
            event.model_dump(mode="json"),
        )
        return
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
