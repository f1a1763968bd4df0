"""The geocoder locates from the account's row in PostgreSQL, beside the record: never its
version; a redelivery is harmless; an address changed while it is located is not given a stale
location; an unreachable provider and a lost event leave it pending for the sweep."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

import services.accounts
from services.accounts.geocoding import (
    GeocoderChain,
    Location,
    OfflineGeocoder,
    address_of,
    location_of,
    relocate,
    sweep,
)
from services.common.db import create_pool, prepare_database
from services.common.events import decode
from tests.support import isolated_database_url

pytestmark = pytest.mark.integration

SOURCE = "/services/accounts"
PARIS = {"street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"}
LYON = {"street": "2 rue Mercière", "postal_code": "69002", "city": "Lyon", "country": "FR"}
EMPTY = {"street": None, "postal_code": None, "city": None, "country": "FR"}
OFFLINE = GeocoderChain([OfflineGeocoder()])


def to_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "address": address_of(row),
        "location": location_of(row),
        "version": row["version"],
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
    }


@pytest.fixture(scope="module")
async def accounts_pool(infrastructure: None) -> AsyncIterator[asyncpg.Pool]:
    dsn = isolated_database_url("geocoder")
    migrations = Path(services.accounts.__file__).parent / "migrations"
    await prepare_database(dsn, [("accounts", migrations)])
    pool = await create_pool(dsn, 1, 6)
    yield pool
    await pool.close()


@pytest.fixture
async def db(accounts_pool: asyncpg.Pool) -> asyncpg.Pool:
    await accounts_pool.execute("TRUNCATE outbox, accounts CASCADE")
    return accounts_pool


async def pending(pool: asyncpg.Pool, address: Mapping[str, Any], waiting: float = 0) -> uuid.UUID:
    """An account written with ``address``, waiting for its location for ``waiting`` seconds."""
    account_id = uuid.uuid4()
    await pool.execute(
        """
        INSERT INTO accounts (id, name, street, postal_code, city, country, created_by,
            updated_by, location_status, location_requested_at)
        VALUES ($1, 'Compte', $2, $3, $4, $5, 'marie', 'marie', 'pending',
            now() - $6 * interval '1 second')
        """,
        account_id,
        address["street"],
        address["postal_code"],
        address["city"],
        address["country"],
        waiting,
    )
    return account_id


async def run(pool: asyncpg.Pool, account_id: uuid.UUID, chain: GeocoderChain = OFFLINE) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        return await relocate(conn, SOURCE, chain, account_id, to_record)


async def row(pool: asyncpg.Pool, account_id: uuid.UUID) -> asyncpg.Record:
    found = await pool.fetchrow("SELECT * FROM accounts WHERE id = $1", account_id)
    assert found is not None
    return found


async def located_events(pool: asyncpg.Pool) -> list[Any]:
    rows = await pool.fetch("SELECT routing_key, body FROM outbox ORDER BY id")
    assert {r["routing_key"] for r in rows} <= {"account.located"}
    return [decode(r["body"]) for r in rows]


async def test_the_location_is_written_beside_the_record_once(db: asyncpg.Pool) -> None:
    account_id = await pending(db, PARIS)
    before = await row(db, account_id)
    assert await run(db, account_id)
    after = await row(db, account_id)
    assert (after["location_status"], after["location_source"]) == ("found", "offline")
    assert after["located_address"] == PARIS
    assert after["location_requested_at"] is None
    for column in ("version", "updated_at", "updated_by"):
        assert after[column] == before[column], column
    [event] = await located_events(db)
    assert (event.type, event.data.version, event.data.actor) == (
        "crm.account.located.v1",
        1,
        "geocodeur",
    )
    assert event.data.context == {"derived": "location"}
    assert set(event.data.changes) == {
        "location.lat",
        "location.lon",
        "location.precision",
        "location.source",
    }
    # The same event again (a redelivery), or another event of the account: nothing to do.
    assert not await run(db, account_id)
    assert len(await located_events(db)) == 1


async def test_a_trashed_account_keeps_a_location_matching_its_address(db: asyncpg.Pool) -> None:
    account_id = await pending(db, LYON)
    await db.execute("UPDATE accounts SET deleted_at = now() WHERE id = $1", account_id)
    assert await run(db, account_id)
    after = await row(db, account_id)
    assert (after["location_status"], after["located_address"]) == ("found", LYON)
    [event] = await located_events(db)
    assert event.data.record["deleted_at"] is not None


class MovingGeocoder:
    """Answers for the address it was asked, after the account moved to Lyon meanwhile."""

    name = "moving"

    def __init__(self, pool: asyncpg.Pool, account_id: uuid.UUID) -> None:
        self.pool, self.account_id = pool, account_id

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        await self.pool.execute(
            "UPDATE accounts SET street = $2, postal_code = $3, city = $4, version = version + 1"
            " WHERE id = $1",
            self.account_id,
            LYON["street"],
            LYON["postal_code"],
            LYON["city"],
        )
        return await OfflineGeocoder().locate(address)


async def test_an_address_changed_while_it_is_located_gets_no_stale_location(
    db: asyncpg.Pool,
) -> None:
    account_id = await pending(db, PARIS)
    assert not await run(db, account_id, GeocoderChain([MovingGeocoder(db, account_id)]))
    after = await row(db, account_id)
    assert (after["location_status"], after["lat"], after["located_address"]) == (
        "pending",
        None,
        None,
    )
    assert await located_events(db) == []
    # The move's own event (or the sweep) locates the new address.
    assert await run(db, account_id)
    after = await row(db, account_id)
    assert (after["located_address"], round(after["lat"])) == (LYON, 46)


class Unreachable:
    name = "down"

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        raise aiohttp.ClientConnectionError("refused")


async def test_an_unreachable_geocoder_leaves_the_address_pending_for_the_sweep(
    db: asyncpg.Pool,
) -> None:
    account_id = await pending(db, PARIS, waiting=60)
    assert not await run(db, account_id, GeocoderChain([Unreachable()]))
    after = await row(db, account_id)
    assert after["location_status"] == "pending"  # not "not_found": it was never asked
    assert await db.fetchval(
        "SELECT location_requested_at > now() - interval '5 seconds' FROM accounts WHERE id = $1",
        account_id,
    )  # postponed by a sweep period, not retried in a loop
    assert await sweep(db, SOURCE, OFFLINE, to_record, older_than=5) == 0
    assert await sweep(db, SOURCE, OFFLINE, to_record, older_than=0) == 1
    assert (await row(db, account_id))["location_status"] == "found"


async def test_the_sweep_locates_what_waits_longer_than_its_period(db: asyncpg.Pool) -> None:
    lost = await pending(db, LYON, waiting=30)  # its event was lost
    recent = await pending(db, PARIS)  # its event is on its way
    assert await sweep(db, SOURCE, OFFLINE, to_record, older_than=5) == 1
    assert (await row(db, lost))["location_status"] == "found"
    assert (await row(db, recent))["location_status"] == "pending"
    assert [e.data.id for e in await located_events(db)] == [str(lost)]


async def test_an_address_not_found_is_not_asked_again(db: asyncpg.Pool) -> None:
    nowhere = {**PARIS, "postal_code": None, "city": "Nullepartville"}
    account_id = await pending(db, nowhere)
    assert not await run(db, account_id)  # the record is the same: no event
    after = await row(db, account_id)
    assert (after["location_status"], after["located_address"]) == ("not_found", nowhere)
    assert not await run(db, account_id)
    assert await located_events(db) == []


async def test_a_location_left_behind_by_an_emptied_address_goes(db: asyncpg.Pool) -> None:
    account_id = await pending(db, PARIS)
    assert await run(db, account_id)
    await db.execute(
        "UPDATE accounts SET street = NULL, postal_code = NULL, city = NULL WHERE id = $1",
        account_id,
    )  # a write that did not clear the location
    assert await run(db, account_id)
    after = await row(db, account_id)
    assert (after["location_status"], after["lat"], after["located_address"]) == (
        "none",
        None,
        None,
    )
    assert (await located_events(db))[-1].data.record["location"] is None


class Surprising:
    """A provider that fails in a way nobody planned for, on one address only."""

    name = "surprising"

    async def locate(self, address: Mapping[str, Any]) -> Any:
        if address.get("city") == "Paris":
            raise RuntimeError("a provider's answer nobody expected")
        return await OfflineGeocoder().locate(address)


async def test_one_account_that_fails_the_sweep_does_not_hold_up_the_others(
    db: asyncpg.Pool,
) -> None:
    stuck = await pending(db, PARIS, waiting=60)  # the oldest: swept first
    other = await pending(db, LYON, waiting=30)
    assert await sweep(db, SOURCE, GeocoderChain([Surprising()]), to_record, older_than=5) == 1
    assert (await row(db, stuck))["location_status"] == "pending"
    assert (await row(db, other))["location_status"] == "found"
