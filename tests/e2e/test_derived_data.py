"""Derived data beside the record, with the real broker: the geocoder's location never changes
an account's version (a fresh ETag stays valid), reaches readers, the audit trail (as the
system's own entry) and the events, and is never lost to a trash and restore in a burst."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest

from services.common.settings import DEFAULT_AMQP_URL
from tests.platform import Platform
from tests.support import TEST_EXCHANGE, eventually, isolated_database_url

Headers = dict[str, str]
REPEAT = 20
PARIS = {"street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris"}
LYON = {"street": "2 rue Mercière", "postal_code": "69002", "city": "Lyon"}
PATCH = {"Content-Type": "application/merge-patch+json"}


async def _create(platform: Platform, admin: Headers, name: str) -> dict[str, Any]:
    status, body, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": name, "address": PARIS}
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def _located(platform: Platform, admin: Headers, path: str, city: str) -> dict[str, Any]:
    """The account once its location is the one of ``city``'s address (10 s at most)."""

    async def probe() -> dict[str, Any] | None:
        status, body, _ = await platform.call("GET", path, admin)
        assert status == 200, body
        where = body["location"]
        return body if where and body["address"]["city"] == city else None

    return await eventually(probe)


@pytest.mark.parametrize("attempt", range(REPEAT))
async def test_a_fresh_etag_stays_valid_once_the_address_is_located(
    platform: Platform, admin: Headers, attempt: int
) -> None:
    account = await _create(platform, admin, f"Boulangerie ETag {attempt}")
    path = f"/api/v1/accounts/{account['id']}"
    status, _, headers = await platform.call("GET", path, admin)
    assert (status, headers["ETag"]) == (200, '"1"')
    located = await _located(platform, admin, path, "Paris")
    assert located["location"]["source"] == "offline"
    # The location came beside the record: same version, same last change, same author.
    for field in ("version", "updated_at", "updated_by"):
        assert located[field] == account[field], field
    status, body, _ = await platform.call(
        "PATCH", path, {**admin, **PATCH, "If-Match": '"1"'}, json={"employees": 12}
    )
    assert status == 200, body
    assert (body["version"], body["location"]) == (2, located["location"])


async def test_a_write_right_after_the_creation_keeps_its_etag(
    platform: Platform, admin: Headers
) -> None:
    """The ETag read at once is still valid a moment later, whenever the geocoder runs."""
    for attempt in range(REPEAT):
        account = await _create(platform, admin, f"Fromagerie ETag {attempt}")
        path = f"/api/v1/accounts/{account['id']}"
        _, _, headers = await platform.call("GET", path, admin)
        await asyncio.sleep(0.05)
        status, body, _ = await platform.call(
            "PATCH", path, {**admin, **PATCH, "If-Match": headers["ETag"]}, json={"employees": 3}
        )
        assert status == 200, (attempt, body)


@pytest.mark.parametrize("attempt", range(REPEAT))
async def test_an_address_changed_then_trashed_and_restored_in_a_burst_is_located(
    platform: Platform, admin: Headers, attempt: int
) -> None:
    account = await _create(platform, admin, f"Traiteur rafale {attempt}")
    path = f"/api/v1/accounts/{account['id']}"
    if attempt % 2:  # half of them located before the burst, half still on their way
        await _located(platform, admin, path, "Paris")
    status, _, _ = await platform.call("PATCH", path, {**admin, **PATCH}, json={"address": LYON})
    assert status == 200
    status, _, _ = await platform.call("DELETE", path, admin)
    assert status == 204
    status, _, _ = await platform.call("POST", f"{path}/restore", admin)
    assert status == 200

    async def on_the_map() -> dict[str, Any] | None:
        status, body, _ = await platform.call("GET", f"{path}/map", admin)
        assert status in (200, 409), body  # 409 only while the new address is being located
        return body if status == 200 else None

    shown = await eventually(on_the_map)
    assert shown["address"]["city"] == "Lyon"
    assert shown["lat"] == pytest.approx(45.75, abs=0.1)
    assert shown["lon"] == pytest.approx(4.85, abs=0.1)
    _, record, _ = await platform.call("GET", path, admin)
    assert record["version"] == 4  # created, moved, trashed, restored: nothing else


async def _trail(platform: Platform, admin: Headers, record_id: str) -> list[dict[str, Any]]:
    status, trail, _ = await platform.call("GET", f"/api/v1/accounts/{record_id}/audit", admin)
    return trail if status == 200 else []


