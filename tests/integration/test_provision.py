"""deploy/provision.py against the real PostgreSQL and RabbitMQ: idempotent, quick, and it
hands over a database an earlier version migrated as the superuser."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from deploy.provision import COMPONENTS, Plan, deprovision, provision, service_environment
from services.common.db import prepare_database
from services.common.settings import database_url_for
from tests.support import isolated_database_url, run_plan


@pytest.fixture
async def audit_only(infrastructure: None) -> AsyncIterator[Plan]:
    full = run_plan("prov_")
    plan = Plan(
        {"audit": full.db_passwords["audit"]},
        {"audit": full.amqp_passwords["audit"]},
        prefix=full.prefix,
        exchange=full.exchange,
        services=("audit",),
    )
    yield plan
    await deprovision(plan)


async def test_a_database_migrated_as_the_superuser_is_handed_over_to_its_roles(
    audit_only: Plan,
) -> None:
    superuser_url = isolated_database_url("prov_audit")
    await prepare_database(superuser_url, COMPONENTS["audit"])  # owned by postgres
    started = time.perf_counter()
    await provision(audit_only)
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert await provision(audit_only) == []  # idempotent: nothing left to apply
    again = time.perf_counter() - started
    print(f"provision (one service): {first:.2f} s, again {again:.2f} s, {audit_only.timings}")

    conn = await asyncpg.connect(superuser_url)
    try:
        owners = dict(
            await conn.fetch(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"
            )
        )
    finally:
        await conn.close()
    assert set(owners.values()) == {audit_only.owner("audit")}
    assert {"audit_entries", "audit_rejections", "inbox", "outbox"} <= set(owners)

    role_url = database_url_for("audit", audit_only.db_passwords["audit"], audit_only.prefix)
    assert service_environment(audit_only)["CRM_AUDIT_DATABASE_URL"] == role_url
    assert await prepare_database(role_url, COMPONENTS["audit"]) == []
    conn = await asyncpg.connect(role_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit_rejections") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_entries")
    finally:
        await conn.close()
