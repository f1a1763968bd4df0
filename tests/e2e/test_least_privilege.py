"""Least privilege, against the real PostgreSQL and RabbitMQ: each service's role and broker user
can do what the service needs and no more; events count only from their owner; the audit trail
chains only versions that follow one another."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiormq
import asyncpg
import orjson
import pytest

from deploy.provision import COMPONENTS
from services.common.broker import dead_letter_queue
from services.common.db import prepare_database
from services.common.events import encode, make_event
from services.common.settings import DEFAULT_AMQP_URL
from tests.platform import Platform
from tests.support import (
    TEST_EXCHANGE,
    TEST_PREFIX,
    eventually,
    isolated_database_url,
    role_amqp_url,
    role_database_url,
)

REASON_HEADER = "x-crm-dead-letter-reason"


async def create_account(platform: Platform, admin: dict[str, str], name: str) -> dict[str, Any]:
    status, body, _ = await platform.call("POST", "/api/v1/accounts", admin, json={"name": name})
    assert status == 201, body
    return dict(body)


async def trail(platform: Platform, admin: dict[str, str], account_id: str) -> list[Any]:
    status, body, _ = await platform.call("GET", f"/api/v1/accounts/{account_id}/audit", admin)
    return list(body) if status == 200 else []


async def replica_version(account_id: str) -> int | None:
    conn = await asyncpg.connect(isolated_database_url("activities"))
    try:
        version: int | None = await conn.fetchval(
            "SELECT version FROM record_refs WHERE entity = 'account' AND id = $1",
            uuid.UUID(account_id),
        )
        return version
    finally:
        await conn.close()


def forged_update(account: dict[str, Any], version: int, actor: str) -> aio_pika.Message:
    record = {**account, "version": version, "name": "Compte détourné"}
    event = make_event(
        source="/services/accounts",
        entity="account",
        change="updated",
        record=record,
        actor=actor,
        changes={},
        at=datetime.now(UTC),
    )
    return aio_pika.Message(encode(event), message_id=str(event.id))


async def publish(url: str, message: aio_pika.Message, routing_key: str) -> None:
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(TEST_EXCHANGE, ensure=False)
        await exchange.publish(message, routing_key=routing_key)


async def dead_lettered(service: str, message_id: str) -> aio_pika.abc.AbstractIncomingMessage:
    """The message ``message_id`` from ``service``'s dead-letter queue (others put back)."""

    async def probe() -> aio_pika.abc.AbstractIncomingMessage | None:
        connection = await aio_pika.connect(DEFAULT_AMQP_URL, timeout=10)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(
                dead_letter_queue(TEST_EXCHANGE, service), passive=True
            )
            found = None
            seen: list[aio_pika.abc.AbstractIncomingMessage] = []
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                seen.append(message)
                if message.message_id == message_id:
                    found = message
                    break
            for message in seen:
                if message is found:
                    await message.ack()
                else:
                    await message.nack(requeue=True)
            return found

    return await eventually(probe, within=20, every=0.2)


def reason_of(message: aio_pika.abc.AbstractIncomingMessage) -> str:
    return str((message.headers or {}).get(REASON_HEADER, ""))


async def test_a_forged_event_is_dead_lettered_and_changes_neither_audit_nor_replica(
    platform: Platform, admin: dict[str, str]
) -> None:
    account = await create_account(platform, admin, "Fromagerie Mallory")
    await eventually(lambda: trail(platform, admin, account["id"]))
    assert await eventually(lambda: replica_version(account["id"])) == 1
    # guest (any process that can reach the broker) and documents (a service, not the owner,
    # sending an account event under a routing key it may publish: quote.accepted).
    by_guest = forged_update(account, 99, "mallory")
    by_guest.user_id = "guest"  # what RabbitMQ lets guest say (without it: "sans éditeur")
    await publish(DEFAULT_AMQP_URL, by_guest, "account.updated")
    by_documents = forged_update(account, 2, "mallory")
    by_documents.user_id = f"{TEST_PREFIX}documents"
    await publish(role_amqp_url("documents"), by_documents, "quote.accepted")

    for service in ("audit", "activities"):
        refused = await dead_lettered(service, str(by_guest.message_id))
        assert reason_of(refused) == (
            f"événement account publié par « guest » : seul {TEST_PREFIX}accounts peut le publier"
        )
    refused = await dead_lettered("audit", str(by_documents.message_id))
    assert f"publié par « {TEST_PREFIX}documents »" in reason_of(refused)

    entries = await trail(platform, admin, account["id"])
    assert [e["actor"] for e in entries] == ["admin"]
    assert await replica_version(account["id"]) == 1
    status, check, _ = await platform.call(
        "GET", f"/api/v1/accounts/{account['id']}/audit/verify", admin
    )
    assert status == 200
    assert check["valid"] is True
    assert check["rejected"] == []