async def test_the_location_is_the_systems_own_entry_of_the_audit_trail(
    platform: Platform, admin: Headers
) -> None:
    account = await _create(platform, admin, "Épicerie auditée")
    path = f"/api/v1/accounts/{account['id']}"
    await _located(platform, admin, path, "Paris")
    status, _, _ = await platform.call("PATCH", path, {**admin, **PATCH}, json={"address": LYON})
    assert status == 200
    await _located(platform, admin, path, "Lyon")

    async def complete() -> list[dict[str, Any]] | None:
        trail = await _trail(platform, admin, account["id"])
        return trail if len(trail) == 4 else None

    trail = list(reversed(await eventually(complete)))  # oldest first
    assert [(e["action"], e["actor"], e["version"]) for e in trail] == [
        ("created", "admin", 1),
        ("located", "geocodeur", 1),
        ("updated", "admin", 2),
        ("located", "geocodeur", 2),
    ]
    assert trail[1]["context"] == {"derived": "location"}
    assert {c["field"] for c in trail[3]["changes"]} == {
        "location.lat",
        "location.lon",
        "location.precision",
        "location.source",
    }
    status, check, _ = await platform.call("GET", f"{path}/audit/verify", admin)
    assert status == 200
    assert (check["valid"], check["entries"], check["rejected"]) == (True, 4, [])


@pytest.fixture
async def published() -> AsyncIterator[list[dict[str, Any]]]:
    """Every account event published on the test exchange while the test runs."""
    events: list[dict[str, Any]] = []
    connection = await aio_pika.connect(DEFAULT_AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(TEST_EXCHANGE, routing_key="account.*")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                events.append(json.loads(message.body))

        await queue.consume(on_message)
        yield events


async def test_the_location_is_published_as_account_located_once(
    platform: Platform, admin: Headers, published: list[dict[str, Any]]
) -> None:
    account = await _create(platform, admin, "Caviste publié")
    path = f"/api/v1/accounts/{account['id']}"
    located = await _located(platform, admin, path, "Paris")
    # A trash and a restore leave the location as it is: no second located event.
    assert (await platform.call("DELETE", path, admin))[0] == 204
    assert (await platform.call("POST", f"{path}/restore", admin))[0] == 200

    def of_account() -> list[dict[str, Any]]:
        return [e for e in published if e["data"]["id"] == account["id"]]

    async def restored_seen() -> bool:
        return any(e["type"] == "crm.account.restored.v1" for e in of_account())

    await eventually(restored_seen)
    await asyncio.sleep(0.5)  # time for a second located event, if one were wrongly sent
    assert [e["type"] for e in of_account()] == [
        "crm.account.created.v1",
        "crm.account.located.v1",
        "crm.account.deleted.v1",
        "crm.account.restored.v1",
    ]
    event = of_account()[1]
    assert event["data"]["version"] == 1
    assert event["data"]["actor"] == "geocodeur"
    assert event["data"]["record"]["location"] == located["location"]
    assert event["data"]["changes"]["location.lat"] == {
        "old": None,
        "new": located["location"]["lat"],
    }


async def test_an_address_whose_event_was_lost_is_located_by_the_sweep(
    platform: Platform, admin: Headers
) -> None:
    account = await _create(platform, admin, "Brasserie sans événement")
    path = f"/api/v1/accounts/{account['id']}"
    await _located(platform, admin, path, "Paris")
    # The account moves to Lyon by a write whose event never reaches the geocoder.
    conn = await asyncpg.connect(isolated_database_url("accounts"))
    try:
        await conn.execute(
            """
            UPDATE accounts SET street = $2, postal_code = $3, city = $4, lat = NULL,
                lon = NULL, location_status = 'pending', location_requested_at = now()
            WHERE id = $1
            """,
            account["id"],
            LYON["street"],
            LYON["postal_code"],
            LYON["city"],
        )
    finally:
        await conn.close()
    status, _, _ = await platform.call("GET", f"{path}/map", admin)
    assert status == 409  # being located

    async def on_the_map() -> dict[str, Any] | None:
        status, body, _ = await platform.call("GET", f"{path}/map", admin)
        return body if status == 200 else None

    shown = await eventually(on_the_map, within=20)  # the sweep runs every 5 s
    assert (shown["address"]["city"], round(shown["lat"])) == ("Lyon", 46)


async def test_a_form_sending_back_the_whole_record_it_read_keeps_its_etag(
    platform: Platform, admin: Headers
) -> None:
    """A form that read the account before the geocoder ran (location null) sends the whole
    record back with its changes under the same ETag: saved, the location kept. A stale ETag
    with the stale record is a 412 (someone else changed it), not a 422 on its version."""
    account = await _create(platform, admin, "Librairie formulaire")
    path = f"/api/v1/accounts/{account['id']}"
    assert account["location"] is None  # as the form read it
    located = await _located(platform, admin, path, "Paris")
    status, body, _ = await platform.call(
        "PATCH", path, {**admin, **PATCH, "If-Match": '"1"'}, json={**account, "employees": 4}
    )
    assert status == 200, body
    assert (body["version"], body["employees"], body["location"]) == (2, 4, located["location"])
    status, body, _ = await platform.call(
        "PATCH", path, {**admin, **PATCH, "If-Match": '"1"'}, json={**account, "employees": 5}
    )
    assert status == 412, body
    # Changing the location stays refused, with or without If-Match.
    moved = {**located["location"], "lat": 0.0}
    status, body, _ = await platform.call(
        "PATCH", path, {**admin, **PATCH, "If-Match": '"2"'}, json={"location": moved}
    )
    assert (status, body["errors"][0]["field"]) == (422, "location"), body
