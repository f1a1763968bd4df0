"""What activities consumes, one function per event type: its copy of accounts and contacts
(what actions, opportunities and projects reference), and accepted quotes, which win their
opportunity. The queue's bindings are the handlers' patterns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from services.common.events import CloudEvent
from services.common.handlers import Handlers
from services.common.outbox import record_change
from services.common.replica import keep_reference

from . import domain
from .service import OPPORTUNITIES


class AccountCopy(BaseModel):
    """What activities keeps of an account: that it exists, whether it is in the trash (from
    the event's change, or the deleted_at a derived event carries) and its name."""

    name: str
    deleted_at: datetime | None = None


class ContactCopy(BaseModel):
    """What activities keeps of a contact: its name and the account it belongs to (a record
    given only a contact takes its account; a contact of another account is refused)."""

    last_name: str
    account_id: uuid.UUID | None = None
    deleted_at: datetime | None = None


class AcceptedQuote(BaseModel):
    """What winning an opportunity needs of an accepted quote."""

    opportunity_id: uuid.UUID | None = None
    number: str | None = None


def make_handlers(source: str) -> Handlers:
    """The service's reactions to events; ``source`` is the CloudEvents source of the events
    they write."""
    handlers = Handlers()
    handlers.on("account.*")(copy_account)
    handlers.on("contact.*")(copy_contact)

    @handlers.on("quote.accepted")
    async def quote_accepted(
        conn: asyncpg.Connection, event: CloudEvent, quote: AcceptedQuote
    ) -> None:
        await win_opportunity(conn, source, event, quote)

    return handlers


async def copy_account(conn: asyncpg.Connection, event: CloudEvent, account: AccountCopy) -> None:
    await keep_reference(conn, _with_record(event, account))


async def copy_contact(conn: asyncpg.Connection, event: CloudEvent, contact: ContactCopy) -> None:
    await keep_reference(conn, _with_record(event, contact))


def _with_record(event: CloudEvent, copy: BaseModel) -> CloudEvent:
    """The event with only the record's fields this service keeps."""
    record: dict[str, Any] = copy.model_dump(mode="json")
    return event.model_copy(update={"data": event.data.model_copy(update={"record": record})})


LOCK_OPPORTUNITY = f"SELECT {OPPORTUNITIES.columns} FROM opportunities WHERE id = $1 FOR UPDATE"  # noqa: S608
WIN = """
UPDATE opportunities SET stage = $2, probability = $3, closed_at = now(), updated_at = now(),
    updated_by = $4, version = version + 1
WHERE id = $1 RETURNING {columns}
"""


async def win_opportunity(
    conn: asyncpg.Connection, source: str, event: CloudEvent, quote: AcceptedQuote
) -> None:
    """An accepted quote moves its opportunity to Gagnée (unless it is already closed)."""
    if quote.opportunity_id is None:
        return
    row = await conn.fetchrow(LOCK_OPPORTUNITY, quote.opportunity_id)
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
        context={"quote_accepted": quote.number},
    )
