"""What documents consumes, one function per event type: its copy of the accounts, contacts and
opportunities that quotes, invoices and letters reference. The queue's bindings are the
handlers' patterns.

Each copy keeps the whole record: a mail merge puts any field of the account and of its
contacts in the letter, and a quote prints the account's name and address. The payload models
name what documents relies on; an event whose record lacks it is refused (dead-lettered)."""

from __future__ import annotations

import uuid

import asyncpg
from pydantic import BaseModel

from services.common.events import CloudEvent
from services.common.handlers import Handlers
from services.common.replica import keep_reference


class AccountCopy(BaseModel):
    """An account: its name heads letters, quotes and invoices."""

    name: str


class ContactCopy(BaseModel):
    """A contact: its name, and the account it belongs to (a quote's or an invoice's contact
    must be the account's; a letter lists the account's contacts)."""

    last_name: str
    account_id: uuid.UUID | None = None


class OpportunityCopy(BaseModel):
    """An opportunity: a quote's opportunity must be of the quote's account."""

    name: str
    account_id: uuid.UUID


handlers = Handlers()


@handlers.on("account.*")
async def copy_account(conn: asyncpg.Connection, event: CloudEvent, account: AccountCopy) -> None:
    await keep_reference(conn, event)


@handlers.on("contact.*")
async def copy_contact(conn: asyncpg.Connection, event: CloudEvent, contact: ContactCopy) -> None:
    await keep_reference(conn, event)


@handlers.on("opportunity.*")
async def copy_opportunity(
    conn: asyncpg.Connection, event: CloudEvent, opportunity: OpportunityCopy
) -> None:
    await keep_reference(conn, event)
