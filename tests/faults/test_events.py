"""Events that should not be: a forged one (published by a broker user that does not own its
entity) is refused; a poison one (well-formed, but its handler fails every time) goes to the
dead-letter queue without holding up the events behind it, and crm-admin shows why and
replays it."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiohttp
import asyncpg

from services.common.events import CloudEvent, EventData, FieldChange, encode
from tests.faults.stack import FAULTS_EXCHANGE, FAULTS_PREFIX, Stack, superuser_url
from tests.support import RUN_ID, eventually


async def publish_as(stack: Stack, service: str, routing_key: str, event: CloudEvent) -> str | None:
    """Publish ``event`` as ``service``'s broker user (its user_id set, as the relays do): None
    when the broker confirmed it, else what the broker said."""
    connection = await aio_pika.connect(stack.broker_url(service), timeout=10)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(FAULTS_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                body=encode(event),
                content_type="application/cloudevents+json",
                message_id=str(event.id),
                user_id=f"{FAULTS_PREFIX}{service}",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key,
            timeout=10,
        )
    except (aio_pika.exceptions.AMQPError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
    return None


def account_event(
    record: dict[str, Any], change: str, actor: str, changes: dict[str, FieldChange]
) -> CloudEvent:
    return CloudEvent(
        id=uuid.uuid4(),
        source="/services/accounts",
        type=f"crm.account.{change}.v1",
        time=datetime.now(UTC),
        subject=record["id"],
        data=EventData(
            entity="account",
            id=record["id"],
            version=record["version"],
            actor=actor,
            changes=changes,
            record=record,
        ),
    )


async def trail(record_id: str) -> list[asyncpg.Record]:
    """The record's audit entries, read as the superuser, oldest first."""
    conn = await asyncpg.connect(superuser_url("audit"))
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT event_id, version, actor FROM audit_entries"
            " WHERE entity = 'account' AND record_id = $1 ORDER BY seq",
            record_id,
        )
        return rows
    finally:
        await conn.close()


async def create_account(
    stack: Stack, http: aiohttp.ClientSession, headers: dict[str, str], name: str
) -> dict[str, Any]:
    async with http.post(
        f"{stack.gateway}/api/v1/accounts", json={"name": name}, headers=headers
    ) as response:
        assert response.status == 201, await response.text()
        return await response.json()  # type: ignore[no-any-return]


async def test_a_forged_event_is_refused(
    stack: Stack, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    account = await create_account(stack, http, admin_headers, f"faute forgery {RUN_ID}")
    await eventually(lambda: trail(account["id"]), within=30)
    forged = account_event(
        {**account, "name": "Compte piraté", "version": account["version"] + 1},
        "updated",
        "mallory",
        {"name": FieldChange(old=account["name"], new="Compte piraté")},
    )

    # The activities service's broker user may not publish the accounts' routing keys...
    refused = await publish_as(stack, "activities", "account.updated", forged)
    assert refused is not None, "the broker let activities publish an account.updated event"
    # ...and on a routing key it may publish, the consumers refuse an event about an account.
    assert await publish_as(stack, "activities", "action.updated", forged) is None

    # A real change made after it reaches the trail as the record's next version.
    async with http.patch(
        f"{stack.gateway}/api/v1/accounts/{account['id']}",
        json={"description": "vraie modification"},
        headers=admin_headers,
    ) as response:
        assert response.status == 200, await response.text()
        patched = await response.json()

    async def both_entries() -> list[asyncpg.Record] | None:
        entries = await trail(account["id"])
        return entries if len(entries) >= 2 else None

    entries = await eventually(both_entries, within=30)
    assert [(e["version"], e["actor"]) for e in entries] == [
        (1, "admin"),
        (patched["version"], "admin"),
    ]
    assert forged.id not in {e["event_id"] for e in entries}
    async with http.get(
        f"{stack.gateway}/api/v1/accounts/{account['id']}/audit/verify", headers=admin_headers
    ) as response:
        assert response.status == 200
        assert (await response.json())["valid"] is True

    # The audit service dead-lettered it, and crm-admin says who published it.
    async def shown() -> str | None:
        code, out = await stack.crm_admin("dlq", "show", "audit", str(forged.id))
        return out if code == 0 else None

    out = await eventually(shown, within=30, every=1)
    assert f"{FAULTS_PREFIX}activities" in out, out
    assert "mallory" in out, out


async def test_a_poison_event_is_dead_lettered_without_holding_up_the_others(
    stack: Stack, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    # Well-formed and from the owner, but no database can store it (a NUL character): its
    # handler fails on every delivery.
    record: dict[str, Any] = {"id": str(uuid.uuid4()), "version": 1, "name": "poison\x00"}
    poison = account_event(
        record, "created", "admin", {"name": FieldChange(old=None, new="poison\x00")}
    )
    assert await publish_as(stack, "accounts", "account.created", poison) is None

    # The events behind it reach the trail.
    behind = [
        await create_account(stack, http, admin_headers, f"faute behind poison {RUN_ID} {n}")
        for n in range(5)
    ]

    async def all_audited() -> bool:
        return all([await trail(account["id"]) for account in behind])

    await eventually(all_audited, within=30)

    # crm-admin lists it in the audit service's dead letters and says why.
    async def listed() -> str | None:
        code, out = await stack.crm_admin("dlq", "list", "audit")
        return out if code == 0 and str(poison.id) in out else None

    listing = await eventually(listed, within=60, every=1)
    code, shown = await stack.crm_admin("dlq", "show", "audit", str(poison.id))
    assert code == 0, shown
    assert "Raison" in shown, shown
    assert "raison inconnue" not in shown, shown
    assert await trail(record["id"]) == []
    attempts = len(stack.log_lines(str(poison.id), service="audit"))
    assert attempts > 0, f"audit's log never names the poison event\n{listing}\n{stack.tail()}"

    # Replayed, it goes back to the audit service (which fails on it again and logs it), and
    # back to the dead letters: never lost.
    code, replayed = await stack.crm_admin("dlq", "replay", "audit", str(poison.id))
    assert code == 0, replayed

    async def tried_again() -> bool:
        return len(stack.log_lines(str(poison.id), service="audit")) > attempts

    await eventually(tried_again, within=60, every=0.5)
    await eventually(listed, within=60, every=1)
    assert await trail(record["id"]) == []
