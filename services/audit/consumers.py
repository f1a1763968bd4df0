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
from services.common.handlers import Handlers

from . import repository as sql
from .domain import GENESIS_HASH, entry_from_event, is_derived, version_refusal

log = logging.getLogger(__name__)

HANDLERS = Handlers()
# How far ahead of the chain a refused event may be and still be chained once the versions
# before it arrive (about what a consumer holds at once: its prefetch).
HOLD_WINDOW = 32


@HANDLERS.on("#")
async def record_change(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Append ``event`` to its record's chain (called once per event, inside the inbox tx);
    then the events held back for that record which now follow it."""
    entity, record_id = event.data.entity, event.data.id
    await conn.execute(sql.LOCK_RECORD_CHAIN, entity, record_id)
    head = await conn.fetchrow(sql.SELECT_CHAIN_HEAD, entity, record_id)
    last_version = head["version"] if head else None
    refusal = version_refusal(last_version, event.data.version, is_derived(event.data.context))
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
    seq, prev_hash = (head["seq"], head["hash"]) if head else (0, GENESIS_HASH)
    while True:
        seq += 1
        prev_hash = await _append(conn, event, seq, prev_hash)
        # An event refused because it came just before its predecessor (one retried after an
        # error comes back behind the next) follows now: it is chained in its place. A far
        # jump (more than HOLD_WINDOW versions: a forged 99 after 1) is never chained. Derived
        # data computed about this version, if it came first, follows it before the next one.
        version = event.data.version
        held = await conn.fetchrow(
            sql.SELECT_HELD_DERIVED, entity, record_id, version
        ) or await conn.fetchrow(sql.SELECT_HELD, entity, record_id, version + 1, HOLD_WINDOW)
        if held is None:
            return
        event = CloudEvent.model_validate(held["event"])
        log.info("audit: held event %s of %s %s now chained", event.id, entity, record_id)


async def _append(conn: asyncpg.Connection, event: CloudEvent, seq: int, prev_hash: str) -> str:
    """Insert ``event`` as entry ``seq`` after ``prev_hash``; its hash."""
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
    return entry.hash
