"""Through the gateway: log in, create an account, find its audit entry; and every bad input."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import asyncpg
import pytest

from services.common.identity import Identity
from services.gateway.domain import hash_password, issue_token
from tests.platform import Platform
from tests.support import (
    TEST_EXCHANGE,
    TEST_PREFIX,
    TOKEN_SECRET,
    eventually,
    isolated_database_url,
    role_amqp_url,
)


async def create(platform: Platform, headers: dict[str, str], name: str) -> dict[str, object]:
    status, body, _ = await platform.call("POST", "/api/v1/accounts", headers, json={"name": name})
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def audit_of(
    platform: Platform, headers: dict[str, str], account_id: object
) -> list[dict[str, Any]]:
    status, body, _ = await platform.call("GET", f"/api/v1/accounts/{account_id}/audit", headers)
    return body if status == 200 else []


async def test_an_account_created_through_the_gateway_shows_its_audit_entry(
    platform: Platform, admin: dict[str, str]
) -> None:
    account = await create(platform, admin, "  Boulangerie Dupont  ")
    assert account["name"] == "Boulangerie Dupont"
    assert account["created_by"] == account["updated_by"] == "admin"
    assert account["version"] == 1

    trail = await eventually(lambda: audit_of(platform, admin, account["id"]))
    assert len(trail) == 1
    (entry,) = trail
    assert entry["actor"] == "admin"
    assert entry["action"] == "created"
    assert entry["changes"] == [
        {"field": "address.country", "old": None, "new": "FR"},
        {"field": "name", "old": None, "new": "Boulangerie Dupont"},
        {"field": "owner", "old": None, "new": "admin"},
    ]

    status, check, _ = await platform.call(
        "GET", f"/api/v1/accounts/{account['id']}/audit/verify", admin
    )
    assert status == 200
    assert check["valid"] is True


async def test_a_created_account_is_read_back_with_its_etag_and_listed(
    platform: Platform, admin: dict[str, str]
) -> None:
    account = await create(platform, admin, "Éditions du Léman")
    status, body, headers = await platform.call("GET", f"/api/v1/accounts/{account['id']}", admin)
    assert status == 200
    assert body == account
    assert headers["ETag"] == '"1"'
    tag = uuid.uuid4().hex[:8]
    for name in ("Zeta", "alpha", "Émile", "beta"):
        await create(platform, admin, f"{name} {tag}")
    names: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2", "q": tag, **({"cursor": cursor} if cursor else {})}
        status, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params=query)
        assert status == 200
        names += [item["name"].removesuffix(f" {tag}") for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["alpha", "beta", "Émile", "Zeta"]  # accents and case ignored


async def count_rows(platform: Platform) -> tuple[int, int]:
    conn = await asyncpg.connect(isolated_database_url("accounts"))
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM accounts"),
            await conn.fetchval("SELECT count(*) FROM outbox"),
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b'{"name": ""}', "application/json", 422, "name"),
        (b'{"name": "   "}', "application/json", 422, "name"),
        (b"{}", "application/json", 422, "name"),
        (b'{"name": null}', "application/json", 422, "name"),
        (b'{"name": 12}', "application/json", 422, "name"),
        (('{"name": "' + "x" * 256 + '"}').encode(), "application/json", 422, "name"),
        (b'{"name": "ok", "siren": "1"}', "application/json", 422, "siren"),
        (b"[]", "application/json", 422, "body"),
        (b'{"name": ', "application/json", 400, None),
        (b"", "application/json", 400, None),
        (b"name=x", "application/x-www-form-urlencoded", 415, None),
    ],
)
async def test_bad_input_is_refused_with_a_problem_and_leaves_nothing_behind(
    platform: Platform,
    admin: dict[str, str],
    body: bytes,
    content_type: str,
    status: int,
    field: str | None,
) -> None:
    before = await count_rows(platform)
    headers = {**admin, "Content-Type": content_type}
    got, problem, response_headers = await platform.call(
        "POST", "/api/v1/accounts", headers, data=body
    )
    assert got == status
    assert response_headers["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert "Traceback" not in str(problem)
    if field is not None:
        assert [e["field"] for e in problem["errors"]] == [field]
    assert await count_rows(platform) == before


@pytest.mark.parametrize("account_id", [str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1", "%00"])
async def test_an_unknown_or_malformed_id_is_not_found(
    platform: Platform, admin: dict[str, str], account_id: str
) -> None:
    status, problem, _ = await platform.call("GET", f"/api/v1/accounts/{account_id}", admin)
    assert status == 404
    assert problem["status"] == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer a.b.c"],
)
async def test_without_a_valid_token_every_api_call_is_unauthorized(
    platform: Platform, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [
        ("GET", "/api/v1/accounts"),
        ("POST", "/api/v1/accounts"),
        ("GET", "/api/v1/users/me"),
    ]:
        status, problem, _ = await platform.call(method, path, headers, json={"name": "X"})
        assert status == 401
        assert problem["status"] == 401


async def test_an_expired_token_is_refused(platform: Platform) -> None:
    identity = Identity(str(uuid.uuid4()), "admin", "admin")
    token = issue_token(identity, TOKEN_SECRET, ttl=60, now=1_000_000)
    status, _, _ = await platform.call(
        "GET", "/api/v1/accounts", {"Authorization": f"Bearer {token}"}
    )
    assert status == 401


async def test_a_wrong_password_gets_the_same_answer_whether_or_not_the_user_exists(
    platform: Platform,
) -> None:
    answers = []
    for username in ("admin", "nobody-by-that-name"):
        status, problem, _ = await platform.call(
            "POST", "/api/v1/auth/login", json={"username": username, "password": "wrong"}
        )
        answers.append((status, problem))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


async def test_login_gives_a_bearer_token_that_expires(platform: Platform) -> None:
    status, body, headers = await platform.call(
        "POST",
        "/api/v1/auth/login",
        json={"username": "admin", "password": "Mot-de-passe-de-test-1"},
    )
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert headers["Cache-Control"] == "no-store"
    status, me, _ = await platform.call(
        "GET", "/api/v1/users/me", {"Authorization": f"Bearer {body['access_token']}"}
    )
    assert status == 200
    assert (me["username"], me["role"]) == ("admin", "admin")
    assert "password_hash" not in me


async def test_a_readonly_user_reads_but_cannot_write(
    platform: Platform, admin: dict[str, str], gateway_db: asyncpg.Connection
) -> None:
    await gateway_db.execute(
        "INSERT INTO users (id, username, role, password_hash, created_by, updated_by)"
        " VALUES ($1, 'lecteur', 'readonly', $2, 'test', 'test') ON CONFLICT DO NOTHING",
        uuid.uuid4(),
        hash_password("Lecture-seule-1"),
    )
    reader = await platform.login("lecteur", "Lecture-seule-1")
    before = await count_rows(platform)
    status, problem, _ = await platform.call(
        "POST", "/api/v1/accounts", reader, json={"name": "Interdit"}
    )
    assert status == 403
    assert problem["status"] == 403
    assert await count_rows(platform) == before
    status, _, _ = await platform.call("GET", "/api/v1/accounts", reader)
    assert status == 200


async def test_services_refuse_calls_without_the_gateways_signed_identity(
    platform: Platform,
) -> None:
    for service in ("accounts", "audit"):
        url = platform.urls[service]
        for headers in ({}, {"X-CRM-Identity": "eyJzdWIiOiJ4In0.deadbeef"}):
            async with platform.http.get(f"{url}/api/v1/accounts", headers=headers) as response:
                assert response.status == 401


@pytest.mark.parametrize("service", ["gateway", "accounts", "activities", "documents", "audit"])
async def test_every_service_reports_health_readiness_and_metrics(
    platform: Platform, service: str
) -> None:
    url = platform.urls[service]
    for path in ("/healthz", "/readyz"):
        async with platform.http.get(url + path) as response:
            assert response.status == 200, await response.text()
    async with platform.http.get(url + "/metrics") as response:
        if service == "gateway":  # public-facing: absent without CRM_METRICS_TOKEN
            assert response.status == 404
            return
        assert response.status == 200
        assert "http_requests_total" in await response.text()


async def test_activities_and_documents_keep_a_copy_of_accounts_from_events(
    platform: Platform, admin: dict[str, str]
) -> None:
    account = await create(platform, admin, "Menuiserie Garnier")
    for service in ("activities", "documents"):
        conn = await asyncpg.connect(isolated_database_url(service))
        try:

            async def copied(conn: asyncpg.Connection = conn) -> str | None:
                label: str | None = await conn.fetchval(
                    "SELECT label FROM record_refs WHERE entity = 'account' AND id = $1",
                    uuid.UUID(str(account["id"])),
                )
                return label

            assert await eventually(copied) == "Menuiserie Garnier"
        finally:
            await conn.close()


async def test_a_write_while_the_broker_is_unreachable_reaches_the_audit_trail_exactly_once(
    platform: Platform, admin: dict[str, str]
) -> None:
    async def accounts_ready() -> bool:
        async with platform.http.get(platform.urls["accounts"] + "/readyz") as response:
            return response.status == 200

    async def accounts_not_ready() -> bool:
        return not await accounts_ready()

    await eventually(accounts_ready)
    await platform.accounts_broker.cut()
    try:
        await eventually(accounts_not_ready)
        account = await create(platform, admin, "Transports Lefèvre")  # the write succeeds
        await asyncio.sleep(1.0)
        assert await audit_of(platform, admin, account["id"]) == []  # not published yet
    finally:
        await platform.accounts_broker.restore()
    trail = await eventually(lambda: audit_of(platform, admin, account["id"]), within=20)
    await eventually(accounts_ready)
    await asyncio.sleep(1.0)  # would a second copy arrive, it would be here by now
    trail = await audit_of(platform, admin, account["id"])
    assert len(trail) == 1
    assert trail[0]["actor"] == "admin"


async def test_an_event_published_twice_gives_one_audit_entry(
    platform: Platform, admin: dict[str, str], accounts_db: asyncpg.Connection
) -> None:
    """A relay that crashed after publishing but before marking publishes the batch again."""
    account = await create(platform, admin, "Brasserie Saint-Éloi")
    await eventually(lambda: audit_of(platform, admin, account["id"]))
    body = await accounts_db.fetchval(
        "SELECT body FROM outbox WHERE aggregate_id = $1", str(account["id"])
    )
    connection = await aio_pika.connect(role_amqp_url("accounts"))  # as the relay would
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(TEST_EXCHANGE, ensure=False)
        message = aio_pika.Message(bytes(body), user_id=f"{TEST_PREFIX}accounts")
        await exchange.publish(message, routing_key="account.created")
    later = await create(platform, admin, "Atelier Bérénice")  # published after the duplicate
    await eventually(lambda: audit_of(platform, admin, later["id"]))
    assert len(await audit_of(platform, admin, account["id"])) == 1
