"""What the accounts service consumes: users (for `owner`), and its own account events to
locate addresses after the write."""

from __future__ import annotations

import asyncpg

from services.common.consumer import Handler
from services.common.events import CloudEvent
from services.common.replica import keep_reference

from .geocoding import GeocoderChain, address_changed, locate_account
from .service import account_record

BINDINGS = ("user.*", "account.created", "account.updated", "account.restored")


def make_handler(source: str, chain: GeocoderChain) -> Handler:
    async def handle(conn: asyncpg.Connection, event: CloudEvent) -> None:
        if event.data.entity == "user":
            await keep_reference(conn, event)
        else:
            await locate_account(conn, source, chain, event, account_record)

    return handle


def wants(event: CloudEvent) -> bool:
    """Users, and accounts with an address to locate: the rest is acknowledged untouched."""
    return event.data.entity == "user" or address_changed(event)