async def test_an_event_whose_version_skips_is_refused_flagged_and_reported(
    platform: Platform, admin: dict[str, str]
) -> None:
    """Even from the owner's own user: version 99 after version 1 is not chained."""
    account = await create_account(platform, admin, "Quincaillerie des Sauts")
    await eventually(lambda: trail(platform, admin, account["id"]))
    skipping = forged_update(account, 99, "admin")
    skipping.user_id = f"{TEST_PREFIX}accounts"
    await publish(role_amqp_url("accounts"), skipping, "account.updated")
    path = f"/api/v1/accounts/{account['id']}/audit/verify"

    async def reported() -> dict[str, Any] | None:
        status, check, _ = await platform.call("GET", path, admin)
        return dict(check) if status == 200 and check["rejected"] else None

    check = await eventually(reported, within=20)
    assert check["valid"] is True  # the chain itself is intact
    assert check["entries"] == 1
    [rejected] = check["rejected"]
    assert rejected["version"] == 99
    assert rejected["last_version"] == 1
    assert rejected["event_id"] == skipping.message_id
    assert "2 attendue" in rejected["reason"]
    assert [e["version"] for e in await trail(platform, admin, account["id"])] == [1]
    # The next real change (version 2) still follows.
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/accounts/{account['id']}", admin, json={"employees": 3}
    )
    assert status == 200
    entries = await eventually(lambda: _longer(trail(platform, admin, account["id"]), 1), within=20)
    assert [e["version"] for e in entries] == [2, 1]


async def test_an_event_that_came_just_before_its_predecessor_is_chained_after_it(
    platform: Platform, admin: dict[str, str]
) -> None:
    """Version 3 arriving before version 2 (a retried event comes back behind the next) is held
    back, then chained once version 2 is: nothing is lost, nothing is reported."""
    account = await create_account(platform, admin, "Épicerie du Retour")
    await eventually(lambda: trail(platform, admin, account["id"]))
    third, second = forged_update(account, 3, "admin"), forged_update(account, 2, "admin")
    for message in (third, second):
        message.user_id = f"{TEST_PREFIX}accounts"
        await publish(role_amqp_url("accounts"), message, "account.updated")
    entries = await eventually(lambda: _longer(trail(platform, admin, account["id"]), 2), within=20)
    assert [e["version"] for e in entries] == [3, 2, 1]
    assert [e["event_id"] for e in entries[:2]] == [third.message_id, second.message_id]
    status, check, _ = await platform.call(
        "GET", f"/api/v1/accounts/{account['id']}/audit/verify", admin
    )
    assert status == 200
    assert check["valid"] is True
    assert check["rejected"] == []


async def _longer(entries: Any, than: int) -> list[Any] | None:
    found = await entries
    return found if len(found) > than else None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor = 'mallory'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update",
        "DROP TRIGGER audit_entries_no_update ON audit_entries",
        "DROP TABLE audit_entries",
        "UPDATE audit_rejections SET reason = ''",
        "DELETE FROM audit_rejections",
    ],
)
async def test_the_audit_role_cannot_change_or_remove_the_trail(
    platform: Platform, statement: str
) -> None:
    conn = await asyncpg.connect(role_database_url("audit"))
    try:
        assert await conn.fetchval("SELECT current_user") == f"{TEST_PREFIX}audit"
        await conn.fetchval("SELECT count(*) FROM audit_entries")  # it reads its trail
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_the_audit_role_cannot_drop_its_database(platform: Platform) -> None:
    url = role_database_url("audit").rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'DROP DATABASE "{TEST_PREFIX}audit"')
    finally:
        await conn.close()


@pytest.mark.parametrize(("role", "database"), [("accounts", "audit"), ("audit", "gateway")])
async def test_a_service_role_cannot_connect_to_another_services_database(
    platform: Platform, role: str, database: str
) -> None:
    url = role_database_url(role).rsplit("/", 1)[0] + f"/{TEST_PREFIX}{database}"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(url)


