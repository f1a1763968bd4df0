"""The 360° view: every tab, newest first, with totals; robust to a service down or slow; and
a fixed number of SQL statements whatever the account holds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.common.identity import HEADER as IDENTITY_HEADER
from services.common.identity import Identity, sign_identity
from services.common.meta import META_PATH
from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from tests.platform import Platform
from tests.support import eventually, isolated_database_url

Headers = dict[str, str]


async def made(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, response, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, response
    return response  # type: ignore[no-any-return]


async def view(
    platform: Platform, headers: Headers, account_id: str, **params: str
) -> tuple[int, Any, Any]:
    return await platform.call("GET", f"/api/v1/accounts/{account_id}/view", headers, params=params)


async def test_the_view_shows_every_tab_newest_first_with_totals(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Vue 360"})
    for name in ("Anne", "Bruno", "Chloé"):
        await made(
            platform, admin, "/api/v1/contacts", {"last_name": name, "account_id": account["id"]}
        )
    for day in (1, 3, 2):
        await made(
            platform,
            admin,
            "/api/v1/actions",
            {
                "type": "note",
                "subject": f"Jour {day}",
                "account_id": account["id"],
                "occurred_at": f"2026-11-0{day}T10:00:00Z",
            },
        )
    await made(
        platform, admin, "/api/v1/opportunities", {"name": "Affaire", "account_id": account["id"]}
    )
    await made(platform, admin, "/api/v1/quotes", {"account_id": account["id"]})

    async def complete() -> Any:
        status, body, _ = await view(platform, admin, account["id"], per_tab="2")
        return body if status == 200 and body["quotes"]["total"] == 1 else None

    body = await eventually(complete)
    assert list(body) == [
        "account", "contacts", "actions", "opportunities", "projects", "quotes", "invoices",
        "unavailable",
    ]  # fmt: skip
    assert body["account"]["name"] == "Vue 360"
    assert body["unavailable"] == []
    assert (body["contacts"]["total"], len(body["contacts"]["items"])) == (3, 2)
    assert [a["subject"] for a in body["actions"]["items"]] == ["Jour 3", "Jour 2"]
    assert body["actions"]["total"] == 3
    assert body["opportunities"]["total"] == 1
    assert (body["projects"]["total"], body["projects"]["items"]) == (0, [])
    assert body["invoices"]["total"] == 0
    assert body["actions"]["href"] == f"/api/v1/actions?account_id={account['id']}"


@pytest.mark.parametrize("per_tab", ["0", "101", "x"])
async def test_per_tab_is_bounded(platform: Platform, admin: Headers, per_tab: str) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Bornes"})
    status, problem, _ = await view(platform, admin, account["id"], per_tab=per_tab)
    assert (status, problem["errors"][0]["field"]) == (422, "per_tab")


async def test_an_unknown_or_trashed_account_has_no_view(
    platform: Platform, admin: Headers
) -> None:
    assert (await view(platform, admin, str(uuid.uuid4())))[0] == 404
    assert (await view(platform, admin, "pas-un-id"))[0] == 404
    account = await made(platform, admin, "/api/v1/accounts", {"name": "À la corbeille"})
    await platform.call("DELETE", f"/api/v1/accounts/{account['id']}", admin)
    assert (await view(platform, admin, account["id"]))[0] == 404


async def test_the_number_of_statements_does_not_grow_with_the_data(
    platform: Platform, admin: Headers
) -> None:
    small = await made(platform, admin, "/api/v1/accounts", {"name": "Petit compte"})
    large = await made(platform, admin, "/api/v1/accounts", {"name": "Gros compte"})
    for account in (small, large):
        await made(
            platform,
            admin,
            "/api/v1/actions",
            {"type": "note", "subject": "Premier", "account_id": account["id"]},
        )
    conn = await asyncpg.connect(isolated_database_url("activities"))
    try:  # 999 more actions for the large account, written directly: this test measures reads
        await conn.execute(
            "INSERT INTO actions (id, type, subject, account_id, status, created_by, updated_by) "
            "SELECT gen_random_uuid(), 'note', 'Note ' || i, $1, 'done', 'test', 'test' FROM generate_series(1, 999) i",
            uuid.UUID(large["id"]),
        )
    finally:
        await conn.close()
    counts = []
    for account, expected in ((small, 1), (large, 1000)):
        status, body, headers = await platform.call(
            "GET",
            f"/api/v1/accounts/{account['id']}/view",
            {**admin, "Cache-Control": "no-cache"},
        )
        assert status == 200
        assert headers["X-View-Cache"] == "miss"
        assert body["actions"]["total"] == expected
        assert len(body["actions"]["items"]) == min(expected, 20)
        counts.append(int(headers["X-SQL-Statements"]))
    # The account and its contacts, then one statement per other tab (items and capped count).
    assert counts == [7, 7]


class FailingService:
    """Stands for a service whose part of the view fails: it gives the gateway the service's
    real declarations (GET /internal/meta, read from the service), then answers a view after
    the view's timeout (``slow``) or drops the connection without an answer (down)."""

    def __init__(self, http: aiohttp.ClientSession, real_url: str, *, slow: bool) -> None:
        self.http, self.real_url, self.slow = http, real_url, slow
        self.server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get(META_PATH, self._meta)
        app.router.add_get("/api/v1/views/accounts/{id}", self._view)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def _meta(self, request: web.Request) -> web.Response:
        headers = {IDENTITY_HEADER: request.headers[IDENTITY_HEADER]}
        async with self.http.get(self.real_url + META_PATH, headers=headers) as response:
            return web.Response(
                body=await response.read(), status=response.status, content_type="application/json"
            )

    async def _view(self, request: web.Request) -> web.Response:
        if self.slow:
            await asyncio.sleep(5)
        else:
            assert request.transport is not None
            request.transport.close()  # down: the connection is lost before any answer
        return web.json_response({})


