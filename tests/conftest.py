"""Fixtures shared by the integration and end-to-end tests: the real PostgreSQL and RabbitMQ,
with databases and an exchange of their own so a running `make run` is never touched."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest

from deploy.provision import deprovision, provision, remove_leftover_test_roles
from services.common.broker import dead_letter_exchange, dead_letter_queue, queue_name
from services.common.settings import DEFAULT_AMQP_URL, DEFAULT_PG_SERVER
from tests.support import INTEGRATION_EXCHANGE, RUN_ID, TEST_EXCHANGE, TEST_PLAN

SERVICES = ("gateway", "accounts", "activities", "documents", "audit")
EXTRA_QUEUES = ("probe", "consumer-test", "dead-letter-test", "replay-test")


@pytest.fixture(scope="session")
async def infrastructure() -> AsyncIterator[None]:
    """Fail loudly, with the remedy, when PostgreSQL or RabbitMQ is not running."""
    try:
        conn = await asyncpg.connect(f"{DEFAULT_PG_SERVER}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc}); run deploy/ensure-infra.sh"
        )
    # Each run has databases of its own (crm_test_<run>_*, never the `make run` ones), and
    # holds its run's advisory lock on this connection while it lasts: the databases of runs
    # whose lock is free (ended, or killed) go, those of runs going on alongside stay.
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"crm_test_{RUN_ID}")
    # (a database someone is connected to is left alone: DROP would wait 5 s, then fail)
    names = await conn.fetch(
        "SELECT datname FROM pg_database d WHERE datname LIKE 'crm\\_test\\_%'"
        " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
    )
    runs = {row["datname"].split("_")[2] for row in names} - {RUN_ID}
    for run in sorted(runs):
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"crm_test_{run}"):
            continue  # that run is going on
        try:
            for row in names:
                if row["datname"].startswith(f"crm_test_{run}_"):
                    quoted = await conn.fetchval("SELECT quote_ident($1)", row["datname"])
                    with contextlib.suppress(asyncpg.ObjectInUseError):
                        await conn.execute(f"DROP DATABASE IF EXISTS {quoted}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"crm_test_{run}")
    try:
        amqp = await aio_pika.connect(DEFAULT_AMQP_URL, timeout=5)
    except Exception as exc:
        pytest.fail(
            f"RabbitMQ is not reachable on 127.0.0.1:5672 ({exc}); run deploy/ensure-infra.sh"
        )
    await amqp.close()
    # This run's roles, databases and broker users (crm_test_<run>_<service>), as `make run`
    # makes its own; those of earlier runs whose databases are gone are removed first.
    await remove_leftover_test_roles()
    await provision(TEST_PLAN)
    try:
        yield
    finally:
        await _remove_test_topology()
        await _drop_run_databases()
        await deprovision(TEST_PLAN)
        await conn.close()


async def _drop_run_databases() -> None:
    conn = await asyncpg.connect(f"{DEFAULT_PG_SERVER}/postgres")
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"crm\\_test\\_{RUN_ID}\\_%"
        )
        for row in names:
            quoted = await conn.fetchval("SELECT quote_ident($1)", row["datname"])
            with contextlib.suppress(asyncpg.ObjectInUseError):
                await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        await conn.close()


async def _remove_test_topology() -> None:
    """Durable queues outlive the run: delete this run's exchange and queues."""
    connection = await aio_pika.connect(DEFAULT_AMQP_URL)
    async with connection:
        for events in (TEST_EXCHANGE, INTEGRATION_EXCHANGE):
            for name in (*SERVICES, *EXTRA_QUEUES):
                for queue in (queue_name(events, name), dead_letter_queue(events, name)):
                    channel = await connection.channel()
                    with contextlib.suppress(aio_pika.exceptions.AMQPError):
                        await channel.queue_delete(queue)
            for exchange in (events, dead_letter_exchange(events)):
                channel = await connection.channel()
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await channel.exchange_delete(exchange)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for kind in ("integration", "e2e", "contract", "faults"):
            if f"/tests/{kind}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, kind))
    # The contract tests fill the shared databases with generated data: they run last, but for
    # the fault suite, which stops the broker every test shares.
    items.sort(
        key=lambda item: ("/tests/faults/" in str(item.path), "/tests/contract/" in str(item.path))
    )


# The running platform (for the e2e and contract tests): one instance for the whole session.
from tests.platform import accounts_db, admin, gateway_db, platform, user  # noqa: E402, F401
