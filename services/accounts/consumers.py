"""What the accounts service consumes: users (for `owner`), and its own account events, to
keep each account's location matching its address (derived data, written beside the record)."""

from __future__ import annotations

import uuid

import asyncpg
from pydantic import BaseModel

from services.common.events import CloudEvent
from services.common.handlers import Handlers
from services.common.replica import keep_reference
from services.common.supervisor import SupervisedTask

from .geocoding import GeocoderChain, ToRecord, relocate, sweep_forever, wants_location
from .service import account_record

# Every change of an account may leave its address to locate (a creation, an edit, and a trash
# or a restore that came between an edit and its location): the row decides, not the event.
# An account pending longer than this is located by the sweep (its event lost or refused).
SWEEP_SECONDS = 5.0
ACCOUNT_CHANGES = ("account.created", "account.updated", "account.deleted", "account.restored")


class AccountRef(BaseModel):
    """The account an event is about (the geocoder reads the rest from the row)."""

    id: uuid.UUID


def make_handlers(
    source: str, chain: GeocoderChain, to_record: ToRecord = account_record
) -> Handlers:
    handlers = Handlers()

    @handlers.on("user.*")
    async def keep_user(conn: asyncpg.Connection, event: CloudEvent) -> None:
        await keep_reference(conn, event)

    @handlers.on(*ACCOUNT_CHANGES, when=wants_location)
    async def locate(conn: asyncpg.Connection, event: CloudEvent, account: AccountRef) -> None:
        await relocate(conn, source, chain, account.id, to_record)

    return handlers


async def sweep_locations(
    task: SupervisedTask, pool: asyncpg.Pool, source: str, chain: GeocoderChain
) -> None:
    """The supervised sweep of the accounts left pending (see geocoding.sweep)."""
    await sweep_forever(task, pool, source, chain, account_record, SWEEP_SECONDS)
