"""crm-admin against the running services, the real PostgreSQL and RabbitMQ: users it creates,
resets and deactivates are what the gateway sees; dead-lettered events are listed without being
lost and replayed into their service; audit chains are verified; the backlog is shown."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest

from deploy.seed import SeedSkipped, seed_demo
from services.admin import dlq as dead_letters
from services.admin.cli import run
from services.admin.config import AdminConfig
from services.common.broker import dead_letter_exchange, dead_letter_queue, queue_name
from services.common.db import prepare_database
from services.common.events import FieldChange, encode, make_event
from services.common.settings import DEFAULT_AMQP_URL
from tests.platform import Platform
from tests.support import (
    RUN_ID,
    TEST_EXCHANGE,
    TEST_PREFIX,
    eventually,
    isolated_database_url,
    role_amqp_url,
)

PASSWORD = "Un-mot-de-passe-solide-42"


def config(platform: Platform, amqp_admin_url: str = DEFAULT_AMQP_URL) -> AdminConfig:
    """What crm-admin would read from the services' environment, for this run's platform."""
    return AdminConfig(
        database_urls={name: s.database_url for name, s in platform.settings.items()},
        amqp_url=DEFAULT_AMQP_URL,
        amqp_admin_url=amqp_admin_url,
        exchange=TEST_EXCHANGE,
        broker_user_prefix=TEST_PREFIX,
    )


async def admin_cli(
    platform: Platform, *argv: str, stdin: str = "", amqp_admin_url: str = DEFAULT_AMQP_URL
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(
        argv,
        config=config(platform, amqp_admin_url),
        stdin=io.StringIO(stdin),
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


async def login_status(platform: Platform, username: str, password: str) -> int:
    status, _, _ = await platform.call(
        "POST", "/api/v1/auth/login", json={"username": username, "password": password}
    )
    return status


async def rabbitmqctl(*args: str, check: bool = True) -> bool:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0 or not check, output.decode()
    return process.returncode == 0


OPERATOR = f"crm_test_{RUN_ID}_operator"


@pytest.fixture(scope="module")
async def impersonator(platform: Platform) -> AsyncIterator[str]:
    """A broker URL of an operators' user tagged impersonator, as `make run` provisions one
    (crm-admin): it may republish a message in the name of the service that published it."""
    name, password = OPERATOR, secrets.token_urlsafe(18)
    await rabbitmqctl("add_user", name, password)
    try:
        await rabbitmqctl("set_user_tags", name, "impersonator")
        await rabbitmqctl("set_permissions", "-p", "/", name, ".*", ".*", ".*")
        yield f"amqp://{name}:{password}@127.0.0.1:5672/"
    finally:
        # Never leave an impersonator behind, even if the broker is being restarted meanwhile.
        await eventually(lambda: rabbitmqctl("delete_user", name, check=False), within=60, every=1)


# --- users ---------------------------------------------------------------------------------


async def test_a_user_created_by_crm_admin_logs_in_and_the_creation_is_audited(
    platform: Platform, admin: dict[str, str]
) -> None:
    username = f"lea-{uuid.uuid4().hex[:8]}"
    code, out, err = await admin_cli(
        platform, "user", "create", username, "--role", "user", "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    assert f"Utilisateur « {username} » créé (rôle user" in out
    assert PASSWORD not in out
    await platform.login(username, PASSWORD)

    status, users, _ = await platform.call("GET", "/api/v1/users?limit=200", admin)
    assert status == 200
    (user,) = [u for u in users["items"] if u["username"] == username]
    assert user["role"] == "user"
    assert user["created_by"] == "crm-admin"

    async def trail() -> list[dict[str, Any]]:
        status, body, _ = await platform.call("GET", f"/api/v1/users/{user['id']}/audit", admin)
        return body if status == 200 else []

    (entry,) = await eventually(trail)
    assert (entry["actor"], entry["action"]) == ("crm-admin", "created")

    # The same name again, or a password the gateway would refuse: 1, said in one line.
    code, out, err = await admin_cli(
        platform, "user", "create", username, "--role", "user", "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )  # fmt: skip
    assert code == 1
    assert err == f"L'identifiant « {username} » est déjà pris.\n"
    code, out, err = await admin_cli(
        platform, "user", "create", f"x{username}", "--role", "user", "--password-stdin",
        stdin="court\n",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("Refusé : password")
    assert await login_status(platform, f"x{username}", "court") == 401


async def test_a_generated_password_is_printed_once_and_works(platform: Platform) -> None:
    username = f"marc-{uuid.uuid4().hex[:8]}"
    code, out, _ = await admin_cli(platform, "user", "create", username, "--role", "readonly")
    assert code == 0
    prefix = "Mot de passe généré (affiché une seule fois) : "
    (line,) = [line for line in out.splitlines() if line.startswith(prefix)]
    await platform.login(username, line.removeprefix(prefix))


async def test_reset_password_lets_the_user_in_with_the_new_one_only(
    platform: Platform, admin: dict[str, str]
) -> None:
    username = f"paul-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "user"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    token = await platform.login(username, PASSWORD)

    new_password = "Un-tout-autre-mot-de-passe-7"
    code, out, err = await admin_cli(
        platform, "user", "reset-password", username.upper(), "--password-stdin",
        stdin=f"{new_password}\n",
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    assert "ses sessions ouvertes sont terminées" in out
    await platform.login(username, new_password)
    assert await login_status(platform, username, PASSWORD) == 401

    async def token_refused() -> bool:
        status, _, _ = await platform.call("GET", "/api/v1/users/me", token)
        return status == 401

    await eventually(token_refused, within=5)

    code, out, _ = await admin_cli(platform, "user", "reset-password", username)
    assert code == 0
    prefix = "Nouveau mot de passe (affiché une seule fois) : "
    (line,) = [line for line in out.splitlines() if line.startswith(prefix)]
    await platform.login(username, line.removeprefix(prefix))
    assert await login_status(platform, username, new_password) == 401

    code, out, err = await admin_cli(platform, "user", "reset-password", "personne-ici")
    assert (code, out) == (1, "")
    assert err == "Aucun utilisateur « personne-ici ».\n"


async def test_a_deactivated_user_can_no_longer_log_in_nor_use_their_token(
    platform: Platform, admin: dict[str, str]
) -> None:
    username = f"ines-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "user"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    token = await platform.login(username, PASSWORD)
    status, _, _ = await platform.call("GET", "/api/v1/users/me", token)
    assert status == 200

    code, out, err = await admin_cli(platform, "user", "deactivate", username)
    assert (code, err) == (0, ""), out
    assert "désactivé" in out
    assert await login_status(platform, username, PASSWORD) == 401

    async def token_refused() -> bool:
        status, _, _ = await platform.call(
            "POST", "/api/v1/accounts", token, json={"name": "Après désactivation"}
        )
        return status == 401

    await eventually(token_refused, within=5)

    code, out, _ = await admin_cli(platform, "user", "deactivate", username)
    assert code == 0
    assert "déjà désactivé" in out


# --- dead letters --------------------------------------------------------------------------


async def consumer_copy(service: str, message: aio_pika.Message) -> None:
    """Publish ``message`` to the dead-letter exchange as ``service``'s consumer does: as the
    service's broker user (``message.user_id`` must be that user: RabbitMQ checks it)."""
    async with await aio_pika.connect(role_amqp_url(service), timeout=10) as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(dead_letter_exchange(TEST_EXCHANGE), ensure=False)
        await exchange.publish(message, routing_key=queue_name(TEST_EXCHANGE, service))


