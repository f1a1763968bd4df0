"""Read your writes across services: a change the gateway acknowledged is usable at once in the
next call, even when that call reaches a service whose replica has not had the event yet.

Each scenario is repeated: the race (the event is still in flight when the next call arrives)
is lost on most rounds without the gateway's X-CRM-Seen header, so a single round would prove
little. Between rounds nothing waits for the events except where the test says so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp

from services.common.identity import HEADER, Identity, sign_identity
from services.common.versions import SEEN_HEADER
from tests.platform import Platform
from tests.support import INTERNAL_SECRET, eventually, word_template

Headers = dict[str, str]
ROUNDS = 20


async def post(platform: Platform, headers: Headers, path: str, body: Any) -> tuple[int, Any]:
    status, response, _ = await platform.call("POST", path, headers, json=body)
    return status, response


async def created(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, response = await post(platform, headers, path, body)
    assert status == 201, response
    return response  # type: ignore[no-any-return]


def messages(problem: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem["errors"]}


async def trash(platform: Platform, headers: Headers, path: str) -> None:
    status, body, _ = await platform.call("DELETE", path, headers)
    assert status == 204, body


async def restore(platform: Platform, headers: Headers, path: str) -> None:
    status, body, _ = await platform.call("POST", f"{path}/restore", headers)
    assert status == 200, body
    status, body, _ = await platform.call("GET", path, headers)
    assert status == 200, body


async def refused_once_replicated(
    platform: Platform, headers: Headers, path: str, body: dict[str, Any], field: str
) -> None:
    """Wait until ``path`` refuses ``body`` on ``field``: the replica holds the trashing (and no
    seen version could have helped it: the test sends the write before the trashing's event)."""

    async def refused() -> bool:
        status, problem = await post(platform, headers, path, body)
        assert status in (201, 422), problem
        return status == 422 and field in messages(problem)

    await eventually(refused)


async def test_a_restored_contact_is_referenced_at_once(platform: Platform, admin: Headers) -> None:
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Ébénisterie Morel"})
    contact = await created(
        platform, admin, "/api/v1/contacts", {"last_name": "Morel", "account_id": account["id"]}
    )
    path = f"/api/v1/contacts/{contact['id']}"
    action = {"type": "note", "subject": "Rappel", "contact_id": contact["id"]}
    for attempt in range(ROUNDS):
        await trash(platform, admin, path)
        await refused_once_replicated(platform, admin, "/api/v1/actions", action, "contact_id")
        await restore(platform, admin, path)
        status, body = await post(platform, admin, "/api/v1/actions", action)
        assert status == 201, (attempt, body)
        assert body["account_id"] == account["id"]


async def test_a_restored_account_is_referenced_at_once(platform: Platform, admin: Headers) -> None:
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Scierie Vautrin"})
    path = f"/api/v1/accounts/{account['id']}"
    deal = {"name": "Parquet", "account_id": account["id"]}
    for attempt in range(ROUNDS):
        await trash(platform, admin, path)
        await refused_once_replicated(platform, admin, "/api/v1/opportunities", deal, "account_id")
        await restore(platform, admin, path)
        status, body = await post(platform, admin, "/api/v1/opportunities", deal)
        assert status == 201, (attempt, body)


async def test_a_trashed_account_is_refused_at_once(platform: Platform, admin: Headers) -> None:
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Tuilerie Gauthier"})
    path = f"/api/v1/accounts/{account['id']}"
    deal = {"name": "Toiture", "account_id": account["id"]}
    for attempt in range(ROUNDS):
        await created(platform, admin, "/api/v1/opportunities", deal)  # live: accepted
        await trash(platform, admin, path)
        status, problem = await post(platform, admin, "/api/v1/opportunities", deal)
        assert status == 422, (attempt, problem)
        assert messages(problem) == {"account_id": "Ce compte est dans la corbeille."}
        await restore(platform, admin, path)


async def test_an_account_created_a_moment_ago_is_referenced_at_once(
    platform: Platform, admin: Headers
) -> None:
    for attempt in range(ROUNDS):
        account = await created(platform, admin, "/api/v1/accounts", {"name": f"Client {attempt}"})
        action = await created(
            platform,
            admin,
            "/api/v1/actions",
            {"type": "task", "subject": "Accueillir", "account_id": account["id"]},
        )
        assert action["account_id"] == account["id"]


async def test_a_quote_on_a_restored_account_is_accepted_at_once(
    platform: Platform, admin: Headers
) -> None:
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Forge Lambert"})
    path = f"/api/v1/accounts/{account['id']}"
    quote = {
        "account_id": account["id"],
        "lines": [
            {"description": "Grille", "quantity": "1", "unit_price": "120.00", "vat_rate": "20"}
        ],
    }
    for attempt in range(5):
        await trash(platform, admin, path)
        await refused_once_replicated(platform, admin, "/api/v1/quotes", quote, "account_id")
        await restore(platform, admin, path)
        status, body = await post(platform, admin, "/api/v1/quotes", quote)
        assert status == 201, (attempt, body)


async def test_a_restored_account_is_merged_at_once(platform: Platform, admin: Headers) -> None:
    """The account is named in the path, the merge is served by documents: same guarantee."""
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Moulin Garnier"})
    form = aiohttp.FormData()
    form.add_field("name", "Lettre de retour")
    form.add_field("kind", "account")
    form.add_field(
        "file",
        word_template("Bonjour {{ compte.name }}"),
        filename="retour.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    async with platform.http.post(
        f"{platform.gateway}/api/v1/templates", data=form, headers=admin
    ) as response:
        template = await response.json()
        assert response.status == 201, template
    path = f"/api/v1/accounts/{account['id']}"

    async def merge() -> int:
        async with platform.http.post(
            f"{platform.gateway}{path}/mail-merge",
            json={"template_id": template["id"]},
            headers=admin,
        ) as response:
            await response.read()
            return response.status

    for attempt in range(5):
        await trash(platform, admin, path)

        async def refused() -> bool:
            return await merge() == 404

        await eventually(refused)
        await restore(platform, admin, path)
        assert await merge() == 200, attempt


async def test_a_version_the_replica_never_reaches_answers_503_with_retry_after(
    platform: Platform, admin: Headers
) -> None:
    """Called directly, as the gateway would, with a version ahead of any event: the service
    waits its bound, then asks the client to retry rather than answer from a stale copy."""
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Verrerie Adam"})
    identity = sign_identity(Identity("0", "admin", "admin"), INTERNAL_SECRET)
    seen = f"account={account['id']}:{account['version'] + 100}"
    started = time.monotonic()
    async with platform.http.post(
        f"{platform.urls['activities']}/api/v1/opportunities",
        json={"name": "Vitrail", "account_id": account["id"]},
        headers={HEADER: identity, SEEN_HEADER: seen},
    ) as response:
        problem = await response.json(content_type=None)
        assert response.status == 503, problem
        assert int(response.headers["Retry-After"]) >= 1
    assert "synchronis" in problem["detail"]
    assert time.monotonic() - started >= 1.0  # it did wait for the version
    # The same call with the version the owner answers is accepted.
    async with platform.http.post(
        f"{platform.urls['activities']}/api/v1/opportunities",
        json={"name": "Vitrail", "account_id": account["id"]},
        headers={HEADER: identity, SEEN_HEADER: f"account={account['id']}:{account['version']}"},
    ) as response:
        assert response.status == 201, await response.text()


PARALLEL = 16  # four times the services' pool (tests.support: db_pool_max 4)


async def test_parallel_restores_then_references_all_pass(
    platform: Platform, admin: Headers
) -> None:
    """Many writes waiting for their replica at once: the waits hold no connection, so the event
    consumer still gets one and brings the replica up to date (before: 503s, the consumer
    starved by writes waiting inside their transactions)."""
    accounts = [
        await created(platform, admin, "/api/v1/accounts", {"name": f"Menuiserie {i}"})
        for i in range(PARALLEL)
    ]
    for account in accounts:
        await trash(platform, admin, f"/api/v1/accounts/{account['id']}")
    for account in accounts:
        deal = {"name": "Escalier", "account_id": account["id"]}
        await refused_once_replicated(platform, admin, "/api/v1/opportunities", deal, "account_id")

    async def restore_then_reference(account: dict[str, Any]) -> tuple[int, Any]:
        status, body, _ = await platform.call(
            "POST", f"/api/v1/accounts/{account['id']}/restore", admin
        )
        assert status == 200, body
        deal = {"name": "Escalier", "account_id": account["id"]}
        return await post(platform, admin, "/api/v1/opportunities", deal)

    results = await asyncio.gather(*(restore_then_reference(a) for a in accounts))
    assert [status for status, _ in results] == [201] * PARALLEL, results


async def test_parallel_writes_naming_unknown_records_are_refused_and_reads_go_on(
    platform: Platform, admin: Headers
) -> None:
    """The owner answers it does not know the ids (version 0): each write is refused from the
    replica at once, holding no connection for a wait, and a read alongside is answered."""
    account = await created(platform, admin, "/api/v1/accounts", {"name": "Charpente Roux"})
    await created(
        platform, admin, "/api/v1/opportunities", {"name": "Auvent", "account_id": account["id"]}
    )

    async def unknown() -> tuple[int, Any]:
        return await post(
            platform,
            admin,
            "/api/v1/opportunities",
            {"name": "Fantôme", "account_id": str(uuid.uuid4())},
        )

    async def read() -> tuple[int, Any]:
        status, body, _ = await platform.call(
            "GET", f"/api/v1/opportunities?account_id={account['id']}", admin
        )
        return status, body

    *refused, (read_status, listed) = await asyncio.gather(
        *(unknown() for _ in range(PARALLEL)), read()
    )
    assert [status for status, _ in refused] == [422] * PARALLEL, refused
    assert all(
        messages(problem) == {"account_id": "Aucun compte ne porte cet identifiant."}
        for _, problem in refused
    )
    assert read_status == 200, listed
    assert [deal["name"] for deal in listed["items"]] == ["Auvent"]


async def test_version_0_is_answered_from_the_replica_at_once(
    platform: Platform, admin: Headers
) -> None:
    """Called directly, as the gateway does for an id the owner does not hold."""
    identity = sign_identity(Identity("0", "admin", "admin"), INTERNAL_SECRET)
    missing = uuid.uuid4()
    async with platform.http.post(
        f"{platform.urls['activities']}/api/v1/opportunities",
        json={"name": "Fantôme", "account_id": str(missing)},
        headers={HEADER: identity, SEEN_HEADER: f"account={missing}:0"},
    ) as response:
        problem = await response.json(content_type=None)
        assert response.status == 422, problem
    assert messages(problem) == {"account_id": "Aucun compte ne porte cet identifiant."}