@pytest.fixture
async def degraded_gateway(platform: Platform) -> AsyncIterator[str]:
    """A gateway whose activities service is down and whose documents service is slow, once
    it has read what each service declares."""
    down = FailingService(platform.http, platform.urls["activities"], slow=False)
    slow = FailingService(platform.http, platform.urls["documents"], slow=True)
    settings = platform.settings["gateway"]
    assert isinstance(settings, GatewaySettings)
    degraded = settings.model_copy(
        update={
            "activities_url": await down.start(),
            "documents_url": await slow.start(),
            "view_timeout_seconds": 0.5,
        }
    )
    server = TestServer(gateway_app(degraded), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")

    async def ready() -> bool:
        async with platform.http.get(f"{url}/readyz") as response:
            return response.status == 200

    await eventually(ready)
    yield url
    await server.close()
    for stub in (down, slow):
        assert stub.server is not None
        await stub.server.close()


async def test_a_service_down_or_slow_does_not_fail_the_view(
    platform: Platform, admin: Headers, degraded_gateway: str
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Vue dégradée"})
    await made(
        platform, admin, "/api/v1/contacts", {"last_name": "Présent", "account_id": account["id"]}
    )
    async with platform.http.get(
        f"{degraded_gateway}/api/v1/accounts/{account['id']}/view", headers=admin
    ) as response:
        assert response.status == 200
        body = await response.json()
    assert body["account"]["id"] == account["id"]
    assert body["contacts"]["total"] == 1
    assert sorted(body["unavailable"]) == [
        "actions",
        "invoices",
        "opportunities",
        "projects",
        "quotes",
    ]
    assert "actions" not in body


async def test_a_view_read_again_is_served_from_the_cache_until_a_write_changes_it(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Vue en cache"})

    async def served_from_cache() -> Any:
        status, body, headers = await view(platform, admin, account["id"])
        return (body, headers) if status == 200 and headers["X-View-Cache"] == "hit" else None

    cached, headers = await eventually(served_from_cache)
    assert headers["X-SQL-Statements"] == "0"
    assert cached["actions"]["total"] == 0
    _, fresh, headers = await view(platform, admin, account["id"])
    assert (fresh, headers["X-View-Cache"]) == (cached, "hit")
    # A client may ask for a view composed now.
    _, _, headers = await platform.call(
        "GET", f"/api/v1/accounts/{account['id']}/view", {**admin, "Cache-Control": "no-cache"}
    )
    assert headers["X-View-Cache"] == "miss"

    # A write through the gateway: the very next view shows it.
    await made(
        platform,
        admin,
        "/api/v1/actions",
        {"type": "note", "subject": "Nouvelle", "account_id": account["id"]},
    )
    _, after, headers = await view(platform, admin, account["id"])
    assert headers["X-View-Cache"] == "miss"
    assert [a["subject"] for a in after["actions"]["items"]] == ["Nouvelle"]


async def create_behind_the_gateway(
    platform: Platform, collection: str, body: dict[str, Any]
) -> None:
    """Straight to the activities service, as another gateway copy or a consumer would write."""
    identity = Identity(user_id="u-admin", username="admin", role="admin")
    secret = platform.settings["activities"].internal_secret.get_secret_value()
    async with platform.http.post(
        f"{platform.urls['activities']}/api/v1/{collection}",
        json=body,
        headers={IDENTITY_HEADER: sign_identity(identity, secret)},
    ) as response:
        assert response.status == 201, await response.text()


async def test_a_change_made_behind_the_gateway_reaches_a_cached_view_through_the_events(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Vue suivie"})

    async def served_from_cache() -> Any:
        status, _, headers = await view(platform, admin, account["id"])
        return status == 200 and headers["X-View-Cache"] == "hit"

    await eventually(served_from_cache)
    await create_behind_the_gateway(
        platform, "opportunities", {"name": "Affaire d'ailleurs", "account_id": account["id"]}
    )

    async def shows_it() -> Any:
        _, body, _ = await view(platform, admin, account["id"])
        return body if body["opportunities"]["total"] == 1 else None

    body = await eventually(shows_it)
    assert body["opportunities"]["items"][0]["name"] == "Affaire d'ailleurs"


async def test_while_the_event_feed_is_down_views_are_composed_every_time(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Vue sans fil"})

    async def cache_says(expected: str) -> bool:
        status, _, headers = await view(platform, admin, account["id"])
        return status == 200 and headers["X-View-Cache"] == expected

    await eventually(lambda: cache_says("hit"))
    await platform.gateway_broker.cut()
    try:
        await eventually(lambda: cache_says("miss"))
        # A change whose event the gateway cannot hear now: the view shows it all the same.
        await create_behind_the_gateway(
            platform, "projects", {"name": "Projet pendant la coupure", "account_id": account["id"]}
        )
        _, body, headers = await view(platform, admin, account["id"])
        assert headers["X-View-Cache"] == "miss"
        assert [p["name"] for p in body["projects"]["items"]] == ["Projet pendant la coupure"]
        assert not await cache_says("hit")
    finally:
        await platform.gateway_broker.restore()
    await eventually(lambda: cache_says("hit"), within=20)  # kept again once the feed is back
    _, body, _ = await view(platform, admin, account["id"])
    assert body["projects"]["total"] == 1


async def test_derived_data_reaches_a_cached_view_through_its_own_event(
    platform: Platform, admin: Headers
) -> None:
    """The geocoder's location never changes the account's version: only its account.located
    event (a derived event the accounts service declares) can tell the gateway's cache."""
    lyon = {"street": "2 rue Mercière", "postal_code": "69002", "city": "Lyon"}
    account = await made(
        platform, admin, "/api/v1/accounts", {"name": "Vue localisée", "address": lyon}
    )
    record = f"/api/v1/accounts/{account['id']}"

    async def located() -> Any:
        status, body, _ = await platform.call("GET", record, admin)
        return status == 200 and body["location"]

    found = await eventually(located)
    conn = await asyncpg.connect(isolated_database_url("accounts"))
    try:
        # The location forgotten in the database, and kept out of the sweep's reach for now:
        # no event says so, the cached view will not show it.
        await conn.execute(
            "UPDATE accounts SET lat = NULL, lon = NULL, location_precision = NULL, "
            "location_source = NULL, location_status = 'pending', located_address = NULL, "
            "location_requested_at = now() + interval '1 hour' WHERE id = $1",
            uuid.UUID(account["id"]),
        )

        async def cached_without_location() -> Any:
            status, body, headers = await view(platform, admin, account["id"])
            return (
                status == 200
                and headers["X-View-Cache"] == "hit"
                and not body["account"]["location"]
            )

        await eventually(cached_without_location)
        # The sweep locates it again: its only event is account.located (version unchanged).
        await conn.execute(
            "UPDATE accounts SET location_requested_at = now() - interval '1 hour' WHERE id = $1",
            uuid.UUID(account["id"]),
        )
    finally:
        await conn.close()

    async def shows_location() -> Any:
        _, body, _ = await view(platform, admin, account["id"])
        return body["account"]["location"]

    assert await eventually(shows_location, within=20) == found
    _, body, _ = await platform.call("GET", record, admin)
    assert body["version"] == account["version"]
