"""Read your writes, the service's wait for X-CRM-Seen, against a real database: it happens at
the edge without holding a pooled connection, and version 0 is never waited for.

The pool has ONE connection: a wait that held it would starve the "consumer" (here a task
writing the replica through the same pool, as the event consumer does), and the write would
end in a 503 instead of passing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common import replica
from services.common.db import create_pool, prepare_database
from services.common.runtime import POOL_KEY
from services.common.versions import SEEN_HEADER
from services.common.web import error_middleware
from tests.support import isolated_database_url

pytestmark = pytest.mark.integration

PARALLEL = 8
# Far above anything the tests below should take: reaching it means a wait that must not be.
NEVER = 30.0


@pytest.fixture
async def one_connection(infrastructure: None) -> AsyncIterator[asyncpg.Pool]:
    dsn = isolated_database_url("replica_edge")
    await prepare_database(dsn, [replica.MIGRATIONS])
    pool = await create_pool(dsn, 1, 1)
    await pool.execute("TRUNCATE record_refs")
    yield pool
    await pool.close()


async def keep(pool: asyncpg.Pool, record_id: uuid.UUID, version: int, deleted: bool) -> None:
    """What the event consumer does for an account's event."""
    await pool.execute(
        replica.UPSERT_REF, "account", record_id, "Client", version, deleted, {"name": "Client"}
    )


def service(pool: asyncpg.Pool) -> web.Application:
    """The middleware, and a write that checks its account inside a transaction, as the
    kernel's create does (with a bounded reference wait far above the test's limits)."""

    async def write(request: web.Request) -> web.Response:
        account_id = uuid.UUID(request.match_info["id"])
        async with request.app[POOL_KEY].acquire() as conn, conn.transaction():
            found = await replica.find_reference(conn, "account", account_id, wait_seconds=NEVER)
        if found is None:
            return web.json_response({"account": None}, status=422)
        return web.json_response({"deleted": found.deleted}, status=201)

    app = web.Application(middlewares=[error_middleware, replica.seen_versions])
    app[POOL_KEY] = pool
    app.router.add_post("/write/{id}", write)
    return app


async def test_writes_waiting_for_a_version_leave_the_connection_to_the_consumer(
    one_connection: asyncpg.Pool,
) -> None:
    accounts = [uuid.uuid4() for _ in range(PARALLEL)]
    for account in accounts:
        await keep(one_connection, account, 1, deleted=True)  # trashed, version 1
    async with TestClient(TestServer(service(one_connection))) as client:

        async def write(account: uuid.UUID) -> tuple[int, object]:
            seen = {SEEN_HEADER: f"account={account}:2"}  # restored at the owner: version 2
            response = await client.post(f"/write/{account}", headers=seen)
            return response.status, await response.json()

        writes = [asyncio.create_task(write(account)) for account in accounts]
        await asyncio.sleep(0.1)  # every write is waiting: the restores' events arrive now
        for account in accounts:
            await keep(one_connection, account, 2, deleted=False)
        results = await asyncio.gather(*writes)
    assert results == [(201, {"deleted": False})] * PARALLEL


async def test_a_version_never_reached_is_a_503_with_retry_after(
    one_connection: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replica, "SEEN_WAIT_SECONDS", 0.3)
    account = uuid.uuid4()
    await keep(one_connection, account, 1, deleted=False)
    async with TestClient(TestServer(service(one_connection))) as client:
        response = await client.post(
            f"/write/{account}", headers={SEEN_HEADER: f"account={account}:5"}
        )
        assert response.status == 503
        assert response.headers["Retry-After"] == str(replica.SEEN_RETRY_AFTER_SECONDS)
        assert "synchronisation" in (await response.json())["detail"]


async def test_version_0_is_not_waited_for(one_connection: asyncpg.Pool) -> None:
    """The owner does not know the record: answered from the replica at once (the write's
    own reference wait, NEVER seconds, is not used)."""
    missing, known = uuid.uuid4(), uuid.uuid4()
    await keep(one_connection, known, 3, deleted=True)
    async with TestClient(TestServer(service(one_connection))) as client:

        async def write(account: uuid.UUID) -> tuple[int, object]:
            headers = {SEEN_HEADER: f"account={account}:0"}
            response = await client.post(f"/write/{account}", headers=headers)
            return response.status, await response.json()

        results = await asyncio.wait_for(
            asyncio.gather(*(write(missing) for _ in range(PARALLEL)), write(known)), NEVER / 3
        )
    assert results == [(422, {"account": None})] * PARALLEL + [(201, {"deleted": True})]
