"""The audit trail in PostgreSQL takes derived data (account.located) as the system's own entry at
the record's version, in whatever order the consumer gets it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import services.audit
from services.audit.consumers import record_change
from services.audit.domain import is_derived
from services.audit.service import verify
from services.common.db import create_pool, prepare_database
from services.common.events import CloudEvent, FieldChange, make_event
from tests.support import isolated_database_url

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def audit_pool(infrastructure: None) -> AsyncIterator[asyncpg.Pool]:
    dsn = isolated_database_url("audit_derived")
    migrations = Path(services.audit.__file__).parent / "migrations"
    await prepare_database(dsn, [("audit", migrations)])
    pool = await create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


def event(record_id: str, change: str, version: int) -> CloudEvent:
    derived = change == "located"
    return make_event(
        source="/services/accounts",
        entity="account",
        change=change,
        record={"id": record_id, "version": version},
        actor="geocodeur" if derived else "marie",
        changes={"location.lat": FieldChange(old=None, new=45.75)} if derived else {},
        context={"derived": "location"} if derived else None,
    )


async def feed(pool: asyncpg.Pool, *events: CloudEvent) -> None:
    for one in events:
        async with pool.acquire() as conn, conn.transaction():
            await record_change(conn, one)


async def chained(pool: asyncpg.Pool, record_id: str) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT action, version FROM audit_entries WHERE entity = 'account' AND record_id = $1"
        " ORDER BY seq",
        record_id,
    )
    return [(row["action"], row["version"]) for row in rows]


async def test_derived_data_follows_the_entry_of_its_version(audit_pool: asyncpg.Pool) -> None:
    rid = str(uuid.uuid4())
    await feed(
        audit_pool,
        event(rid, "created", 1),
        event(rid, "located", 1),
        event(rid, "updated", 2),
        event(rid, "located", 2),
        event(rid, "deleted", 3),
    )
    assert await chained(audit_pool, rid) == [
        ("created", 1),
        ("located", 1),
        ("updated", 2),
        ("located", 2),
        ("deleted", 3),
    ]
    check = await verify(audit_pool, "account", rid)
    assert (check.valid, check.rejected) == (True, [])


async def test_derived_data_that_comes_first_waits_for_its_version(
    audit_pool: asyncpg.Pool,
) -> None:
    rid = str(uuid.uuid4())
    located = event(rid, "located", 1)
    assert is_derived(located.data.context)
    await feed(audit_pool, located)  # before the creation's entry: held
    assert await chained(audit_pool, rid) == []
    await feed(audit_pool, event(rid, "located", 2), event(rid, "created", 1))
    assert await chained(audit_pool, rid) == [("created", 1), ("located", 1)]
    await feed(audit_pool, event(rid, "updated", 2))
    assert await chained(audit_pool, rid) == [
        ("created", 1),
        ("located", 1),
        ("updated", 2),
        ("located", 2),
    ]
    check = await verify(audit_pool, "account", rid)
    assert (check.valid, check.entries, check.rejected) == (True, 4, [])


async def test_derived_data_about_a_replaced_version_is_refused(audit_pool: asyncpg.Pool) -> None:
    rid = str(uuid.uuid4())
    late = event(rid, "located", 1)
    await feed(audit_pool, event(rid, "created", 1), event(rid, "updated", 2), late)
    assert await chained(audit_pool, rid) == [("created", 1), ("updated", 2)]
    check = await verify(audit_pool, "account", rid)
    assert check.valid
    assert [str(r["event_id"]) for r in check.rejected] == [str(late.id)]
    assert "déjà dépassée" in check.rejected[0]["reason"]