async def test_services_find_their_databases_ready_and_change_nothing(platform: Platform) -> None:
    for service in ("audit", "accounts"):
        assert await prepare_database(role_database_url(service), COMPONENTS[service]) == []


@pytest.mark.parametrize(
    ("service", "routing_key", "user_id", "refusal"),
    [
        # another service's routing key, or any for the audit service (it publishes nothing)
        ("documents", "account.updated", "documents", aiormq.exceptions.ChannelAccessRefused),
        ("audit", "account.updated", "audit", aiormq.exceptions.ChannelAccessRefused),
        # its own routing key under someone else's user_id
        ("documents", "quote.updated", "accounts", aiormq.exceptions.ChannelPreconditionFailed),
    ],
)
async def test_a_broker_user_cannot_publish_what_it_does_not_own(
    platform: Platform,
    service: str,
    routing_key: str,
    user_id: str,
    refusal: type[Exception],
) -> None:
    connection = await aio_pika.connect(role_amqp_url(service), timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(TEST_EXCHANGE, ensure=False)
        message = aio_pika.Message(b"{}", user_id=f"{TEST_PREFIX}{user_id}")
        with pytest.raises(refusal):
            await exchange.publish(message, routing_key=routing_key, timeout=10)


async def test_a_broker_user_reads_only_its_own_queues(platform: Platform) -> None:
    connection = await aio_pika.connect(role_amqp_url("documents"), timeout=10)
    async with connection:
        channel = await connection.channel()
        audit_queue = await channel.get_queue(f"{TEST_EXCHANGE}.audit", ensure=False)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await audit_queue.get(fail=False)


@pytest.mark.parametrize("service", ["accounts", "gateway", "audit"])
async def test_a_broker_user_cannot_delete_or_redeclare_the_exchanges(
    platform: Platform, service: str
) -> None:
    """Provisioning declares the exchanges; services only look them up (needs no permission)."""
    connection = await aio_pika.connect(role_amqp_url(service), timeout=10)
    async with connection:
        for name in (TEST_EXCHANGE, f"{TEST_EXCHANGE}.dead-letter"):
            channel = await connection.channel()
            await channel.declare_exchange(name, passive=True)  # looking it up is allowed
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                await channel.exchange_delete(name)
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True)


async def test_a_service_role_must_give_its_password(platform: Platform) -> None:
    """Where pg_hba.conf asks crm_services members for a password (deploy/ensure-infra.sh)."""
    conn = await asyncpg.connect(isolated_database_url("audit"))
    try:
        rules = await conn.fetchval(
            "SELECT count(*) FROM pg_hba_file_rules WHERE '+crm_services' = ANY(user_name)"
        )
    finally:
        await conn.close()
    # make test runs deploy/ensure-infra.sh first, which sets the rule: without it, a role's
    # password would not be asked for, and that is what this test is about.
    assert rules, "pg_hba.conf trusts every role on loopback: run deploy/ensure-infra.sh"
    wrong = role_database_url("audit").replace(f"{TEST_PREFIX}audit:", f"{TEST_PREFIX}audit:x")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)


async def test_an_event_about_a_record_id_that_is_not_a_uuid_is_dead_lettered(
    platform: Platform,
) -> None:
    """Even from the owner: it would have started a chain of its own in the audit trail."""
    body = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/services/accounts",
        "type": "crm.account.updated.v1",
        "time": "2026-11-29T10:00:00Z",
        "subject": "compte-42",
        "datacontenttype": "application/json",
        "data": {
            "entity": "account",
            "id": "compte-42",
            "version": 1,
            "actor": "mallory",
            "changes": {},
            "record": {"id": "compte-42", "version": 1},
        },
    }
    message = aio_pika.Message(
        orjson.dumps(body), message_id=str(body["id"]), user_id=f"{TEST_PREFIX}accounts"
    )
    await publish(role_amqp_url("accounts"), message, "account.updated")
    refused = await dead_lettered("audit", str(body["id"]))
    assert "data.id" in reason_of(refused)
    conn = await asyncpg.connect(isolated_database_url("audit"))
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM audit_entries WHERE record_id = 'compte-42'"
        )
    finally:
        await conn.close()
    assert found == 0
