"""Use cases of the audit service: read a record's trail and check its chain."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg

from services.common.errors import NotFound

from . import repository as sql
from .domain import ChainCheck, Entry, verify_chain


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(
        event_id=str(row["event_id"]),
        entity=row["entity"],
        record_id=row["record_id"],
        seq=row["seq"],
        version=row["version"],
        action=row["action"],
        actor=row["actor"],
        at=row["at"],
        changes=row["changes"],
        prev_hash=row["prev_hash"],
        context=row["context"],
    )


async def trail(pool: asyncpg.Pool, entity: str, record_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(sql.SELECT_TRAIL_NEWEST_FIRST, entity, record_id)
    if not rows:
        raise NotFound("Aucun historique pour cette fiche.")
    return [
        {
            "at": row["at"],
            "actor": row["actor"],
            "action": row["action"],
            "changes": row["changes"],
            "version": row["version"],
            "seq": row["seq"],
            "event_id": row["event_id"],
            "hash": row["hash"],
            **({"context": row["context"]} if row["context"] else {}),
        }
        for row in rows
    ]


async def verify(pool: asyncpg.Pool, entity: str, record_id: str) -> ChainCheck:
    """The chain's check, and the events refused for this record (a refusal leaves the chain
    valid, and is reported)."""
    rows = await pool.fetch(sql.SELECT_CHAIN, entity, record_id)
    rejected = [dict(row) for row in await pool.fetch(sql.SELECT_REJECTIONS, entity, record_id)]
    if not rows and not rejected:
        raise NotFound("Aucun historique pour cette fiche.")
    check = verify_chain([(_entry(row), row["hash"]) for row in rows])
    return replace(check, rejected=rejected)
