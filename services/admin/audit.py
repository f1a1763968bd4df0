"""Every audit chain checked at once, with the audit service's own SQL and chain rule."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from services.audit import repository as sql
from services.audit.domain import ChainCheck, Entry, verify_chain
from services.audit.service import _entry as entry_of_row

# Every chain (or the chosen ones), entry by entry: one index scan of (entity, record_id, seq).
SELECT_CHAINS = f"""
SELECT {sql.ENTRY_COLUMNS} FROM audit_entries
WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR record_id = $2)
ORDER BY entity, record_id, seq
"""  # noqa: S608 (a constant column list; values are $n)


@dataclass(frozen=True)
class ChainResult:
    entity: str
    record_id: str
    check: ChainCheck


def record_id_text(value: str) -> str:
    """A record id as the trail keeps it: UUIDs in their canonical (lower-case) form."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


async def chains(
    pool: asyncpg.Pool, entity: str | None = None, record_id: str | None = None
) -> AsyncIterator[ChainResult]:
    """Each chain's check, in (entity, record id) order, read in one consistent snapshot."""
    wanted_id = record_id_text(record_id) if record_id is not None else None
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        current: tuple[str, str] | None = None
        entries: list[tuple[Entry, str]] = []
        async for row in conn.cursor(SELECT_CHAINS, entity, wanted_id, prefetch=2000):
            key = (row["entity"], row["record_id"])
            if key != current:
                if current is not None:
                    yield ChainResult(*current, verify_chain(entries))
                current, entries = key, []
            entries.append((entry_of_row(row), row["hash"]))
        if current is not None:
            yield ChainResult(*current, verify_chain(entries))
