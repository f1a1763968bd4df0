"""Pooled connections skip asyncpg's default reset round trip; a transaction a request leaves
open must still not reach the next one."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.db import create_pool
from tests.support import isolated_database_url

pytestmark = pytest.mark.integration


async def test_a_transaction_left_open_is_rolled_back_on_release(pool: asyncpg.Pool) -> None:
    dsn = isolated_database_url("integration")
    single = await create_pool(dsn, 1, 1)
    try:
        async with single.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute(
                "INSERT INTO effects (event_id, note) VALUES (gen_random_uuid(), 'x')"
            )
        async with single.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM effects WHERE note = 'x'") == 0
    finally:
        await single.close()


async def test_a_pool_for_lists_plans_each_query_with_its_values(pool: asyncpg.Pool) -> None:
    dsn = isolated_database_url("integration")
    lists = await create_pool(dsn, 1, 1, custom_plans=True)
    try:
        assert await lists.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
        assert await pool.fetchval("SHOW plan_cache_mode") == "auto"
    finally:
        await lists.close()