async def dead_letter(
    connection: aio_pika.abc.AbstractConnection, service: str, message: aio_pika.Message
) -> None:
    """Have the broker itself dead-letter ``message`` for ``service`` (it expires at once in a
    queue whose dead letters go where the service's do), so it carries a real x-death and keeps
    its user_id, as a message the broker dead-letters after too many deliveries does."""
    channel = await connection.channel()
    doomed = await channel.declare_queue(
        exclusive=True,
        arguments={
            "x-message-ttl": 0,
            "x-dead-letter-exchange": dead_letter_exchange(TEST_EXCHANGE),
            "x-dead-letter-routing-key": queue_name(TEST_EXCHANGE, service),
        },
    )
    await channel.default_exchange.publish(message, routing_key=doomed.name)
    await channel.close()


async def test_a_dead_lettered_event_is_listed_with_its_reason_then_replayed_and_applied(
    platform: Platform, admin: dict[str, str], impersonator: str
) -> None:
    # A genuine event, as the accounts service published it (its user_id included).
    async with await aio_pika.connect(impersonator) as connection:
        channel = await connection.channel()
        probe = await channel.declare_queue(exclusive=True)
        await probe.bind(TEST_EXCHANGE, routing_key="account.created")
        status, account, _ = await platform.call(
            "POST", "/api/v1/accounts", admin, json={"name": "Lettre morte SARL"}
        )
        assert status == 201, account

        async def captured() -> aio_pika.abc.AbstractIncomingMessage | None:
            message = await probe.get(no_ack=True, fail=False)
            if message is not None and account["id"] not in message.body.decode():
                return None
            return message

        original = await eventually(captured)
        event_id = original.message_id
        assert event_id

        # activities applied it; make it as if it never had, then dead-letter a copy for it.
        activities = await asyncpg.connect(isolated_database_url("activities"))
        try:

            async def replica(must_exist: bool) -> bool:
                row = await activities.fetchval(
                    "SELECT 1 FROM record_refs WHERE entity = 'account' AND id = $1",
                    uuid.UUID(account["id"]),
                )
                return (row is not None) == must_exist

            await eventually(lambda: replica(True))
            async with activities.transaction():
                await activities.execute(
                    "DELETE FROM record_refs WHERE entity = 'account' AND id = $1",
                    uuid.UUID(account["id"]),
                )
                await activities.execute(
                    "DELETE FROM inbox WHERE event_id = $1", uuid.UUID(event_id)
                )
            # As the consumer dead-letters it (services/common/consumer.py): published by the
            # service's own broker user (user_id, checked by RabbitMQ), the original publisher
            # and the reason in headers.
            reason = "test : le gestionnaire a échoué 5 fois"
            assert original.user_id == f"{TEST_PREFIX}accounts"
            await consumer_copy(
                "activities",
                aio_pika.Message(
                    original.body,
                    headers={
                        "x-crm-dead-letter-reason": reason,
                        "x-crm-original-user-id": original.user_id,
                        "x-crm-service": "activities",
                        "x-crm-dead-lettered-at": "2026-11-29T17:00:00+00:00",
                    },
                    content_type=original.content_type,
                    message_id=event_id,
                    user_id=f"{TEST_PREFIX}activities",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
            )

            async def listed() -> str | None:
                code, out, _ = await admin_cli(platform, "dlq", "list", "activities")
                return out if code == 0 and event_id in out else None

            out = await eventually(listed)
            assert f"crm.test-{RUN_ID}.activities.dead-letter : " in out
            assert reason in out
            assert "crm.account.created.v1" in out
            assert "non fiable" not in out
            # Listing twice loses nothing.
            code, again, _ = await admin_cli(platform, "dlq", "list", "activities")
            assert code == 0
            assert event_id in again

            code, shown, _ = await admin_cli(platform, "dlq", "show", "activities", event_id)
            assert code == 0
            assert "x-crm-dead-letter-reason" in shown
            assert "actor : admin" in shown
            assert "version : 1" in shown
            assert f"subject : {account['id']}" in shown
            assert f"user_id : {original.user_id}" in shown
            assert f"copie du consommateur « {TEST_PREFIX}activities »" in shown

            # A broker user that may not publish in the service's name: refused, kept.
            code, out, err = await admin_cli(platform, "dlq", "replay", "activities", event_id)
            assert code == 1, out
            assert "impersonator" in err
            code, out, _ = await admin_cli(platform, "dlq", "list", "activities")
            assert event_id in out

            code, out, err = await admin_cli(
                platform, "dlq", "replay", "activities", event_id, amqp_admin_url=impersonator
            )
            assert (code, err) == (0, ""), out
            assert f"Rejoué : {event_id} → crm.test-{RUN_ID}.activities" in out
            await eventually(lambda: replica(True))
            code, out, _ = await admin_cli(platform, "dlq", "list", "activities")
            assert event_id not in out

            code, out, err = await admin_cli(platform, "dlq", "replay", "activities", event_id)
            assert code == 1
            assert f"Aucun message « {event_id} »" in err
        finally:
            await activities.close()


async def test_replay_all_moves_every_dead_letter_back_to_its_queue(
    platform: Platform, impersonator: str
) -> None:
    """Unknown entities and bodies that are not events, dead-lettered by the broker: replayed as
    they are, with their publisher, and counted."""
    async with await aio_pika.connect(impersonator) as connection:
        # A queue of its own for the test, with the topology of a service's.
        service = "replay-test"  # not dead-letter-test: the consumer tests declare it quorum
        channel = await connection.channel()
        dlx = await channel.declare_exchange(
            dead_letter_exchange(TEST_EXCHANGE), aio_pika.ExchangeType.DIRECT, durable=True
        )
        dlq = await channel.declare_queue(dead_letter_queue(TEST_EXCHANGE, service), durable=True)
        await dlq.bind(dlx, routing_key=queue_name(TEST_EXCHANGE, service))
        target = await channel.declare_queue(queue_name(TEST_EXCHANGE, service), durable=True)
        await target.purge()
        await dlq.purge()
        bodies = [b"not json", b'{"id": "x", "type": "crm.thing.created.v1"}']
        for body in bodies:
            await dead_letter(
                connection, service, aio_pika.Message(body, message_id=None, user_id=OPERATOR)
            )

        async def dead_count() -> bool:
            declared = await channel.declare_queue(dlq.name, passive=True)
            return declared.declaration_result.message_count == len(bodies)

        await eventually(dead_count)
        cfg = config(platform, impersonator)
        async with await aio_pika.connect(impersonator) as admin_connection:
            count, letters = await dead_letters.read(
                admin_connection, TEST_EXCHANGE, service, cfg.broker_user(service)
            )
            assert count == len(bodies)
            assert all(letter["trusted"] for letter in letters)
            assert {letter["properties"]["user_id"] for letter in letters} == {OPERATOR}
            assert [letter["event"].get("type") for letter in letters] == [
                None,
                "crm.thing.created.v1",
            ]
            assert len({letter["id"] for letter in letters}) == len(bodies)
            replayed = await dead_letters.replay(
                admin_connection, cfg.exchange, service, cfg.broker_user(service), ident=None
            )
        assert len(replayed) == len(bodies)
        received = []
        for _ in bodies:
            message = await eventually(lambda: target.get(no_ack=True, fail=False))
            received.append(message)
        assert [message.body for message in received] == bodies
        assert {message.user_id for message in received} == {OPERATOR}
        declared = await channel.declare_queue(dlq.name, passive=True)
        assert declared.declaration_result.message_count == 0


async def test_a_dead_letter_put_there_by_another_service_is_not_trusted_nor_audited(
    platform: Platform, admin: dict[str, str], impersonator: str
) -> None:
    """The forgery: a broker user allowed to write to the dead-letter exchange (activities')
    drops there an account event with the header that names the accounts service as its
    publisher; an operator's replay (crm-admin may publish in anyone's name) must not turn that
    header into the user_id the audit service trusts."""
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Lettre forgée SA"}
    )
    assert status == 201, account

    async def trail() -> list[dict[str, Any]]:
        status, body, _ = await platform.call(
            "GET", f"/api/v1/accounts/{account['id']}/audit", admin
        )
        return body if status == 200 else []

    assert len(await eventually(trail)) == 1
    forged = [
        make_event(
            source="/services/accounts",
            entity="account",
            change="updated",
            record={**account, "name": "Compte piraté", "version": account["version"] + 1},
            actor="mallory",
            changes={"name": FieldChange(old=account["name"], new="Compte piraté")},
        )
        for _ in range(2)
    ]
    headers: aio_pika.abc.HeadersType = {
        "x-crm-original-user-id": f"{TEST_PREFIX}accounts",
        "x-crm-dead-letter-reason": "échec du traitement (5 tentatives) : TimeoutError: ",
        "x-crm-service": "audit",
    }
    async with await aio_pika.connect(role_amqp_url("activities"), timeout=10) as connection:
        channel = await connection.channel(publisher_confirms=True)
        dlx = await channel.get_exchange(dead_letter_exchange(TEST_EXCHANGE), ensure=False)
        # Without user_id, and with its own (the only one RabbitMQ lets it set): both acked.
        for event, user_id in zip(forged, (None, f"{TEST_PREFIX}activities"), strict=True):
            await dlx.publish(
                aio_pika.Message(
                    encode(event),
                    headers=headers,
                    content_type="application/cloudevents+json",
                    message_id=str(event.id),
                    user_id=user_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue_name(TEST_EXCHANGE, "audit"),
            )

    for event in forged:
        code, shown, _ = await admin_cli(platform, "dlq", "show", "audit", str(event.id))
        assert code == 0, shown
        assert "Éditeur : inconnu / non fiable" in shown, shown
        assert f"user_id : {TEST_PREFIX}accounts" not in shown, shown
    code, listing, _ = await admin_cli(platform, "dlq", "list", "audit")
    assert code == 0
    assert "éditeur inconnu / non fiable" in listing

    # The operator's replay refuses them, says why, and keeps them.
    for event in forged:
        code, out, err = await admin_cli(
            platform, "dlq", "replay", "audit", str(event.id), amqp_admin_url=impersonator
        )
        assert code == 1, out
        assert err.startswith("Rien n'a été rejoué : éditeur inconnu ou non fiable"), err
        assert "--force" in err
    code, listing, _ = await admin_cli(platform, "dlq", "list", "audit")
    assert all(str(event.id) in listing for event in forged)

    # Forced, they go back without user_id: the audit service refuses them again.
    for event in forged:
        code, out, err = await admin_cli(
            platform, "dlq", "replay", "audit", str(event.id), "--force",
            amqp_admin_url=impersonator,
        )  # fmt: skip
        assert (code, err) == (0, ""), out

        async def refused_again(event_id: str = str(event.id)) -> str | None:
            code, shown, _ = await admin_cli(platform, "dlq", "show", "audit", event_id)
            return shown if code == 0 and "sans éditeur (user_id)" in shown else None

        shown = await eventually(refused_again, within=20, every=0.2)
        assert f"copie du consommateur « {TEST_PREFIX}audit »" in shown
        assert "user_id : " not in shown  # the original had none: nothing to restore
    entries = await trail()
    assert [(e["version"], e["actor"]) for e in entries] == [(1, "admin")]
    status, check, _ = await platform.call(
        "GET", f"/api/v1/accounts/{account['id']}/audit/verify", admin
    )
    assert status == 200
    assert check["valid"] is True


# --- audit ---------------------------------------------------------------------------------


async def test_audit_verify_passes_on_true_chains_and_names_a_tampered_one(
    platform: Platform, admin: dict[str, str]
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Chaîne intègre SA"}
    )
    assert status == 201

    async def audited() -> bool:
        status, _, _ = await platform.call("GET", f"/api/v1/accounts/{account['id']}/audit", admin)
        return status == 200

    await eventually(audited)
    code, out, _ = await admin_cli(platform, "audit", "verify")
    assert code == 0, out
    assert "toutes intègres" in out
    code, out, _ = await admin_cli(
        platform, "audit", "verify", "--entity", "account", "--id", account["id"].upper()
    )
    assert code == 0, out
    assert out.startswith("1 chaîne(s) vérifiée(s), 1 entrées")

    # Tampering needs the superuser and the trigger out of the way (the role cannot update).
    superuser = await asyncpg.connect(isolated_database_url("audit"))
    tamper = "UPDATE audit_entries SET actor = $2 WHERE record_id = $1 AND seq = 1"
    try:
        await superuser.execute("SET session_replication_role = replica")
        await superuser.execute(tamper, account["id"], "mallory")
        code, out, _ = await admin_cli(platform, "audit", "verify")
        assert code == 1
        assert f"ROMPUE  account {account['id']} : entrée 1 sur 1, contenu modifié" in out
        assert "1 chaîne(s) rompue(s)" in out
    finally:
        await superuser.execute(tamper, account["id"], "admin")
        await superuser.close()
    code, out, _ = await admin_cli(platform, "audit", "verify", "--id", account["id"])
    assert code == 0, out

    code, out, _ = await admin_cli(platform, "audit", "verify", "--id", str(uuid.uuid4()))
    assert code == 1
    assert out == "Aucune chaîne d'audit ne correspond.\n"


# --- status, and the command as operators run it -------------------------------------------


async def test_status_shows_the_outbox_backlog_and_every_queue(platform: Platform) -> None:
    # A database of its own stands for the gateway's, with events no relay publishes.
    dsn = isolated_database_url("admin_status")
    await prepare_database(dsn, [])
    conn = await asyncpg.connect(dsn)
    try:
        for minutes in (3, 1):
            await conn.execute(
                "INSERT INTO outbox (event_id, aggregate_id, routing_key, body, created_at) "
                "VALUES ($1, 'a', 'account.created', '{}', now() - make_interval(mins => $2))",
                uuid.uuid4(),
                minutes,
            )
    finally:
        await conn.close()
    cfg = config(platform)
    out, err = io.StringIO(), io.StringIO()
    cfg = AdminConfig(
        {**cfg.database_urls, "gateway": dsn}, cfg.amqp_url, cfg.amqp_admin_url, cfg.exchange
    )
    code = await run(["status"], config=cfg, out=out, err=err)
    assert (code, err.getvalue()) == (0, ""), out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "Outbox (événements écrits, pas encore publiés)"
    gateway = next(x.split() for x in lines if x.split()[:1] == ["gateway"])
    assert gateway[1] == "2"
    assert " ".join(gateway[2:]).startswith("3 min")
    for service in ("accounts", "activities", "documents", "audit"):
        assert next(x.split() for x in lines if x.split()[:1] == [service])[1].isdigit()
        queue = next(x.split() for x in lines if x.split()[:1] == [f"{TEST_EXCHANGE}.{service}"])
        messages, consumers = queue[1:3]
        assert int(messages) >= 0
        assert int(consumers) >= 1  # the service's consumer
        dead = next(
            x.split() for x in lines if x.split()[:1] == [f"{TEST_EXCHANGE}.{service}.dead-letter"]
        )
        assert dead[1].isdigit()


async def test_the_installed_command_reads_the_services_environment_and_fails_in_one_line(
    platform: Platform, tmp_path: Any
) -> None:
    env = {
        **os.environ,
        **{f"CRM_{n.upper()}_DATABASE_URL": s.database_url for n, s in platform.settings.items()},
        "CRM_AMQP_URL": DEFAULT_AMQP_URL,
        "CRM_AMQP_ADMIN_URL": DEFAULT_AMQP_URL,
        "CRM_EXCHANGE": TEST_EXCHANGE,
    }

    async def crm_admin(*argv: str, **extra: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.admin", *argv,
            env={**env, **extra}, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    code, out, err = await crm_admin("status")
    assert (code, err) == (0, ""), out
    assert f"{TEST_EXCHANGE}.audit.dead-letter" in out

    code, out, err = await crm_admin(
        "user", "deactivate", "admin",
        CRM_GATEWAY_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.startswith("Base de données de « gateway » injoignable")
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err

    code, _, err = await crm_admin("user", "create", "x")  # --role is required
    assert code == 2
    assert "--role" in err


async def test_make_run_seed_with_another_admin_password_is_skipped_with_the_remedy(
    platform: Platform,
) -> None:
    with pytest.raises(SeedSkipped) as skipped:
        await seed_demo(platform.http, platform.gateway, "admin", "Pas-le-bon-mot-de-passe-1")
    message = str(skipped.value)
    assert "existe déjà avec un autre mot de passe" in message
    assert ".venv/bin/crm-admin user reset-password admin" in message
