"""Actions, opportunities and projects through the gateway, with their references checked
against the accounts service's truth (kept as a replica fed by events)."""

from __future__ import annotations

from typing import Any

from tests.platform import Platform
from tests.support import eventually

Headers = dict[str, str]
NOBODY = "00000000-0000-4000-8000-000000000000"


async def post(platform: Platform, headers: Headers, path: str, body: Any) -> tuple[int, Any]:
    status, response, _ = await platform.call("POST", path, headers, json=body)
    return status, response


async def created(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, response = await post(platform, headers, path, body)
    assert status == 201, response
    return response  # type: ignore[no-any-return]


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def an_account(platform: Platform, headers: Headers, name: str) -> dict[str, Any]:
    return await created(platform, headers, "/api/v1/accounts", {"name": name})


async def test_an_action_for_an_account_created_a_moment_ago_succeeds(
    platform: Platform, admin: Headers
) -> None:
    for attempt in range(5):  # no wait between the two calls: the replica may lag; never fails
        account = await an_account(platform, admin, f"Nouveau client {attempt}")
        action = await created(
            platform, admin, "/api/v1/actions",
            {"type": "call", "subject": "Premier appel", "account_id": account["id"],
             "occurred_at": "2026-11-28T09:30:00Z", "direction": "out", "duration_seconds": 95},
        )  # fmt: skip
        assert action["status"] == "done"  # it happened: done unless said otherwise
        assert action["account_id"] == account["id"]


async def test_references_and_rules_of_an_action(platform: Platform, admin: Headers) -> None:
    account = await an_account(platform, admin, "Atelier Bérénice")
    other = await an_account(platform, admin, "Garage Rousseau")
    contact = await created(
        platform, admin, "/api/v1/contacts", {"last_name": "Bérénice", "account_id": account["id"]}
    )
    status, problem = await post(
        platform, admin, "/api/v1/actions", {"type": "note", "subject": "Sans lien"}
    )
    assert (status, fields(problem)) == (422, {"account_id"})
    status, problem = await post(
        platform, admin, "/api/v1/actions",
        {"type": "call", "subject": "Mauvais contact", "account_id": other["id"], "contact_id": contact["id"]},
    )  # fmt: skip
    assert (status, fields(problem)) == (422, {"contact_id"})
    status, problem = await post(
        platform, admin, "/api/v1/actions",
        {"type": "note", "subject": "x", "account_id": account["id"], "direction": "in", "duration_seconds": 3},
    )  # fmt: skip
    assert (status, fields(problem)) == (422, {"direction", "duration_seconds"})
    status, problem = await post(
        platform, admin, "/api/v1/actions",
        {"type": "fax", "subject": " ", "account_id": NOBODY, "due_at": "demain", "status": "?"},
    )  # fmt: skip
    assert (status, fields(problem)) == (422, {"type", "subject", "due_at", "status"})
    status, problem = await post(
        platform,
        admin,
        "/api/v1/actions",
        {"type": "task", "subject": "Relancer", "account_id": NOBODY},
    )
    assert (status, fields(problem)) == (422, {"account_id"})
    # Linked to a contact only: it also shows on the contact's account.
    task = await created(
        platform, admin, "/api/v1/actions",
        {"type": "task", "subject": "Relancer", "contact_id": contact["id"], "due_at": "2026-12-01T09:00:00+01:00"},
    )  # fmt: skip
    assert (task["account_id"], task["status"], task["due_at"]) == (
        account["id"], "planned", "2026-12-01T08:00:00Z",
    )  # fmt: skip


async def test_opportunities_take_their_probability_from_the_stage_and_record_closing(
    platform: Platform, admin: Headers
) -> None:
    account = await an_account(platform, admin, "Brasserie Saint-Éloi")
    deal = await created(
        platform, admin, "/api/v1/opportunities",
        {"name": "Rénovation salle", "account_id": account["id"], "amount": "12500.5"},
    )  # fmt: skip
    assert (deal["stage"], deal["probability"], deal["amount"], deal["closed_at"]) == (
        "prospection", 10, "12500.50", None,
    )  # fmt: skip
    path = f"/api/v1/opportunities/{deal['id']}"
    status, _, _ = await platform.call("PATCH", path, admin, json={"stage": "negociation"})
    status, won, _ = await platform.call("PATCH", path, admin, json={"stage": "gagnee"})
    assert (status, won["probability"]) == (200, 100)
    assert won["closed_at"] is not None
    status, reopened, _ = await platform.call(
        "PATCH", path, admin, json={"stage": "proposition", "probability": 60}
    )
    assert (reopened["probability"], reopened["closed_at"]) == (60, None)
    status, problem, _ = await platform.call(
        "PATCH", path, admin, json={"probability": 101, "stage": "gagnée"}
    )
    assert (status, fields(problem)) == (422, {"probability", "stage"})
    status, problem, _ = await platform.call(
        "PATCH", path, admin, json={"closed_at": "2026-01-01T00:00:00Z"}
    )
    assert (status, fields(problem)) == (422, {"closed_at"})
    status, stages, _ = await platform.call("GET", "/api/v1/picklists/opportunity_stage", admin)
    assert [s["label"] for s in stages["values"]][-2:] == ["Gagnée", "Perdue"]


async def test_projects_and_links_stay_within_one_account(
    platform: Platform, admin: Headers
) -> None:
    account = await an_account(platform, admin, "Domaine du Chêne")
    other = await an_account(platform, admin, "Cave Voisine")
    deal = await created(
        platform, admin, "/api/v1/opportunities", {"name": "Vendanges", "account_id": account["id"]}
    )
    foreign = await created(
        platform, admin, "/api/v1/opportunities", {"name": "Autre", "account_id": other["id"]}
    )
    status, problem = await post(
        platform, admin, "/api/v1/projects",
        {"name": "Chai", "account_id": account["id"], "start_date": "2026-12-10", "end_date": "2026-12-01"},
    )  # fmt: skip
    assert (status, fields(problem)) == (422, {"end_date"})
    status, problem = await post(
        platform,
        admin,
        "/api/v1/projects",
        {"name": "Chai", "account_id": account["id"], "opportunity_id": foreign["id"]},
    )
    assert (status, fields(problem)) == (422, {"opportunity_id"})
    project = await created(
        platform, admin, "/api/v1/projects",
        {"name": "Chai", "account_id": account["id"], "opportunity_id": deal["id"], "budget": "8000"},
    )  # fmt: skip
    assert (project["status"], project["budget"]) == ("a_realiser", "8000.00")
    status, problem = await post(
        platform, admin, "/api/v1/actions",
        {"type": "meeting", "subject": "Visite", "account_id": account["id"], "project_id": project["id"],
         "opportunity_id": foreign["id"]},
    )  # fmt: skip
    assert (status, fields(problem)) == (422, {"opportunity_id"})
    meeting = await created(
        platform, admin, "/api/v1/actions",
        {"type": "meeting", "subject": "Visite", "account_id": account["id"], "project_id": project["id"],
         "opportunity_id": deal["id"], "duration_seconds": 3600},
    )  # fmt: skip
    status, page, _ = await platform.call(
        "GET", "/api/v1/actions", admin, params={"project_id": project["id"]}
    )
    assert [a["id"] for a in page["items"]] == [meeting["id"]]


async def test_lists_by_account_newest_first_with_filters(
    platform: Platform, admin: Headers
) -> None:
    account = await an_account(platform, admin, "Pharmacie Centrale")
    for day, kind in [(1, "call"), (3, "email"), (2, "call")]:
        await created(
            platform, admin, "/api/v1/actions",
            {"type": kind, "subject": f"Jour {day}", "account_id": account["id"], "occurred_at": f"2026-11-0{day}T10:00:00Z"},
        )  # fmt: skip
    status, page, _ = await platform.call(
        "GET", "/api/v1/actions", admin, params={"account_id": account["id"]}
    )
    assert [a["subject"] for a in page["items"]] == ["Jour 3", "Jour 2", "Jour 1"]
    status, page, _ = await platform.call(
        "GET",
        "/api/v1/actions",
        admin,
        params={"account_id": account["id"], "type": "call", "limit": "1"},
    )
    assert [a["subject"] for a in page["items"]] == ["Jour 2"]
    status, rest, _ = await platform.call(
        "GET", "/api/v1/actions", admin,
        params={"account_id": account["id"], "type": "call", "limit": "1", "cursor": page["next_cursor"]},
    )  # fmt: skip
    assert [a["subject"] for a in rest["items"]] == ["Jour 1"]
    for params, field in [
        ({"account_id": "x"}, "account_id"),
        ({"type": "fax"}, "type"),
        ({"sort": "subject"}, "sort"),
    ]:
        status, problem, _ = await platform.call("GET", "/api/v1/actions", admin, params=params)
        assert (status, fields(problem)) == (422, {field})


async def test_record_conventions_and_audit(platform: Platform, admin: Headers) -> None:
    account = await an_account(platform, admin, "Imprimerie Nicolas")
    action = await created(
        platform,
        admin,
        "/api/v1/actions",
        {"type": "email", "subject": "Devis", "account_id": account["id"]},
    )
    path = f"/api/v1/actions/{action['id']}"
    status, _, headers = await platform.call("GET", path, admin)
    assert headers["ETag"] == '"1"'
    status, _, _ = await platform.call(
        "PATCH", path, {**admin, "If-Match": '"1"'}, json={"status": "done"}
    )
    assert status == 200
    status, _, _ = await platform.call(
        "PATCH", path, {**admin, "If-Match": '"1"'}, json={"status": "cancelled"}
    )
    assert status == 412
    assert (await platform.call("DELETE", path, admin))[0] == 204
    assert (await platform.call("GET", path, admin))[0] == 404
    assert (await platform.call("POST", f"{path}/restore", admin))[0] == 200

    async def actions() -> list[str] | None:
        status, trail, _ = await platform.call("GET", f"{path}/audit", admin)
        found = [e["action"] for e in trail] if status == 200 else []
        return found if len(found) == 4 else None

    assert await eventually(actions) == ["restored", "deleted", "updated", "created"]


async def test_trashing_an_account_keeps_its_activities(platform: Platform, admin: Headers) -> None:
    account = await an_account(platform, admin, "Ferme des Tilleuls")
    action = await created(
        platform,
        admin,
        "/api/v1/actions",
        {"type": "note", "subject": "Récolte", "account_id": account["id"]},
    )
    assert (await platform.call("DELETE", f"/api/v1/accounts/{account['id']}", admin))[0] == 204
    status, kept, _ = await platform.call("GET", f"/api/v1/actions/{action['id']}", admin)
    assert (status, kept["account_id"]) == (200, account["id"])

    async def refused() -> bool:
        status, _ = await post(
            platform,
            admin,
            "/api/v1/actions",
            {"type": "note", "subject": "x", "account_id": account["id"]},
        )
        return status == 422

    assert await eventually(refused)  # once the trashing reached the replica
    assert (await platform.call("POST", f"/api/v1/accounts/{account['id']}/restore", admin))[
        0
    ] == 200
    status, page, _ = await platform.call(
        "GET", "/api/v1/actions", admin, params={"account_id": account["id"]}
    )
    assert action["id"] in [a["id"] for a in page["items"]]
