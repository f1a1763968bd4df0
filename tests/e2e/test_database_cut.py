"""The accounts service's database connections cut (pg_terminate_backend) while accounts are
written through the gateway: clients see only 2xx or 503 with Retry-After, never 500, and the
service's relay, listener and consumer carry on by themselves (the outbox drains)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.platform import Platform
from tests.support import eventually

WRITES = 60
CUTS = 3

TERMINATE = """
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


async def test_cutting_the_database_connections_during_writes_gives_only_2xx_or_503(
    platform: Platform, admin: dict[str, str], accounts_db: asyncpg.Connection
) -> None:
    answers: list[tuple[int, str | None, Any]] = []
    written = 0
    cut = 0

    async def writer(worker: int) -> None:
        nonlocal written
        for n in range(WRITES // 4):
            status, body, headers = await platform.call(
                "POST", "/api/v1/accounts", admin, json={"name": f"Coupure {worker}-{n}"}
            )
            answers.append((status, headers.get("Retry-After"), body))
            written += 1

    async def cutter() -> None:
        nonlocal cut
        for round_ in range(1, CUTS + 1):

            async def reached(round_: int = round_) -> bool:
                return written >= round_ * WRITES // (CUTS + 1)

            await eventually(reached, within=60, every=0.01)
            cut += await accounts_db.fetchval(TERMINATE)

    await asyncio.gather(cutter(), *(writer(w) for w in range(4)))
    assert cut > 0  # the service's connections were there to cut
    unexpected = [a for a in answers if not (200 <= a[0] < 300 or a[0] == 503)]
    assert unexpected == []
    assert all(retry_after for status, retry_after, _ in answers if status == 503)
    assert any(200 <= status < 300 for status, _, _ in answers)

    # Nothing left behind: the relay (and its listener) came back by itself and published all.
    async def drained() -> bool:
        pending: int = await accounts_db.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        return pending == 0

    await eventually(drained, within=30)

    async def ready() -> bool:
        async with platform.http.get(f"{platform.urls['accounts']}/readyz") as response:
            return response.status == 200

    await eventually(ready, within=30)
