"""What activities consumes: its replica of accounts and contacts, and accepted quotes, which
win their opportunity."""

from __future__ import annotations

import asyncpg

from services.common.consumer import Handler
from services.common.events import CloudEvent
from services.common.outbox import record_change
from services.common.replica import keep_reference

from . import domain
from .service import OPPORTUNITIES

BINDINGS = ("account.*", "contact.*", "quote.accepted")
LOCK_OPPORTUNITY = f"SELECT {OPPORTUNITIES.columns} FROM opportunities WHERE id = $1 FOR UPDATE"  # noqa: S608
WIN = """
UPDATE opportunities SET stage = $2, probability = $3, closed_at = now(), updated_at = now(),
    updated_by = $4, version = version + 1
WHERE id = $1 RETURNING {columns}
"""


def make_handler(source: str) -> Handler:
    async def handle(conn: asyncpg.Connection, event: CloudEvent) -> None:
        if event.data.entity == "quote":
            await win_opportunity(conn, source, event)
        else:
            await keep_reference(conn, event)

    return handle


async def win_opportunity(conn: asyncpg.Connection, source: str, event: CloudEvent) -> None:
    """An accepted quote moves its opportunity to Gagnée (unless it is already closed)."""
    opportunity_id = event.data.record.get("opportunity_id")
    if not opportunity_id:
        return
    row = await conn.fetchrow(LOCK_OPPORTUNITY, opportunity_id)
    if row is None or row["deleted_at"] is not None or domain.STAGES[row["stage"]].closed:
        return
    won = domain.STAGES[domain.WON]
    actor = event.data.actor  # who accepted the quote
    new_row = await conn.fetchrow(
        WIN.format(columns=OPPORTUNITIES.columns),
        row["id"],
        won.code,
        won.probability,
        actor,
    )
    await record_change(
        conn,
        source=source,
        entity="opportunity",
        change="updated",
        record=OPPORTUNITIES.record(new_row),
        old=OPPORTUNITIES.record(row),
        actor=actor,
        context={"quote_accepted": event.data.record.get("number")},
    )
