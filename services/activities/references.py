"""References to accounts and contacts, checked against this service's replica of them.

The replica follows the accounts service's events, a few milliseconds behind. A reference the
replica does not know yet is waited for a moment, so that an action for an account created just
before through the API succeeds; an id still unknown then is refused.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

SELECT_REF = "SELECT deleted, record FROM record_refs WHERE entity = $1 AND id = $2"


@dataclass(frozen=True)
class Reference:
    deleted: bool
    record: dict[str, Any]


async def find(
    conn: asyncpg.Connection, entity: str, record_id: uuid.UUID, wait_seconds: float
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
