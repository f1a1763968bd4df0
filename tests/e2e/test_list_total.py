"""A list's total, asked for with ``?total=true``: the records its search, filters and trash
condition match on every page (the cursor aside), capped like a 360° tab's; nothing changes for
a list that does not ask."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.common import crud
from tests.platform import Platform

Headers = dict[str, str]


async def made(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, response, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, response
    return response  # type: ignore[no-any-return]


async def listed(platform: Platform, headers: Headers, path: str, **params: str) -> Any:
    status, body, _ = await platform.call("GET", path, headers, params=params)
    assert status == 200, body
    return body


async def town_of(platform: Platform, admin: Headers, count: int) -> tuple[str, list[str]]:
    """A city of its own holding ``count`` accounts (their ids, in name order)."""
    city = f"Totalville {uuid.uuid4().hex[:8]}"
    ids = []
    for n in range(count):
        account = await made(
            platform,
            admin,
            "/api/v1/accounts",
            {"name": f"Total {n:02d}", "address": {"city": city}},
        )
        ids.append(account["id"])
    return city, ids


async def test_the_total_counts_every_page_of_the_filtered_list(
    platform: Platform, admin: Headers
) -> None:
    city, ids = await town_of(platform, admin, 5)
    first = await listed(platform, admin, "/api/v1/accounts", city=city, limit="2", total="true")
    assert (first["total"], first["total_is_capped"]) == (5, False)
    assert [a["id"] for a in first["items"]] == ids[:2]
    second = await listed(
        platform,
        admin,
        "/api/v1/accounts",
        city=city,
        limit="2",
        total="true",
        cursor=first["next_cursor"],
    )
    assert [a["id"] for a in second["items"]] == ids[2:4]
    assert second["total"] == 5  # the cursor does not change what the list holds
    # Without the parameter (or with false) the answer is the list as it always was.
    for params in ({}, {"total": "false"}):
        plain = await listed(platform, admin, "/api/v1/accounts", city=city, **params)
        assert set(plain) == {"items", "next_cursor"}
    # The search counts too; a filter that matches nothing counts 0.
    searched = await listed(platform, admin, "/api/v1/accounts", city=city, q="Total 03", total="1")
    assert (searched["total"], [a["id"] for a in searched["items"]]) == (1, [ids[3]])
    empty = await listed(
        platform, admin, "/api/v1/accounts", city=f"{city} nulle part", total="true"
    )
    assert (empty["items"], empty["total"], empty["total_is_capped"]) == ([], 0, False)


async def test_the_total_follows_the_trash(platform: Platform, admin: Headers) -> None:
    city, ids = await town_of(platform, admin, 3)
    status, _, _ = await platform.call("DELETE", f"/api/v1/accounts/{ids[0]}", admin)
    assert status == 204
    live = await listed(platform, admin, "/api/v1/accounts", city=city, total="true")
    trash = await listed(
        platform, admin, "/api/v1/accounts", city=city, trashed="true", total="true"
    )
    assert (live["total"], trash["total"]) == (2, 1)
    assert [a["id"] for a in trash["items"]] == [ids[0]]


async def test_a_page_past_the_end_still_gives_the_total(
    platform: Platform, admin: Headers
) -> None:
    """The last record went between two pages: the next page is empty, its total is right."""
    city, ids = await town_of(platform, admin, 3)
    first = await listed(platform, admin, "/api/v1/accounts", city=city, limit="2", total="true")
    status, _, _ = await platform.call("DELETE", f"/api/v1/accounts/{ids[2]}", admin)
    assert status == 204
    after = await listed(
        platform,
        admin,
        "/api/v1/accounts",
        city=city,
        limit="2",
        total="true",
        cursor=first["next_cursor"],
    )
    assert (after["items"], after["next_cursor"], after["total"]) == ([], None, 2)


async def test_every_kernel_list_counts(platform: Platform, admin: Headers) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Compté partout"})
    for name in ("Un", "Deux"):
        await made(
            platform, admin, "/api/v1/contacts", {"last_name": name, "account_id": account["id"]}
        )
    await made(
        platform, admin, "/api/v1/opportunities", {"name": "Affaire", "account_id": account["id"]}
    )
    await made(platform, admin, "/api/v1/quotes", {"account_id": account["id"]})
    expected = {"contacts": 2, "opportunities": 1, "projects": 0, "quotes": 1, "invoices": 0}
    for collection, total in expected.items():
        body = await listed(
            platform, admin, f"/api/v1/{collection}", account_id=account["id"], total="true"
        )
        assert (body["total"], body["total_is_capped"]) == (total, False), collection
        assert len(body["items"]) == total, collection


async def test_the_total_is_capped(
    platform: Platform, admin: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    city, _ = await town_of(platform, admin, 4)
    monkeypatch.setattr(crud, "COUNT_CAP", 3)  # the services run in this process
    body = await listed(platform, admin, "/api/v1/accounts", city=city, limit="1", total="true")
    assert (body["total"], body["total_is_capped"]) == (3, True)
    assert len(body["items"]) == 1
    monkeypatch.setattr(crud, "COUNT_CAP", 4)
    body = await listed(platform, admin, "/api/v1/accounts", city=city, total="true")
    assert (body["total"], body["total_is_capped"]) == (4, False)


@pytest.mark.parametrize("value", ["yes", "", "TRUE!", "2"])
async def test_a_bad_total_is_a_422_naming_it(
    platform: Platform, admin: Headers, value: str
) -> None:
    status, body, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"total": value, "trashed": "peut-être"}
    )
    assert status == 422, body
    assert {e["field"] for e in body["errors"]} == {"total", "trashed"}  # every bad one at once
    assert next(e for e in body["errors"] if e["field"] == "total")["message"]
