"""Idempotency-Key on record creations, through the gateway: a repeat gets the first answer and
creates nothing; the key is the caller's; concurrent repeats make one record."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg

from tests.platform import Platform
from tests.support import eventually

Headers = dict[str, str]


def keyed(headers: Headers, key: str) -> Headers:
    return {**headers, "Idempotency-Key": key}


async def accounts_named(platform: Platform, headers: Headers, name: str) -> list[dict[str, Any]]:
    status, body, _ = await platform.call("GET", "/api/v1/accounts", headers, params={"q": name})
    assert status == 200, body
    return [a for a in body["items"] if a["name"] == name]


async def audit_of(platform: Platform, headers: Headers, path: str) -> list[dict[str, Any]]:
    status, body, _ = await platform.call("GET", f"{path}/audit", headers)
    return body if status == 200 else []


async def test_the_same_key_twice_gives_the_first_answer_and_one_record(
    platform: Platform, admin: Headers, accounts_db: asyncpg.Connection
) -> None:
    name, key = f"Idempotent {secrets.token_hex(4)}", secrets.token_urlsafe(16)
    first = await platform.call("POST", "/api/v1/accounts", keyed(admin, key), json={"name": name})
    second = await platform.call("POST", "/api/v1/accounts", keyed(admin, key), json={"name": name})
    (status1, body1, headers1), (status2, body2, headers2) = first, second
    assert status1 == status2 == 201, (body1, body2)
    assert body2 == body1
    assert headers2["Location"] == headers1["Location"] == f"/api/v1/accounts/{body1['id']}"
    assert headers2["ETag"] == headers1["ETag"]
    assert "Idempotency-Replayed" not in headers1
    assert headers2["Idempotency-Replayed"] == "true"
    assert len(await accounts_named(platform, admin, name)) == 1
    trail = await eventually(lambda: audit_of(platform, admin, headers1["Location"]))
    assert [e["action"] for e in trail] == ["created"]
    # One event only: the outbox holds one row for the record.
    events = await accounts_db.fetchval(
        "SELECT count(*) FROM outbox WHERE aggregate_id = $1", body1["id"]
    )
    assert events == 1


async def test_the_same_key_with_another_body_is_refused_naming_the_header(
    platform: Platform, admin: Headers
) -> None:
    tag, key = secrets.token_hex(4), secrets.token_urlsafe(16)
    status, _, _ = await platform.call(
        "POST", "/api/v1/accounts", keyed(admin, key), json={"name": f"Premier {tag}"}
    )
    assert status == 201
    status, problem, _ = await platform.call(
        "POST", "/api/v1/accounts", keyed(admin, key), json={"name": f"Second {tag}"}
    )
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["Idempotency-Key"]
    assert "déjà servi" in problem["errors"][0]["message"]
    assert await accounts_named(platform, admin, f"Second {tag}") == []


async def test_a_malformed_key_is_refused_naming_the_header(
    platform: Platform, admin: Headers
) -> None:
    name = f"Clé invalide {secrets.token_hex(4)}"
    for bad in ("", "x" * 256, "clé"):
        status, problem, _ = await platform.call(
            "POST", "/api/v1/accounts", keyed(admin, bad), json={"name": name}
        )
        assert status == 422, (bad, problem)
        assert [e["field"] for e in problem["errors"]] == ["Idempotency-Key"]
    assert await accounts_named(platform, admin, name) == []


async def test_two_users_with_the_same_key_do_not_collide(
    platform: Platform, admin: Headers, user: Headers
) -> None:
    tag, key = secrets.token_hex(4), f"partagée-{secrets.token_hex(4)}".encode().hex()
    status1, mine, _ = await platform.call(
        "POST", "/api/v1/accounts", keyed(admin, key), json={"name": f"Admin {tag}"}
    )
    status2, theirs, headers = await platform.call(
        "POST", "/api/v1/accounts", keyed(user, key), json={"name": f"Claire {tag}"}
    )
    assert status1 == status2 == 201, (mine, theirs)
    assert theirs["id"] != mine["id"]
    assert theirs["name"] == f"Claire {tag}"
    assert "Idempotency-Replayed" not in headers


async def test_ten_concurrent_requests_with_one_key_make_one_record(
    platform: Platform, admin: Headers
) -> None:
    name, key = f"Concurrent {secrets.token_hex(4)}", secrets.token_urlsafe(16)
    answers = await asyncio.gather(
        *(
            platform.call("POST", "/api/v1/accounts", keyed(admin, key), json={"name": name})
            for _ in range(10)
        )
    )
    assert [status for status, _, _ in answers] == [201] * 10, answers
    assert len({body["id"] for _, body, _ in answers}) == 1
    assert len({headers["Location"] for _, _, headers in answers}) == 1
    assert sum(1 for _, _, h in answers if "Idempotency-Replayed" not in h) == 1
    assert len(await accounts_named(platform, admin, name)) == 1


async def test_kernel_creations_and_duplicate_honour_the_key(
    platform: Platform, admin: Headers
) -> None:
    tag = secrets.token_hex(4)
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": f"Source {tag}"}
    )
    assert status == 201
    # A collection of the record kernel (services/common/crud.py): contacts.
    contact = {"account_id": account["id"], "last_name": f"Martin {tag}"}
    key = secrets.token_urlsafe(16)
    first = await platform.call("POST", "/api/v1/contacts", keyed(admin, key), json=contact)
    again = await platform.call("POST", "/api/v1/contacts", keyed(admin, key), json=contact)
    assert first[0] == again[0] == 201, (first[1], again[1])
    assert again[1] == first[1]
    assert again[2]["Location"] == first[2]["Location"]
    status, listed, _ = await platform.call(
        "GET", "/api/v1/contacts", admin, params={"account_id": account["id"]}
    )
    assert status == 200
    assert len(listed["items"]) == 1
    # The duplicate of an account.
    path, key = f"/api/v1/accounts/{account['id']}/duplicate", secrets.token_urlsafe(16)
    first = await platform.call("POST", path, keyed(admin, key))
    again = await platform.call("POST", path, keyed(admin, key))
    assert first[0] == again[0] == 201, (first[1], again[1])
    assert again[1]["id"] == first[1]["id"]
    assert len(await accounts_named(platform, admin, f"Source {tag} (copie)")) == 1
    # Without a key, two duplicates are two records, as before.
    await platform.call("POST", path, admin)
    assert len(await accounts_named(platform, admin, f"Source {tag} (copie)")) == 2
